//! Prefect's own UI for each workspace (issue #23), behind Atrium's log-in. The `prefect`
//! package ships the UI as a static bundle (`prefect/server/ui`) in which
//! `/PREFECT_UI_SERVE_BASE_REPLACE_PLACEHOLDER` stands for the path it is served under;
//! Prefect's server replaces it when it copies the bundle. Atrium serves the bundle under
//! each workspace's own address, `/account/{a}/workspace/{w}/` — the address the `prefect`
//! CLI derives from the workspace's API URL, so the links it prints open the UI — and
//! replaces the placeholder per request in the few files that hold it. The bundle is read
//! into memory once, when it is opened (about 6 MiB), so serving it reads no disk. Its `ui-settings` point the UI at the workspace's API address
//! (the gateway), which the browser calls with the signed-in person's session
//! (`gateway::session`).

pub mod pages;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What Prefect's bundle says where its base path goes.
pub const PLACEHOLDER: &str = "/PREFECT_UI_SERVE_BASE_REPLACE_PLACEHOLDER";

/// The UI bundle of the installed `prefect` package.
pub struct Bundle {
    /// Every file by its relative, `/`-separated path: its bytes, its content type, and
    /// whether it holds the placeholder.
    files: HashMap<String, (bytes::Bytes, &'static str, bool)>,
}

impl Bundle {
    /// Opens the bundle in `dir` (it must hold `index.html`).
    pub fn open(dir: &Path) -> std::io::Result<Bundle> {
        let dir = dir.canonicalize()?;
        if !dir.join("index.html").is_file() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} holds no index.html", dir.display()),
            ));
        }
        let mut files = HashMap::new();
        let mut todo = vec![dir.clone()];
        while let Some(d) = todo.pop() {
            for entry in std::fs::read_dir(&d)? {
                let path = entry?.path();
                if path.is_dir() {
                    todo.push(path);
                    continue;
                }
                let Ok(rel) = path.strip_prefix(&dir) else {
                    continue;
                };
                let bytes = std::fs::read(&path)?;
                let templated = is_text(&path)
                    && bytes
                        .windows(PLACEHOLDER.len())
                        .any(|w| w == PLACEHOLDER.as_bytes());
                files.insert(
                    rel.to_string_lossy().replace('\\', "/"),
                    (bytes::Bytes::from(bytes), content_type(&path), templated),
                );
            }
        }
        Ok(Bundle { files })
    }

    /// The bundle of the `prefect` executable's package: `<venv>/bin/prefect` →
    /// `<venv>/lib/python3.*/site-packages/prefect/server/ui`.
    pub fn beside(prefect_bin: &Path) -> Option<PathBuf> {
        let venv = prefect_bin.parent()?.parent()?;
        let lib = venv.join("lib");
        std::fs::read_dir(lib)
            .ok()?
            .flatten()
            .map(|e| e.path().join("site-packages/prefect/server/ui"))
            .find(|p| p.join("index.html").is_file())
    }

    /// A file of the bundle with `base` in place of the placeholder, and its content type;
    /// `None` for anything that is not a file of it (`..`, absolute paths, folders).
    pub fn file(&self, rel: &str, base: &str) -> Option<(bytes::Bytes, &'static str)> {
        // Only the names read at open are served: `..`, absolute paths and folders are not.
        let (bytes, content_type, templated) = self.files.get(rel)?;
        let bytes = if *templated {
            bytes::Bytes::from(
                std::str::from_utf8(bytes)
                    .ok()?
                    .replace(PLACEHOLDER, base)
                    .into_bytes(),
            )
        } else {
            bytes.clone()
        };
        Some((bytes, content_type))
    }
}

fn is_text(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("html" | "js" | "mjs" | "css" | "json" | "webmanifest" | "svg" | "txt" | "map")
    )
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_placeholder_is_replaced_and_paths_stay_inside() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("index.html"),
            format!("<script src=\"{PLACEHOLDER}/assets/a.js\"></script>"),
        )
        .expect("index");
        std::fs::create_dir(dir.path().join("assets")).expect("assets");
        std::fs::write(dir.path().join("assets/a.js"), "import('./b.js')").expect("a");
        let b = Bundle::open(dir.path()).expect("bundle");
        let (index, ct) = b
            .file("index.html", "/account/x/workspace/y")
            .expect("index");
        assert_eq!(
            String::from_utf8(index.to_vec()).expect("utf8"),
            "<script src=\"/account/x/workspace/y/assets/a.js\"></script>"
        );
        assert_eq!(ct, "text/html; charset=utf-8");
        assert_eq!(
            b.file("assets/a.js", "/z").map(|f| f.0.to_vec()),
            Some(b"import('./b.js')".to_vec())
        );
        for bad in [
            "../index.html",
            "/etc/passwd",
            "assets",
            "",
            "assets/../index.html",
        ] {
            assert!(b.file(bad, "/z").is_none(), "{bad}");
        }
    }
}
