//! `/api/openapi.json`: Atrium's own API document, generated from the handlers'
//! `#[utoipa::path]` annotations and the response types (never written by hand).

use actix_web::{HttpResponse, web};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/openapi.json", web::get().to(serve));
}

struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("pnu_… or pnb_… API key")
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Atrium API", description = "Accounts, workspaces, roles, teams, service accounts and API keys; paths and fields follow Prefect Cloud's."),
    modifiers(&BearerKey),
    components(schemas(super::error::Detail, super::error::ValidationDetail, super::error::FieldError))
)]
struct Base;

/// The whole document: the base plus each API module's paths.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Base::openapi();
    doc.merge(super::me::Doc::openapi());
    doc.merge(super::transfers::Doc::openapi());
    doc.merge(super::service_accounts::Doc::openapi());
    doc.merge(super::accounts::Doc::openapi());
    doc.merge(super::invitations::Doc::openapi());
    doc.merge(super::workspaces::Doc::openapi());
    doc.merge(super::user_access::Doc::openapi());
    doc.merge(super::teams::Doc::openapi());
    doc.merge(super::sso::Doc::openapi());
    doc.merge(super::roles::Doc::openapi());
    doc.merge(super::events::Doc::openapi());
    list_bounds(
        &mut doc,
        "/api/accounts/{account_id}/invitations/",
        1,
        crate::invitations::ops::MAX_ADDRESSES,
    );
    doc
}

/// Sets `minItems`/`maxItems` of a POST's list body (utoipa's `request_body = [T]` has no
/// attribute for them).
fn list_bounds(doc: &mut utoipa::openapi::OpenApi, path: &str, min: usize, max: usize) {
    use utoipa::openapi::{RefOr, schema::Schema};
    let Some(body) = doc
        .paths
        .paths
        .get_mut(path)
        .and_then(|item| item.post.as_mut())
        .and_then(|op| op.request_body.as_mut())
    else {
        return;
    };
    for content in body.content.values_mut() {
        if let Some(RefOr::T(Schema::Array(list))) = content.schema.as_mut() {
            list.min_items = Some(min);
            list.max_items = Some(max);
        }
    }
}

/// A documented path as segments (`None` for a `{parameter}`), its methods (upper case),
/// and how generic it is: bit `63 - i` set when segment `i` is a parameter, so that of two
/// templates matching one path the one with a literal segment before a parameter is the
/// smaller number (computed once, not per request).
type Operation = (Vec<Option<String>>, Vec<String>, u64);

/// The documented paths by their number of segments, in the document's order.
fn by_length() -> &'static std::collections::HashMap<usize, Vec<&'static Operation>> {
    static BY_LENGTH: std::sync::OnceLock<
        std::collections::HashMap<usize, Vec<&'static Operation>>,
    > = std::sync::OnceLock::new();
    BY_LENGTH.get_or_init(|| {
        let mut m = std::collections::HashMap::<usize, Vec<&'static Operation>>::new();
        for op in operations() {
            m.entry(op.0.len()).or_default().push(op);
        }
        m
    })
}

/// The documented paths, derived once from the document (fixed at compile time).
fn operations() -> &'static [Operation] {
    static OPS: std::sync::OnceLock<Vec<Operation>> = std::sync::OnceLock::new();
    OPS.get_or_init(|| {
        let doc = serde_json::to_value(document()).unwrap_or_default();
        let Some(paths) = doc.get("paths").and_then(|p| p.as_object()) else {
            return Vec::new();
        };
        paths
            .iter()
            .map(|(path, item)| {
                let segments: Vec<Option<String>> = path
                    .split('/')
                    .map(|s| (!s.starts_with('{')).then(|| s.to_string()))
                    .collect();
                let methods = item
                    .as_object()
                    .map(|m| m.keys().map(|k| k.to_ascii_uppercase()).collect())
                    .unwrap_or_default();
                let generic = genericity(&segments);
                (segments, methods, generic)
            })
            .collect()
    })
}

/// The methods the document lists for `path` when it is a documented path, e.g. `["GET",
/// "PATCH", "DELETE"]`. When several templates match (`…/bots/filter` and `…/bots/{id}`),
/// the most specific one counts: a literal segment before a parameter, as OpenAPI says.
/// It runs on every `/api` request, so it allocates nothing.
pub fn documented_methods(path: &str) -> Option<&'static [String]> {
    let n = path.split('/').count();
    // Only the templates with as many segments: on the gateway's path (every call below a
    // workspace asks) a walk through all of them cost more than the rest of the routing,
    // each template's segments being a cache miss away.
    by_length()
        .get(&n)?
        .iter()
        .filter(|(segments, _, _)| {
            segments.iter().zip(path.split('/')).all(|(s, p)| match s {
                Some(fixed) => fixed == p,
                None => !p.is_empty(),
            })
        })
        .min_by_key(|(_, _, generic)| *generic)
        .map(|(_, methods, _)| methods.as_slice())
}

/// See [`Operation`]: the parameter positions as bits, the first segment highest.
fn genericity(segments: &[Option<String>]) -> u64 {
    segments
        .iter()
        .take(64)
        .enumerate()
        .filter(|(_, s)| s.is_none())
        .fold(0, |bits, (i, _)| bits | 1 << (63 - i))
}

/// Middleware of the `/api` scope: a documented path asked with a method the document
/// does not list gets 405 with the methods it does list in `Allow` (as FastAPI answers),
/// before routing (so `PATCH …/bots/filter` is not taken for `PATCH …/bots/{id}`) and
/// before the key is looked at (the document is public).
pub async fn undocumented_method(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    if let Some(methods) = documented_methods(req.path())
        && !methods.iter().any(|m| m == req.method().as_str())
    {
        let res = HttpResponse::MethodNotAllowed()
            .insert_header((actix_web::http::header::ALLOW, methods.join(", ")))
            .json(super::error::Detail {
                detail: "Method Not Allowed".into(),
            });
        return Ok(req.into_response(res));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(document())
}

#[cfg(test)]
mod tests {
    use super::documented_methods;

    #[test]
    fn the_most_specific_documented_path_gives_the_methods() {
        let a = "7d4f2bd6-7c4a-4a4e-9a53-5b1e4b1f8d11";
        let sorted = |p: &str| {
            let mut m = documented_methods(p).map(<[String]>::to_vec);
            if let Some(m) = m.as_mut() {
                m.sort();
            }
            m
        };
        assert_eq!(
            sorted(&format!("/api/accounts/{a}/bots/filter")),
            Some(vec!["POST".to_string()]),
            "`filter` beats `{{id}}`"
        );
        assert_eq!(
            sorted(&format!("/api/accounts/{a}/bots/{a}")),
            Some(vec!["DELETE".into(), "GET".into(), "PATCH".into()])
        );
        assert_eq!(
            documented_methods(&format!("/api/accounts/{a}/nothing")),
            None
        );
        assert_eq!(documented_methods("/api/accounts//bots/filter"), None);
    }
}
