//! The layering check: imports go one way (docs/ARCHITECTURE.md, "Layers").
//!
//! It reads every file under `src/` with `syn`, resolves each `use` and each path written
//! in the code (`crate::…`, `super::…`, `self::…`, and paths through a crate like
//! `actix_web::…`) to the module it names, and fails listing every arrow that runs against
//! the rule:
//!
//! ```text
//! pages, api  →  ops  →  model  →  db
//!        web (request context, errors)      authz (pure)
//! ```
//!
//! * a domain's `model.rs` and `ops.rs` (and its other non-page files) import no `actix_*`,
//!   `askama*`, `web`, `api`, `app` and no domain's `pages`; a `model` imports no `ops`;
//! * `authz` is pure: it imports nothing of the crate but `authz` and `ids`, and neither
//!   the web framework nor the database;
//! * the plumbing (`db`, `settings`, `ids`, `outcome`, `faults`, `memory`) imports no domain;
//!   `authn` and `mail` import no `web`, `api`, `app` or pages;
//! * a domain's `mail.rs` (the e-mails it sends) counts as `mail`: it renders text and HTML
//!   with `askama` templates but names nothing of the web framework;
//! * `api/<resource>.rs` imports no domain's `pages` or `model` and no `db::schema`: it calls
//!   `ops`; pages import no `api` and no `db::schema` (queries live in the models);
//! * `web` imports no `api`, `app` or pages.
//!
//! Run it alone with `cargo test --test layering`. `fn violations_of` is also run on a
//! deliberately broken file, so the check itself is known to catch what it claims to.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use syn::visit::Visit;

const DOMAINS: &[&str] = &[
    "accounts",
    "apikeys",
    "audit",
    "invitations",
    "members",
    "prefect_ui",
    "roles",
    "servers",
    "service_accounts",
    "sso",
    "teams",
    "transfers",
    "two_factor",
    "users",
    "workspaces",
];

const PLUMBING: &[&str] = &[
    "db", "settings", "ids", "outcome", "faults", "memory", "egress", "sealed",
];

/// Crates of the web layer: nothing below the pages and the API may name them.
const WEB_CRATES: &[&str] = &[
    "actix_web",
    "actix_http",
    "actix_session",
    "askama",
    "askama_web",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    /// main, lib, app (the composition root), seed (a tool): may import anything.
    Root,
    Pages,
    Api,
    Web,
    Ops,
    Model,
    Authz,
    Authn,
    Mail,
    Plumbing,
}

fn layer_of(module: &[String]) -> Layer {
    let first = module.first().map(String::as_str).unwrap_or("");
    let second = module.get(1).map(String::as_str);
    match first {
        "" | "main" | "app" | "seed" => Layer::Root,
        // The gateway is the API's other half: it calls ops, never models or pages.
        "api" | "gateway" => Layer::Api,
        "web" => Layer::Web,
        "authz" => Layer::Authz,
        "authn" => Layer::Authn,
        "mail" => Layer::Mail,
        d if DOMAINS.contains(&d) => match second {
            Some("pages") => Layer::Pages,
            Some("mail") => Layer::Mail,
            Some("model") => Layer::Model,
            // ops, the domain's mod.rs and its other files (types, catalogs, pure rules)
            _ => Layer::Ops,
        },
        p if PLUMBING.contains(&p) => Layer::Plumbing,
        other => panic!("tests/layering.rs does not know the module `{other}`: add it"),
    }
}

/// Why `from` may not name `target` (a resolved path: `["crate", "members", "pages", …]`
/// or `["actix_web", …]`), or `None` when it may.
fn forbidden(from: Layer, target: &[String]) -> Option<&'static str> {
    let seg = |i: usize| target.get(i).map(String::as_str).unwrap_or("");
    let external = seg(0) != "crate";
    let web_crate = external && WEB_CRATES.contains(&seg(0));
    let (top, sub) = if external { ("", "") } else { (seg(1), seg(2)) };
    let is_domain = DOMAINS.contains(&top);
    let pages = is_domain && sub == "pages";
    let model = is_domain && sub == "model";
    let ops = is_domain && sub == "ops";
    let schema = top == "db" && sub == "schema";
    match from {
        Layer::Root => None,
        Layer::Model | Layer::Ops => {
            if web_crate {
                Some("the web framework and templates belong to pages and api")
            } else if matches!(top, "web" | "api" | "app") {
                Some("web, api and app sit above ops and model")
            } else if pages {
                Some("pages sit above ops and model")
            } else if from == Layer::Model && ops {
                Some("a model is below ops")
            } else {
                None
            }
        }
        Layer::Authz => {
            if external && matches!(seg(0), "diesel" | "r2d2") || web_crate {
                Some("authz is pure: no database, no web")
            } else if !external && !matches!(top, "authz" | "ids") {
                Some("authz is pure: it imports only authz and ids")
            } else {
                None
            }
        }
        Layer::Plumbing => {
            if web_crate {
                Some("plumbing below the web layer")
            } else if !external && (is_domain || matches!(top, "web" | "api" | "app" | "authn")) {
                Some("plumbing imports no domain and no web layer")
            } else {
                None
            }
        }
        Layer::Authn | Layer::Mail => {
            if matches!(top, "web" | "api" | "app") || pages {
                Some("authn and mail sit below the web layer")
            } else if from == Layer::Mail && web_crate && seg(0) != "askama" {
                Some("mail sits below the web layer")
            } else if from == Layer::Authn && matches!(seg(0), "askama" | "askama_web") {
                Some("authn renders nothing")
            } else {
                None
            }
        }
        Layer::Api => {
            if pages {
                Some("the API calls ops, never pages")
            } else if model {
                Some("the API calls ops, not models")
            } else if schema {
                Some("queries live in the models")
            } else if top == "app" {
                Some("app is the composition root")
            } else {
                None
            }
        }
        Layer::Pages => {
            if top == "api" {
                Some("pages do not import the API")
            } else if schema {
                Some("queries live in the models")
            } else if model {
                Some("pages call ops, not models")
            } else if top == "app" {
                Some("app is the composition root")
            } else {
                None
            }
        }
        Layer::Web => {
            if matches!(top, "api" | "app") || pages {
                Some("web is plumbing under pages and api")
            } else {
                None
            }
        }
    }
}

/// The module path of a file under `src/`: `src/members/ops.rs` → `["members", "ops"]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod") | Some("lib")) {
        parts.pop();
    }
    parts
}

/// Collects the paths a file names, resolved against its module.
struct Paths<'a> {
    module: &'a [String],
    /// Inline `mod x { … }` blocks entered (their `super` is the file's module).
    inner: Vec<String>,
    found: BTreeSet<Vec<String>>,
}

impl Paths<'_> {
    fn here(&self) -> Vec<String> {
        let mut m = self.module.to_vec();
        m.extend(self.inner.iter().cloned());
        m
    }

    fn resolve(&mut self, segs: Vec<String>) {
        let Some(first) = segs.first().map(String::as_str) else {
            return;
        };
        let mut full: Vec<String> = match first {
            "crate" => segs.clone(),
            "self" | "super" => {
                let mut base = self.here();
                let mut rest = &segs[..];
                while let Some(s) = rest.first() {
                    match s.as_str() {
                        "self" => {}
                        "super" => {
                            base.pop();
                        }
                        _ => break,
                    }
                    rest = &rest[1..];
                }
                let mut v = vec!["crate".to_string()];
                v.extend(base);
                v.extend(rest.iter().cloned());
                v
            }
            c if WEB_CRATES.contains(&c) || matches!(c, "diesel" | "r2d2") => segs.clone(),
            _ => return,
        };
        full.truncate(4);
        self.found.insert(full);
    }

    fn use_tree(&mut self, prefix: Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                let mut v = prefix;
                v.push(p.ident.to_string());
                self.use_tree(v, &p.tree);
            }
            syn::UseTree::Name(n) => {
                let mut v = prefix;
                if n.ident != "self" {
                    v.push(n.ident.to_string());
                }
                self.resolve(v);
            }
            syn::UseTree::Rename(r) => {
                let mut v = prefix;
                if r.ident != "self" {
                    v.push(r.ident.to_string());
                }
                self.resolve(v);
            }
            syn::UseTree::Glob(_) => self.resolve(prefix),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix.clone(), t);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Paths<'_> {
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        self.use_tree(vec![], &u.tree);
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if m.content.is_some() {
            self.inner.push(m.ident.to_string());
            syn::visit::visit_item_mod(self, m);
            self.inner.pop();
        }
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segs: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        if segs.len() > 1 {
            self.resolve(segs);
        }
        syn::visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        // Paths inside macro calls (`json!`, `format!`) are tokens; the crate's own macros
        // take expressions, so parse them as such where they parse.
        if let Ok(args) = m.parse_body_with(
            syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated,
        ) {
            for e in &args {
                self.visit_expr(e);
            }
        }
        syn::visit::visit_macro(self, m);
    }
}

/// Every arrow in `code` (the text of the file of `module`) that runs against the rule.
fn violations_of(module: &[String], code: &str) -> Vec<String> {
    let file = syn::parse_file(code).unwrap_or_else(|e| panic!("{module:?}: {e}"));
    let mut paths = Paths {
        module,
        inner: vec![],
        found: BTreeSet::new(),
    };
    paths.visit_file(&file);
    let from = layer_of(module);
    let mut out = vec![];
    for target in &paths.found {
        if let Some(why) = forbidden(from, target) {
            out.push(format!(
                "{} → {}: {why}",
                module.join("::"),
                target.join("::")
            ));
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn imports_follow_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![];
    rust_files(&src, &mut files);
    files.sort();
    let mut all = vec![];
    for f in &files {
        if f.ends_with("db/schema.rs") {
            continue;
        }
        let code = std::fs::read_to_string(f).expect("read");
        all.extend(violations_of(&module_of(&src, f), &code));
    }
    assert!(
        all.is_empty(),
        "{} imports run against the layers (docs/ARCHITECTURE.md):\n{}",
        all.len(),
        all.join("\n")
    );
}

#[test]
fn the_check_catches_a_deliberate_violation() {
    let m = |s: &str| s.split("::").map(str::to_string).collect::<Vec<_>>();
    let bad_ops = r#"
        use actix_web::HttpResponse;
        use crate::members::pages::MembersPage;
        use super::model::{self as members};
        fn f() { let _ = crate::web::redirect("/"); }
    "#;
    let v = violations_of(&m("members::ops"), bad_ops);
    assert_eq!(v.len(), 3, "{v:#?}");
    assert!(v.iter().any(|l| l.contains("actix_web")));
    assert!(v.iter().any(|l| l.contains("members::pages")));
    assert!(v.iter().any(|l| l.contains("crate::web::redirect")));

    let bad_api = "use crate::members::model::row; use crate::invitations::pages::x;";
    assert_eq!(violations_of(&m("api::accounts"), bad_api).len(), 2);

    let bad_model = "use super::ops::change_role; use askama::Template;";
    assert_eq!(violations_of(&m("members::model"), bad_model).len(), 2);

    let bad_authz = "use crate::accounts::model::Account; use diesel::prelude::*;";
    assert_eq!(violations_of(&m("authz::account"), bad_authz).len(), 2);

    let good =
        "use crate::members::ops; use crate::web::ctx::AccountCtx; use crate::outcome::Refusal;";
    assert!(violations_of(&m("members::pages"), good).is_empty());
}

/// `docs/ARCHITECTURE.md` names files and functions; each must exist, so the document
/// cannot drift from the code: every backticked path under `src/`, `templates/`, `tests/`,
/// `migrations/`, `scripts/`, `bench/` or `static/`, and every `domain::file::name` whose file
/// exists must define or use `name` in that file.
#[test]
fn the_architecture_document_names_what_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/ARCHITECTURE.md")).expect("the document");
    let mut missing = Vec::new();
    let mut checked = 0;
    for (i, part) in doc.split('`').enumerate() {
        // Prose in backticks and placeholders (`src/api/<resource>.rs`) are not names.
        if i % 2 == 0 || part.contains([' ', '<', '*']) {
            continue;
        }
        let token = part.trim_end_matches(['/', ',', '.']);
        let dirs = [
            "src/",
            "templates/",
            "tests/",
            "migrations/",
            "scripts/",
            "bench/",
            "static/",
        ];
        if dirs.iter().any(|d| token.starts_with(d)) {
            checked += 1;
            if !root.join(token).exists() {
                missing.push(format!("{token}: no such file"));
            }
            continue;
        }
        let segs: Vec<&str> = token.split("::").collect();
        if segs.len() == 3
            && segs
                .iter()
                .all(|s| s.chars().all(|c| c.is_alphanumeric() || c == '_'))
        {
            let file = ["rs", "mod.rs"]
                .iter()
                .map(|ext| match *ext {
                    "rs" => root.join(format!("src/{}/{}.rs", segs[0], segs[1])),
                    _ => root.join(format!("src/{}/{}/mod.rs", segs[0], segs[1])),
                })
                .find(|p| p.exists());
            if let Some(file) = file {
                checked += 1;
                let text = std::fs::read_to_string(&file).expect("source");
                let word = |t: &str| {
                    text.match_indices(t).any(|(at, _)| {
                        let before = text[..at].chars().last();
                        let after = text[at + t.len()..].chars().next();
                        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                            && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
                    })
                };
                if !word(segs[2]) {
                    missing.push(format!(
                        "{token}: `{}` is not in {}",
                        segs[2],
                        file.display()
                    ));
                }
            }
        }
    }
    assert!(
        checked > 40,
        "only {checked} names checked: is the document there?"
    );
    assert!(
        missing.is_empty(),
        "docs/ARCHITECTURE.md names what does not exist:\n{}",
        missing.join("\n")
    );
}
