//! The route table, read from the sources: every `.route(path, web::method()…)` in
//! `src/` (the `/api` scope's prefix added), so that tests covering "every route" fail when
//! a route is added without a row for it. Used by the audit coverage test and the
//! access-control sweep.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub const CHANGING: [&str; 4] = ["POST", "PUT", "PATCH", "DELETE"];

pub fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The text without `//` comments (line and doc comments), so that examples in comments
/// are not read as registrations. String literals holding `//` are kept (URLs do not
/// appear in route paths).
fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.trim_start().starts_with("//") {
                ""
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads a Rust string literal starting at `s[0] == '"'`; returns it and the rest.
fn string_literal(s: &str) -> Option<(String, &str)> {
    let rest = s.strip_prefix('"')?;
    let end = rest.find('"')?;
    Some((rest[..end].to_string(), &rest[end + 1..]))
}

/// `let name = "…";` and `const NAME: &str = "…";` bindings of a file.
fn string_bindings(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        let decl = t
            .strip_prefix("let ")
            .or_else(|| t.strip_prefix("const "))
            .or_else(|| t.strip_prefix("pub const "));
        let Some(decl) = decl else { continue };
        let Some((lhs, rhs)) = decl.split_once('=') else {
            continue;
        };
        let name = lhs.split(':').next().unwrap_or_default().trim();
        if let Some((value, _)) = string_literal(rhs.trim()) {
            out.push((name.to_string(), value));
        }
    }
    out
}

/// Expands `format!` arguments of the form `"{name}/x/{{id}}"` with the file's bindings.
fn expand_format(fmt: &str, bindings: &[(String, String)], at: &str) -> String {
    let mut out = String::new();
    let mut rest = fmt;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("{{") {
            out.push('{');
            rest = r;
        } else if let Some(r) = rest.strip_prefix("}}") {
            out.push('}');
            rest = r;
        } else if let Some(r) = rest.strip_prefix('{') {
            let end = r
                .find('}')
                .unwrap_or_else(|| panic!("{at}: bad format string"));
            let name = &r[..end];
            let value = bindings
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .unwrap_or_else(|| panic!("{at}: `{{{name}}}` is not a string binding"));
            out.push_str(&value.1);
            rest = &r[end + 1..];
        } else {
            let c = rest.chars().next().expect("char");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// The (METHOD, path) pairs a file registers with `.route(path, web::method()…)`.
pub fn routes_in(file: &Path, prefix: &str) -> Vec<(String, String)> {
    // The workspace gateway's catch-all (`/api/accounts/{a}/workspaces/{w}/{rest:.*}`) is
    // not a route of its own: what each operation below it needs is `authz::gateway::RULES`,
    // checked against the reference document (tests/gateway_table.rs), walked operation by
    // operation (tests/it/gateway_isolation.rs) and audited by `gateway::record`.
    if file.starts_with(src_dir().join("gateway")) {
        return Vec::new();
    }
    let raw = std::fs::read_to_string(file).expect("read source");
    let text = strip_comments(&raw);
    let name = file.display().to_string();
    for unsupported in [
        "web::resource(",
        ".service(web::resource",
        "#[post(",
        "#[get(",
    ] {
        assert!(
            !text.contains(unsupported),
            "{name} registers routes with `{unsupported}`, which this scanner does not read: \
             teach tests/it/support/routes.rs about it"
        );
    }
    let bindings = string_bindings(&text);
    let mut out = Vec::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("route(") {
        let preceded_by_dot = rest[..i].trim_end().ends_with('.') || rest[..i].ends_with("cfg.");
        rest = &rest[i + "route(".len()..];
        if !preceded_by_dot {
            continue;
        }
        let at = format!("{name}: route({}", &rest[..rest.len().min(60)]);
        let arg = rest.trim_start();
        let (path, after) = if arg.starts_with('"') {
            string_literal(arg).unwrap_or_else(|| panic!("{at}: unreadable path"))
        } else if let Some(f) = arg.strip_prefix("&format!(") {
            let (fmt, after) =
                string_literal(f.trim_start()).unwrap_or_else(|| panic!("{at}: unreadable"));
            (expand_format(&fmt, &bindings, &at), after)
        } else {
            let ident: String = arg
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let value = bindings
                .iter()
                .rev()
                .find(|(n, _)| *n == ident)
                .unwrap_or_else(|| panic!("{at}: cannot read the path argument"));
            (value.1.clone(), &arg[ident.len()..])
        };
        let after = after.trim_start();
        let after = after.strip_prefix(')').unwrap_or(after).trim_start(); // format!(…)
        let after = after
            .strip_prefix(',')
            .unwrap_or_else(|| panic!("{at}: expected `,` after the path"))
            .trim_start();
        let method = after
            .strip_prefix("web::")
            .and_then(|m| m.split_once("()"))
            .map(|(m, _)| m.to_ascii_uppercase())
            .filter(|m| !m.is_empty() && m.chars().all(|c| c.is_ascii_alphabetic()))
            .unwrap_or_else(|| panic!("{at}: expected `web::<method>()` after the path"));
        let full = format!("{prefix}{path}");
        let full = match full.strip_suffix('/') {
            Some(p) if !p.is_empty() => p.to_string(),
            _ => full,
        };
        out.push((method, full));
    }
    out
}

/// The `/api` scope's prefix, read from `src/api/mod.rs`.
pub fn api_prefix() -> String {
    let text = std::fs::read_to_string(src_dir().join("api").join("mod.rs")).expect("api");
    let i = text
        .find("web::scope(")
        .expect("src/api/mod.rs registers the API under web::scope(…)");
    string_literal(text[i + "web::scope(".len()..].trim_start())
        .expect("the scope's path")
        .0
}

/// Every route registered in `src/`, as (METHOD, path), the `/api` scope's prefix
/// included. A path registered with and without a trailing slash is one route.
pub fn all_routes() -> BTreeSet<(String, String)> {
    let api = src_dir().join("api");
    let prefix = api_prefix();
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    let mut all = BTreeSet::new();
    for f in files {
        let p = if f.starts_with(&api) {
            prefix.as_str()
        } else {
            ""
        };
        all.extend(routes_in(&f, p));
    }
    all
}

/// Every state-changing route, as "METHOD /path".
pub fn discovered_routes() -> BTreeSet<String> {
    all_routes()
        .into_iter()
        .filter(|(m, _)| CHANGING.contains(&m.as_str()))
        .map(|(m, p)| format!("{m} {p}"))
        .collect()
}
