/* Atrium — small progressive enhancements. No dependencies; CSP-safe
 * (no inline handlers, no eval). Everything is delegated on `document`
 * so it keeps working for content that htmx swaps in later. */
(function () {
  "use strict";

  var doc = document;
  var root = doc.documentElement;
  root.classList.add("js");

  var POPOVER_SELECTOR = "details.menu[open], details.switcher[open], details.user-menu[open]";
  var MOBILE_QUERY = "(max-width: 640px)";
  var mobile = window.matchMedia ? window.matchMedia(MOBILE_QUERY) : { matches: false };

  function closest(el, selector) {
    return el && el.closest ? el.closest(selector) : null;
  }

  /* ---------- live region for announcements ---------- */
  var live = null;
  function announce(message) {
    if (!live) {
      live = doc.createElement("div");
      live.className = "visually-hidden";
      live.setAttribute("role", "status");
      live.setAttribute("aria-live", "polite");
      doc.body.appendChild(live);
    }
    live.textContent = "";
    window.setTimeout(function () { live.textContent = message; }, 50);
  }

  /* ---------- [data-copy] ---------- */
  function textOf(el) {
    if (el.matches("input, textarea")) return el.value;
    var clone = el.cloneNode(true);
    // Never copy the label of a copy button nested inside the target.
    Array.prototype.forEach.call(clone.querySelectorAll("[data-copy], .copy-btn"), function (b) { b.remove(); });
    return clone.textContent.trim();
  }

  function fallbackCopy(text) {
    var ta = doc.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.className = "visually-hidden";
    doc.body.appendChild(ta);
    ta.select();
    var ok = false;
    try { ok = doc.execCommand("copy"); } catch (e) { ok = false; }
    ta.remove();
    return ok;
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () {
        if (!fallbackCopy(text)) throw new Error("copy failed");
      });
    }
    return fallbackCopy(text) ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }

  function flashButton(button, label) {
    if (button.dataset.copyOriginal === undefined) {
      button.dataset.copyOriginal = button.textContent;
      if (button.hasAttribute("aria-label")) button.dataset.copyOriginalLabel = button.getAttribute("aria-label");
    }
    button.textContent = label;
    if (button.dataset.copyOriginalLabel !== undefined) button.setAttribute("aria-label", label);
    window.clearTimeout(button._copyTimer);
    button._copyTimer = window.setTimeout(function () {
      button.textContent = button.dataset.copyOriginal;
      if (button.dataset.copyOriginalLabel !== undefined) button.setAttribute("aria-label", button.dataset.copyOriginalLabel);
      delete button.dataset.copyOriginal;
      delete button.dataset.copyOriginalLabel;
    }, 2000);
  }

  function selectContents(el) {
    if (el.matches("input, textarea")) { el.select(); return; }
    var range = doc.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  function handleCopy(button, event) {
    var target = doc.getElementById(button.getAttribute("data-copy"));
    if (!target) return;
    event.preventDefault();
    copyText(textOf(target)).then(function () {
      flashButton(button, "Copied");
      announce("Copied to clipboard");
    }, function () {
      selectContents(target);
      flashButton(button, "Press Ctrl+C");
      announce("Copy failed; the text is selected, press Control C to copy it");
    });
  }

  /* ---------- handle slug from name ---------- */
  function slugify(value) {
    return value.toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 40)
      .replace(/-+$/g, "");
  }

  function handleInputsFor(nameInput) {
    if (!nameInput.id) return [];
    return Array.prototype.filter.call(doc.querySelectorAll("input[data-handle-from]"), function (h) {
      return h.getAttribute("data-handle-from") === nameInput.id;
    });
  }

  // Decide once per handle input whether it still follows the name.
  function primeHandle(handle, nameValue) {
    if (handle.dataset.handleAuto !== undefined || handle.dataset.handleEdited !== undefined) return;
    if (handle.value === "" || handle.value === slugify(nameValue)) handle.dataset.handleAuto = handle.value;
    else handle.dataset.handleEdited = "1";
  }

  function onNameFocus(nameInput) {
    handleInputsFor(nameInput).forEach(function (h) { primeHandle(h, nameInput.value); });
  }

  function onNameInput(nameInput) {
    handleInputsFor(nameInput).forEach(function (h) {
      if (h.dataset.handleAuto === undefined && h.dataset.handleEdited === undefined) {
        // Changed without a focus first (autofill): follow only if empty.
        if (h.value === "") h.dataset.handleAuto = ""; else h.dataset.handleEdited = "1";
      }
      if (h.dataset.handleEdited) return;
      h.value = slugify(nameInput.value);
      h.dataset.handleAuto = h.value;
    });
  }

  function onHandleInput(handle) {
    if (handle.value === "") {
      // Clearing the field hands it back to the automatic slug.
      delete handle.dataset.handleEdited;
      handle.dataset.handleAuto = "";
    } else if (handle.value !== handle.dataset.handleAuto) {
      handle.dataset.handleEdited = "1";
      delete handle.dataset.handleAuto;
    }
  }

  /* ---------- dialogs ---------- */
  function openDialog(trigger, event) {
    var dialog = doc.getElementById(trigger.getAttribute("data-dialog-open"));
    if (!dialog || typeof dialog.showModal !== "function") return; // let a link fall back
    event.preventDefault();
    if (!dialog.open) dialog.showModal();
    syncConfirm(dialog);
    var focusTarget = dialog.querySelector("[autofocus]") ||
      dialog.querySelector("input:not([type=hidden]):not([disabled]), select, textarea");
    if (focusTarget) focusTarget.focus();
  }

  function closeDialog(trigger, event) {
    var dialog = closest(trigger, "dialog");
    if (!dialog) return;
    event.preventDefault();
    dialog.close();
  }

  /* ---------- type-to-confirm ---------- */
  function submitButtonsOf(form) {
    if (!form) return [];
    var buttons = Array.prototype.slice.call(form.querySelectorAll("button:not([type]), button[type=submit], input[type=submit]"));
    if (form.id) {
      Array.prototype.forEach.call(doc.querySelectorAll("[form]"), function (b) {
        if (b.getAttribute("form") === form.id && b.matches("button:not([type]), button[type=submit], input[type=submit]")) buttons.push(b);
      });
    }
    return buttons;
  }

  function confirmMatches(input) {
    return input.value === input.getAttribute("data-confirm-match");
  }

  function updateConfirm(input) {
    var ok = confirmMatches(input);
    submitButtonsOf(input.form).forEach(function (b) { b.disabled = !ok; });
  }

  function syncConfirm(scope) {
    if (!scope || !scope.querySelectorAll) return;
    if (scope.matches && scope.matches("input[data-confirm-match]")) updateConfirm(scope);
    Array.prototype.forEach.call(scope.querySelectorAll("input[data-confirm-match]"), updateConfirm);
  }

  /* ---------- popovers (details menus) ---------- */
  function navToggles() {
    return doc.querySelectorAll("details.nav-toggle");
  }

  function closePopovers(except) {
    Array.prototype.forEach.call(doc.querySelectorAll(POPOVER_SELECTOR), function (d) {
      if (!except || !d.contains(except)) d.removeAttribute("open");
    });
    if (mobile.matches) {
      Array.prototype.forEach.call(navToggles(), function (d) {
        if (d.open && (!except || !d.contains(except))) d.removeAttribute("open");
      });
    }
  }

  function syncNavToggle(initial) {
    Array.prototype.forEach.call(navToggles(), function (d) {
      if (!mobile.matches) d.setAttribute("open", "");
      else if (initial || d.open) d.removeAttribute("open");
    });
  }

  /* A menu inside a horizontally scrolling table would be clipped by it:
   * while open, pin its panel to the viewport instead (CSSOM, CSP-safe). */
  function placeMenu(d) {
    var panel = d.querySelector(":scope > ul");
    var summary = d.querySelector(":scope > summary");
    if (!panel || !summary || !closest(d, ".table-wrap")) return;
    var r = summary.getBoundingClientRect();
    var vw = root.clientWidth, vh = root.clientHeight;
    panel.classList.add("menu-fixed");
    panel.style.right = Math.max(8, vw - r.right) + "px";
    var h = panel.offsetHeight;
    var top = r.bottom + 4;
    if (top + h > vh - 8 && r.top - 4 - h > 8) top = r.top - 4 - h;
    panel.style.top = top + "px";
  }

  function replaceMenus() {
    Array.prototype.forEach.call(doc.querySelectorAll("ul.menu-fixed"), function (panel) {
      var d = panel.parentElement;
      if (d && d.open) placeMenu(d);
    });
  }

  /* ---------- event wiring ---------- */
  doc.addEventListener("click", function (event) {
    var t = event.target;
    if (!(t instanceof Element)) return;

    var copy = closest(t, "[data-copy]");
    if (copy) handleCopy(copy, event);

    var opener = closest(t, "[data-dialog-open]");
    if (opener) openDialog(opener, event);

    var closer = closest(t, "[data-dialog-close]");
    if (closer) closeDialog(closer, event);

    // Outside click closes open menus (a click inside keeps its own open).
    closePopovers(t);

    // On a phone, following a nav link collapses the menu (htmx-boosted nav).
    if (mobile.matches && closest(t, "details.nav-toggle a[href]")) {
      closest(t, "details.nav-toggle").removeAttribute("open");
    }
    // Choosing an item in a menu closes that menu.
    var item = closest(t, "details.menu li > a, details.menu li > button");
    if (item) closest(item, "details.menu").removeAttribute("open");
  });

  doc.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" && event.key !== "Esc") return;
    var open = doc.querySelectorAll(POPOVER_SELECTOR + (mobile.matches ? ", details.nav-toggle[open]" : ""));
    if (!open.length) return;
    var active = doc.activeElement;
    Array.prototype.forEach.call(open, function (d) {
      var hadFocus = active && d.contains(active);
      d.removeAttribute("open");
      var summary = d.querySelector("summary");
      if (hadFocus && summary) summary.focus();
    });
    event.preventDefault(); // keep an enclosing dialog open this time
  });

  // Keep a pinned menu next to its button while the page or table scrolls.
  window.addEventListener("scroll", replaceMenus, true);
  window.addEventListener("resize", replaceMenus);

  // Opening one menu closes the others. `toggle` does not bubble: capture it.
  doc.addEventListener("toggle", function (event) {
    var d = event.target;
    if (!(d instanceof Element) || !d.matches("details.menu, details.switcher, details.user-menu")) return;
    if (!d.open) {
      var pinned = d.querySelector(":scope > ul.menu-fixed");
      if (pinned) { pinned.classList.remove("menu-fixed"); pinned.style.top = ""; pinned.style.right = ""; }
      return;
    }
    Array.prototype.forEach.call(doc.querySelectorAll(POPOVER_SELECTOR), function (other) {
      if (other !== d && !other.contains(d) && !d.contains(other)) other.removeAttribute("open");
    });
    if (d.matches("details.menu")) placeMenu(d);
    var search = d.matches(".switcher") && d.querySelector(".switcher-panel input[type=search]");
    if (search && !mobile.matches) search.focus();
  }, true);

  doc.addEventListener("focusin", function (event) {
    var t = event.target;
    if (t instanceof HTMLInputElement && t.id) onNameFocus(t);
  });

  doc.addEventListener("input", function (event) {
    var t = event.target;
    if (!(t instanceof HTMLInputElement)) return;
    if (t.hasAttribute("data-handle-from")) onHandleInput(t);
    if (t.id) onNameInput(t);
    if (t.hasAttribute("data-confirm-match")) updateConfirm(t);
  });

  doc.addEventListener("change", function (event) {
    var t = event.target;
    if (!(t instanceof HTMLSelectElement) || !autoSubmits(t)) return;
    if (window.htmx || !t.form) return; // htmx handles it via hx-trigger
    if (typeof t.form.requestSubmit === "function") t.form.requestSubmit();
    else t.form.submit();
  });

  doc.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    var guard = form.querySelector("input[data-confirm-match]");
    if (guard && !confirmMatches(guard)) {
      event.preventDefault();
      event.stopPropagation(); // capture phase: htmx's listener on the form never sees it
      updateConfirm(guard);
      guard.focus();
    }
  }, true);

  // Filter the workspace switcher list as the user types.
  doc.addEventListener("input", function (event) {
    var t = event.target;
    if (!(t instanceof HTMLInputElement) || t.type !== "search") return;
    var panel = closest(t, ".switcher-panel");
    if (!panel || t.hasAttribute("hx-get") || t.hasAttribute("hx-post")) return;
    var q = t.value.trim().toLowerCase();
    Array.prototype.forEach.call(panel.querySelectorAll(".switcher-group"), function (group) {
      var shown = 0;
      Array.prototype.forEach.call(group.querySelectorAll("li"), function (li) {
        var match = !q || li.textContent.toLowerCase().indexOf(q) !== -1;
        li.hidden = !match;
        if (match) shown++;
      });
      group.hidden = shown === 0;
    });
  });

  // Content swapped in by htmx: set initial state of new confirm inputs.
  doc.addEventListener("htmx:load", function (event) { syncConfirm(event.target); });

  /* ---------- what an htmx change did (web::flash): one status line in #flash ---------- */
  doc.addEventListener("atrium:flash", function (event) {
    var region = doc.getElementById("flash");
    var text = event.detail && event.detail.value;
    if (!region || typeof text !== "string") return;
    var line = doc.createElement("div");
    line.className = "alert alert-success";
    line.setAttribute("role", "status");
    line.textContent = text;
    region.replaceChildren(line);
  });

  /* ---------- htmx changes: busy while in flight, put back when not made ---------- */
  // A change (any request but a GET: searches and pickers stay typeable) marks its form
  // busy (aria-busy; atrium.css shows a spinner) and disables the form's controls until
  // the answer arrives, so it cannot be sent twice. When the change was not made (an error
  // answer, e.g. "You were signed out", or no answer at all), a select, checkbox or radio
  // shows its saved value again instead of the unsaved one; typed text is kept to retry.
  function busyScope(elt) { return elt ? (closest(elt, "form") || elt) : null; }
  function controlsOf(scope) {
    if (scope.matches("input, select, textarea, button")) return [scope];
    return Array.prototype.slice.call(scope.querySelectorAll("input, select, textarea, button"));
  }
  function isChange(detail) {
    var verb = (detail.requestConfig && detail.requestConfig.verb) || "get";
    return verb.toLowerCase() !== "get";
  }
  function putBack(c) {
    if (c instanceof HTMLSelectElement) {
      Array.prototype.forEach.call(c.options, function (o) { o.selected = o.defaultSelected; });
    } else if (c instanceof HTMLInputElement && (c.type === "checkbox" || c.type === "radio")) {
      c.checked = c.defaultChecked;
    }
  }
  doc.addEventListener("htmx:beforeRequest", function (event) {
    if (!isChange(event.detail)) return;
    var scope = busyScope(event.detail.elt);
    if (!scope || scope.getAttribute("aria-busy") === "true") return;
    scope.setAttribute("aria-busy", "true");
    var focused = doc.activeElement;
    if (focused && scope.contains(focused) && focused.id) scope.setAttribute("data-busy-focus", focused.id);
    controlsOf(scope).forEach(function (c) {
      if (!c.disabled) { c.disabled = true; c.setAttribute("data-busy-disabled", ""); }
    });
  });
  doc.addEventListener("htmx:afterRequest", function (event) {
    if (!isChange(event.detail)) return;
    var scope = busyScope(event.detail.elt);
    if (!scope || !scope.isConnected) return;
    scope.removeAttribute("aria-busy");
    controlsOf(scope).forEach(function (c) {
      if (c.hasAttribute("data-busy-disabled")) { c.disabled = false; c.removeAttribute("data-busy-disabled"); }
      if (!event.detail.successful) putBack(c);
    });
    var focusId = scope.getAttribute("data-busy-focus");
    scope.removeAttribute("data-busy-focus");
    var again = focusId && doc.getElementById(focusId);
    if (again && (doc.activeElement === doc.body || !doc.activeElement)) again.focus();
  });

  /* ---------- dialogs (#24.1): one confirmation dialog for every destructive action ---------- */
  // A form, link or button marked data-confirm="Question?" (with optional data-confirm-detail,
  // data-confirm-button="Remove member" and data-confirm-typed="<handle>") asks in the page's
  // one <dialog id="confirm-dialog"> (templates/base.html) before it goes ahead: focus moves
  // into the dialog and stays there (Tab cycles), Escape or Cancel closes it and changes
  // nothing, focus returns to the control that opened it; Confirm submits the original form
  // (htmx or plain). A <details class="confirm"> is the no-JavaScript fallback around such a
  // form: its summary opens the dialog instead; [data-confirm-for=<form id>] opens it for
  // that form (the workspace's three-dot "Delete"); a[data-confirm-post] is POSTed to its
  // href (its GET address is the no-JavaScript confirmation page).
  var confirming = null; // { source, opener, submitter }

  function confirmParts() {
    var dialog = doc.getElementById("confirm-dialog");
    if (!dialog || typeof dialog.showModal !== "function") return null;
    return {
      dialog: dialog,
      title: doc.getElementById("confirm-dialog-title"),
      detail: doc.getElementById("confirm-dialog-detail"),
      typed: doc.getElementById("confirm-dialog-typed"),
      handle: doc.getElementById("confirm-dialog-handle"),
      input: doc.getElementById("confirm-dialog-input"),
      cancel: doc.getElementById("confirm-dialog-cancel"),
      ok: doc.getElementById("confirm-dialog-ok")
    };
  }

  // The question, detail and button's label may be set once on a container (a table's
  // <tbody>): "{2}" there stands for the text of the row's second cell.
  function confirmAttr(source, name) {
    var holder = source.hasAttribute(name) ? source : closest(source, "[" + name + "]");
    var text = holder ? holder.getAttribute(name) : "";
    var row = holder !== source && closest(source, "tr");
    if (!row) return text;
    return text.replace(/\{(\d)\}/g, function (all, n) {
      var cell = row.cells[Number(n) - 1];
      return cell ? cell.textContent.trim() : all;
    });
  }

  function askConfirm(source, opener, submitter) {
    var d = confirmParts();
    if (!d) return false;
    var typed = source.getAttribute("data-confirm-typed") || "";
    var detail = confirmAttr(source, "data-confirm-detail");
    d.title.textContent = confirmAttr(source, "data-confirm") || "Are you sure?";
    d.detail.textContent = detail;
    d.detail.hidden = !detail;
    d.ok.textContent = confirmAttr(source, "data-confirm-button") || "Confirm";
    d.typed.hidden = !typed;
    d.handle.textContent = typed;
    d.input.value = "";
    d.ok.disabled = !!typed;
    confirming = { source: source, opener: opener, submitter: submitter };
    if (!d.dialog.open) d.dialog.showModal();
    (typed ? d.input : d.cancel).focus();
    return true;
  }

  function endConfirm() {
    var d = confirmParts();
    if (d && d.dialog.open) d.dialog.close();
  }

  // A select saves itself on change when marked data-autosubmit or inside a
  // [data-row-forms] container (the members table: its rows carry no per-row markers, so a
  // page of 50 rows stays light, issue #24 point 10).
  function autoSubmits(select) {
    return select.hasAttribute("data-autosubmit") || !!closest(select, "[data-row-forms]");
  }

  // A link that is POSTed (after the dialog) instead of followed: a[data-confirm-post], or any
  // link in a [data-row-forms] container (its GET address is the no-JavaScript confirmation).
  function isPostLink(el) {
    return el instanceof HTMLAnchorElement &&
      (el.hasAttribute("data-confirm-post") || !!closest(el, "[data-row-forms]"));
  }

  function postLink(a) {
    var url = a.getAttribute("href");
    var row = closest(a, "tr");
    if (window.htmx && row) {
      window.htmx.ajax("POST", url, { source: a, target: row, swap: "outerHTML" });
      return;
    }
    var form = doc.createElement("form");
    form.method = "post";
    form.action = url;
    var token = doc.createElement("input");
    token.type = "hidden";
    token.name = "csrf_token";
    try {
      var headers = JSON.parse(doc.body.getAttribute("hx-headers") || "{}");
      Object.keys(headers).forEach(function (k) { if (/csrf/i.test(k)) token.value = headers[k]; });
    } catch (e) { /* the server refuses the form without its token */ }
    form.appendChild(token);
    doc.body.appendChild(form);
    form.submit();
  }

  function proceedConfirm() {
    var d = confirmParts();
    var st = confirming;
    if (!d || !st) return;
    var typed = st.source.getAttribute("data-confirm-typed");
    if (typed && d.input.value !== typed) { d.input.focus(); return; }
    confirming = null;
    st.opener = null; // the action goes ahead: focus follows it, not the opener
    d.dialog.close("confirm");
    var src = st.source;
    if (src instanceof HTMLFormElement) {
      var field = typed && src.elements.namedItem("confirm_handle");
      if (field) field.value = d.input.value;
      src._atriumConfirmed = true;
      var by = st.submitter && st.submitter.form === src ? st.submitter : null;
      if (typeof src.requestSubmit === "function") src.requestSubmit(by);
      else src.submit();
    } else if (isPostLink(src)) {
      postLink(src);
    } else {
      src._atriumConfirmed = true;
      src.click();
    }
  }

  doc.addEventListener("click", function (event) {
    var t = event.target;
    if (!(t instanceof Element)) return;
    if (closest(t, "#confirm-dialog")) {
      if (closest(t, "#confirm-dialog-cancel")) { event.preventDefault(); endConfirm(); }
      return;
    }
    var summary = closest(t, "details.confirm > summary");
    var forId = closest(t, "[data-confirm-for]");
    var direct = closest(t, "a[data-confirm], button[data-confirm], a[data-confirm-post], [data-row-forms] a");
    var source = null, opener = null;
    if (summary) {
      source = summary.parentElement.querySelector("[data-confirm]");
      opener = summary;
    } else if (forId) {
      source = doc.getElementById(forId.getAttribute("data-confirm-for"));
      opener = forId;
    } else if (direct) {
      if (direct._atriumConfirmed) { direct._atriumConfirmed = false; return; }
      source = direct;
      opener = direct;
    }
    if (!source || !confirmAttr(source, "data-confirm")) return;
    if (askConfirm(source, opener, null)) {
      event.preventDefault();
      event.stopPropagation(); // capture phase: htmx's own click listener never sees it
      closePopovers(null);
    }
  }, true);

  doc.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.id === "confirm-dialog-form") {
      event.preventDefault();
      proceedConfirm();
      return;
    }
    if (!form.hasAttribute("data-confirm")) return;
    if (form._atriumConfirmed) { form._atriumConfirmed = false; return; }
    var submitter = event.submitter || null;
    if (askConfirm(form, submitter || form.querySelector("button, [type=submit]"), submitter)) {
      event.preventDefault();
      event.stopPropagation(); // capture phase: htmx's listener on the form never sees it
    }
  }, true);

  doc.addEventListener("input", function (event) {
    var t = event.target;
    if (!(t instanceof HTMLInputElement) || t.id !== "confirm-dialog-input" || !confirming) return;
    var d = confirmParts();
    if (d) d.ok.disabled = t.value !== confirming.source.getAttribute("data-confirm-typed");
  });

  // Tab and Shift+Tab cycle inside the open dialog.
  doc.addEventListener("keydown", function (event) {
    if (event.key !== "Tab") return;
    var d = confirmParts();
    if (!d || !d.dialog.open) return;
    var items = Array.prototype.filter.call(
      d.dialog.querySelectorAll("input, button, select, textarea, a[href]"),
      function (el) { return !el.disabled && el.getClientRects().length > 0; });
    if (!items.length) return;
    var first = items[0], last = items[items.length - 1];
    var active = doc.activeElement;
    if (event.shiftKey && (active === first || !d.dialog.contains(active))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (active === last || !d.dialog.contains(active))) {
      event.preventDefault();
      first.focus();
    }
  });

  // Rows of a [data-row-forms] container save a select[data-autosubmit] on change by htmx
  // (POST to its form's action; the answer replaces the row) without per-row hx-* attributes.
  doc.addEventListener("change", function (event) {
    var t = event.target;
    if (!(t instanceof HTMLSelectElement) || !autoSubmits(t) || !t.form) return;
    if (!window.htmx || t.form.hasAttribute("hx-post") || !closest(t, "[data-row-forms]")) return;
    window.htmx.ajax("POST", t.form.getAttribute("action"), { source: t.form, target: closest(t, "tr"), swap: "outerHTML" });
  });

  // However it closes (Escape, Cancel), focus goes back to the control that opened it.
  doc.addEventListener("close", function (event) {
    if (!(event.target instanceof Element) || event.target.id !== "confirm-dialog") return;
    var st = confirming;
    confirming = null;
    var back = st && st.opener;
    if (!back || !back.isConnected) return;
    var shut = closest(back, "details:not([open])"); // an item of a menu that closed
    if (shut && !closest(back, "details > summary")) back = shut.querySelector("summary") || back;
    back.focus();
  }, true);

  /* ---------- the viewer's time zone, for the times the server writes ---------- */
  function rememberTimeZone() {
    var tz = "";
    try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { tz = ""; }
    if (!tz || !/^[A-Za-z0-9_+\/-]{1,64}$/.test(tz)) return;
    var current = (doc.cookie.match(/(?:^|;\s*)atrium_tz=([^;]*)/) || [])[1];
    if (current === encodeURIComponent(tz)) return;
    doc.cookie = "atrium_tz=" + encodeURIComponent(tz) + "; path=/; max-age=31536000; samesite=lax";
  }

  function init() {
    rememberTimeZone();
    syncNavToggle(true);
    syncConfirm(doc);
    if (mobile.addEventListener) mobile.addEventListener("change", function () { syncNavToggle(false); });
    else if (mobile.addListener) mobile.addListener(function () { syncNavToggle(false); });
  }

  if (doc.readyState === "loading") doc.addEventListener("DOMContentLoaded", init);
  else init();

  window.Atrium = { slugify: slugify };
})();

/* ---------- the people picker: a combobox over server-side search (#24.5) ---------- */
/* The input (role=combobox) fetches its options with hx-get into its listbox; this part
   gives the list its keyboard (ArrowDown/ArrowUp move, Enter picks, Escape closes) and
   keeps aria-expanded / aria-activedescendant true. Without JavaScript the input is the
   plain text field it always was (a handle or an e-mail address). */
(function () {
  "use strict";
  var doc = document;

  function listOf(input) { return doc.getElementById(input.getAttribute("aria-controls")); }
  function options(list) { return list ? Array.prototype.slice.call(list.querySelectorAll('[role="option"]')) : []; }

  function setActive(input, list, index) {
    var opts = options(list);
    opts.forEach(function (o, i) { o.setAttribute("aria-selected", i === index ? "true" : "false"); });
    if (index >= 0 && opts[index]) {
      input.setAttribute("aria-activedescendant", opts[index].id);
      if (opts[index].scrollIntoView) opts[index].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function close(input) {
    var list = listOf(input);
    if (list) list.innerHTML = "";
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function pick(input, option) {
    input.value = option.getAttribute("data-value") || "";
    close(input);
    input.focus();
  }

  function activeIndex(list) {
    var opts = options(list);
    for (var i = 0; i < opts.length; i++) if (opts[i].getAttribute("aria-selected") === "true") return i;
    return -1;
  }

  doc.addEventListener("keydown", function (e) {
    var input = e.target;
    if (!input || !input.matches || !input.matches('input[role="combobox"]')) return;
    var list = listOf(input);
    var opts = options(list);
    var open = input.getAttribute("aria-expanded") === "true" && opts.length > 0;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      if (!open) return;
      e.preventDefault();
      var i = activeIndex(list);
      i = e.key === "ArrowDown" ? Math.min(i + 1, opts.length - 1) : Math.max(i - 1, 0);
      setActive(input, list, i);
    } else if (e.key === "Enter") {
      var j = activeIndex(list);
      if (open && j >= 0) { e.preventDefault(); pick(input, opts[j]); }
    } else if (e.key === "Escape") {
      if (open) { e.preventDefault(); close(input); }
    }
  });

  doc.addEventListener("click", function (e) {
    var option = e.target && e.target.closest ? e.target.closest('[role="option"]') : null;
    if (option) {
      var list = option.closest('[role="listbox"]');
      var input = list && doc.querySelector('input[role="combobox"][aria-controls="' + list.id + '"]');
      if (input) { pick(input, option); return; }
    }
    Array.prototype.forEach.call(doc.querySelectorAll('input[role="combobox"][aria-expanded="true"]'), function (input) {
      if (e.target !== input) close(input);
    });
  });

  doc.addEventListener("htmx:afterSwap", function (e) {
    var list = e.detail && e.detail.target;
    if (!list || list.getAttribute("role") !== "listbox") return;
    var input = doc.querySelector('input[role="combobox"][aria-controls="' + list.id + '"]');
    if (!input) return;
    var n = options(list).length;
    // A late answer for text no longer in the field, or for a field no longer focused: closed.
    if (doc.activeElement !== input) { close(input); return; }
    input.setAttribute("aria-expanded", n > 0 ? "true" : "false");
    setActive(input, list, -1);
  });
})();

/* ---------- polish (#24.2, #24.7, #24.8): menu keys, table cards, "Select all" ---------- */
(function () {
  "use strict";

  var doc = document;
  var MENUS = "details.menu, details.switcher, details.user-menu";
  var FOCUSABLE = "a[href], button, input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex='-1'])";

  /* Arrow keys in an open menu, the switcher and the user menu: Down/Up move among its
   * links and buttons (wrapping), Home/End go to the first/last; Down/Up on the closed
   * menu's button open it. Escape (above) closes it and returns to its button. */
  function itemsOf(d) {
    var summary = d.querySelector(":scope > summary");
    return Array.prototype.filter.call(d.querySelectorAll(FOCUSABLE), function (el) {
      return !(summary && summary.contains(el)) && !el.disabled &&
        el.getClientRects().length > 0 && el.closest(MENUS) === d;
    });
  }

  doc.addEventListener("keydown", function (event) {
    var key = event.key;
    if (key !== "ArrowDown" && key !== "ArrowUp" && key !== "Home" && key !== "End") return;
    if (event.altKey || event.ctrlKey || event.metaKey || event.defaultPrevented) return;
    var t = event.target;
    if (!(t instanceof Element) || t.matches("select")) return;
    var d = t.closest(MENUS);
    if (!d) return;
    var summary = d.querySelector(":scope > summary");
    var onSummary = !!summary && summary.contains(t);
    var typing = t.matches("input:not([type=checkbox]):not([type=radio]), textarea");
    if (typing && (key === "Home" || key === "End")) return; // the caret moves
    if (onSummary && !d.open) {
      if (key !== "ArrowDown" && key !== "ArrowUp") return;
      d.open = true;
    }
    if (!d.open) return;
    var items = itemsOf(d);
    if (!items.length) return;
    var i = items.indexOf(doc.activeElement);
    var next;
    if (key === "Home") next = 0;
    else if (key === "End") next = items.length - 1;
    else if (key === "ArrowDown") next = i < 0 ? 0 : (i + 1) % items.length;
    else next = i < 0 ? items.length - 1 : (i - 1 + items.length) % items.length;
    event.preventDefault();
    items[next].focus();
  });

  /* Table cards on phones: every cell carries its column's name (data-label) for
   * atrium.css; cells the template labelled keep theirs. */
  function labelCells() {
    Array.prototype.forEach.call(doc.querySelectorAll("table.table"), function (table) {
      var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
        var hidden = th.querySelector(".visually-hidden");
        return hidden && hidden.textContent === th.textContent ? "" : th.textContent.replace(/\s+/g, " ").trim();
      });
      if (!heads.length) return;
      Array.prototype.forEach.call(table.querySelectorAll("tbody > tr"), function (tr) {
        var col = 0;
        Array.prototype.forEach.call(tr.children, function (cell) {
          if (!cell.hasAttribute("data-label") && heads[col]) cell.setAttribute("data-label", heads[col]);
          col += cell.colSpan || 1;
        });
      });
    });
  }

  /* "Select all" per scope group on the role form: checks (or clears) the group's
   * scopes that may be chosen; shows "all" / "some" as they are. */
  function boxesOf(all) {
    var group = all.closest("fieldset");
    if (!group) return [];
    return Array.prototype.filter.call(group.querySelectorAll("input[type=checkbox][name]"), function (c) {
      return !c.disabled;
    });
  }

  function syncSelectAll(all) {
    var boxes = boxesOf(all);
    var checked = boxes.filter(function (c) { return c.checked; }).length;
    all.disabled = boxes.length === 0;
    all.checked = boxes.length > 0 ? checked === boxes.length : true;
    all.indeterminate = checked > 0 && checked < boxes.length;
  }

  function syncAllSelectAlls() {
    Array.prototype.forEach.call(doc.querySelectorAll("input[data-select-all]"), syncSelectAll);
  }

  doc.addEventListener("change", function (event) {
    var t = event.target;
    if (!(t instanceof HTMLInputElement) || t.type !== "checkbox") return;
    if (t.hasAttribute("data-select-all")) {
      boxesOf(t).forEach(function (c) { c.checked = t.checked; });
      syncSelectAll(t);
      return;
    }
    var group = t.closest("fieldset");
    var all = group && group.querySelector("input[data-select-all]");
    if (all) syncSelectAll(all);
  });

  function refresh() { labelCells(); syncAllSelectAlls(); }
  doc.addEventListener("htmx:load", refresh);
  if (doc.readyState === "loading") doc.addEventListener("DOMContentLoaded", refresh);
  else refresh();
})();
