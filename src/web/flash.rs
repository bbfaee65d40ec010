//! One way to say what an action did (issue #24, point 3). A change that redirects keeps
//! its message in the session (`redirect_noting`); the next page's shell takes it out
//! and `base.html` shows it in the `#flash` region (`role="status"`, announced by screen
//! readers). An htmx answer carries it in an `HX-Trigger` event (`atrium:flash`) that
//! `static/app.js` writes into the same region, as text.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse};

const SESSION_FLASH: &str = "_flash";

/// The event name `static/app.js` listens for.
pub const EVENT: &str = "atrium:flash";

/// Keeps `text` for the next page of this session.
pub fn keep(session: &Session, text: &str) {
    if let Err(e) = session.insert(SESSION_FLASH, text) {
        tracing::warn!("flash: {e}");
    }
}

/// The message kept for this page, taken out (shown once).
pub fn take(session: &Session) -> Option<String> {
    let text = session.get::<String>(SESSION_FLASH).ok().flatten()?;
    session.remove(SESSION_FLASH);
    Some(text)
}

/// Redirects after a change, saying what it did on the page it lands on (htmx: the
/// message travels with the `HX-Redirect` in the session too).
pub fn redirect_noting(req: &HttpRequest, session: &Session, to: &str, text: &str) -> HttpResponse {
    keep(session, text);
    super::redirect(req, to)
}

/// Adds the message and another event (e.g. a list that reloads itself) to an htmx answer.
pub fn note_and(res: HttpResponse, text: &str, event: &str) -> HttpResponse {
    let mut events = serde_json::Map::new();
    events.insert(EVENT.into(), text.into());
    events.insert(event.into(), true.into());
    with_events(res, serde_json::Value::Object(events))
}

/// The events as `HX-Trigger` JSON, built by serde, with every character past ASCII
/// written as a `\u` escape: a header is read by the browser as Latin-1.
fn with_events(mut res: HttpResponse, events: serde_json::Value) -> HttpResponse {
    let mut value = String::new();
    for c in events.to_string().chars() {
        if c.is_ascii() {
            value.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                value.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&value) {
        res.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("hx-trigger"),
            v,
        );
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_events_header_is_ascii_json_that_reads_back_as_the_message() {
        let res = note_and(
            HttpResponse::Ok().finish(),
            "Workspace “prod” deleted — 🚀",
            "atrium:members-changed",
        );
        let header = res.headers().get("hx-trigger").expect("the header");
        assert!(header.as_bytes().is_ascii());
        let v: serde_json::Value = serde_json::from_slice(header.as_bytes()).expect("JSON");
        assert_eq!(v[EVENT], "Workspace “prod” deleted — 🚀");
        assert_eq!(v["atrium:members-changed"], true);
    }
}
