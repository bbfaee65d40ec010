//! API errors (defined with the request contexts in `web::api_error`, which the API's
//! extractors return).

pub use crate::web::api_error::*;
