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
    info(title = "Atrium API", description = "Accounts, workspaces, roles, service accounts and API keys; paths and fields follow Prefect Cloud's."),
    modifiers(&BearerKey),
    components(schemas(super::error::Detail, super::error::ValidationDetail, super::error::FieldError))
)]
struct Base;

/// The whole document: the base plus each API module's paths.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Base::openapi();
    doc.merge(super::me::Doc::openapi());
    doc.merge(super::transfers::Doc::openapi());
    doc.merge(super::bots::Doc::openapi());
    doc.merge(super::accounts::Doc::openapi());
    doc.merge(super::invitations::Doc::openapi());
    doc.merge(super::workspaces::Doc::openapi());
    doc.merge(super::user_access::Doc::openapi());
    doc.merge(super::roles::Doc::openapi());
    doc.merge(super::events::Doc::openapi());
    doc
}

async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(document())
}
