//! Static files, embedded in the binary (Atrium runs offline and from any directory).

use actix_web::{HttpResponse, web};

use super::AppError;

struct Asset {
    name: &'static str,
    mime: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "htmx.min.js",
        mime: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/htmx.min.js"),
    },
    Asset {
        name: "app.js",
        mime: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/app.js"),
    },
    Asset {
        name: "atrium.css",
        mime: "text/css; charset=utf-8",
        body: include_bytes!("../../static/atrium.css"),
    },
    Asset {
        name: "prefect-ui.css",
        mime: "text/css; charset=utf-8",
        body: include_bytes!("../../static/prefect-ui.css"),
    },
    Asset {
        name: "favicon.svg",
        mime: "image/svg+xml",
        body: include_bytes!("../../static/favicon.svg"),
    },
];

pub async fn serve(name: web::Path<String>) -> Result<HttpResponse, AppError> {
    let asset = ASSETS
        .iter()
        .find(|a| a.name == name.as_str())
        .ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok()
        .content_type(asset.mime)
        .insert_header(("Cache-Control", "public, max-age=31536000, immutable"))
        .body(asset.body))
}

/// A short digest of all assets, appended to their URLs so that browsers may cache
/// them for a year and still get the new ones after an upgrade.
pub fn version() -> &'static str {
    static V: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    V.get_or_init(|| {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for a in ASSETS {
            h.update(a.body);
        }
        hex::encode(h.finalize())[..12].to_string()
    })
}
