//! API keys (DESIGN §1): `pnu_` (user) or `pnb_` (service account) followed by 36 random
//! base62 characters. Only the SHA-256 digest is stored, with the last four characters for
//! the mask; lookup is one indexed equality on the digest.

pub mod model;
pub mod ops;
pub mod pages;

pub use model::{
    ApiKey, BOT_PREFIX, EXPIRATION_PAST, LAST_USED_EVERY, Reveal, USER_PREFIX, generate,
    parse_expiration_date, well_formed, when,
};
pub use ops::{
    Authenticated, KeyHolder, authenticate, for_service_account, for_user,
    newest_for_service_account,
};
