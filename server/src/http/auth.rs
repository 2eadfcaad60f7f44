//! Optional bearer-token auth: `Authorization: Bearer <token>` or chromadb's
//! `X-Chroma-Token: <token>`, as its token auth client provider sends them.

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::error::{Error, Result};

/// Paths answered without a token: liveness probes and the API description.
const OPEN_PATHS: [&str; 5] = [
    "/api/v2",
    "/api/v2/heartbeat",
    "/api/v2/healthcheck",
    "/openapi.json",
    "/api/v2/openapi.json",
];

/// Checks a configured token: `None` stays `None` (no auth); a given token must be usable,
/// so an empty or blank one (an unset `$SECRET` in `--token "$SECRET"`, or `MNEMODB_TOKEN=`)
/// is refused instead of silently turning authentication off. Surrounding whitespace is
/// dropped (HTTP strips it from header values, so a client could never send it).
pub fn checked_token(token: Option<String>) -> Result<Option<String>> {
    let Some(token) = token else {
        return Ok(None);
    };
    let token = token.trim();
    if token.is_empty() {
        return Err(Error::invalid(
            "the token (--token or MNEMODB_TOKEN) is empty: give a non-empty token, or unset \
             both to serve without authentication",
        ));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(Error::invalid(
            "the token (--token or MNEMODB_TOKEN) must be printable ASCII, as HTTP headers \
             carry it",
        ));
    }
    Ok(Some(token.to_owned()))
}

pub(crate) async fn require_token(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(token) = &state.cfg.token
        && !OPEN_PATHS.contains(&req.uri().path())
        && !super::dashboard::PUBLIC_PATHS.contains(&req.uri().path())
        && !presented(req.headers(), token)
    {
        return Error::Unauthorized.into_response();
    }
    next.run(req).await
}

/// Whether the headers carry `token`, compared in constant time.
fn presented(headers: &HeaderMap, token: &str) -> bool {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let chroma = headers
        .get("x-chroma-token")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    [bearer, chroma]
        .into_iter()
        .flatten()
        .any(|given| constant_time_eq(given.as_bytes(), token.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_tokens_are_refused_and_others_trimmed() {
        assert_eq!(checked_token(None).expect("none"), None);
        for blank in ["", " ", "\t\n "] {
            let e = checked_token(Some(blank.into())).expect_err(blank);
            assert!(e.to_string().contains("is empty"), "{e}");
        }
        let e = checked_token(Some("pässword".into())).expect_err("non-ascii");
        assert!(e.to_string().contains("printable ASCII"), "{e}");
        assert_eq!(
            checked_token(Some(" s3cret\n".into())).expect("trimmed"),
            Some("s3cret".to_owned())
        );
    }

    #[test]
    fn both_headers_work_and_wrong_tokens_do_not() {
        let mut h = HeaderMap::new();
        assert!(!presented(&h, "s3cret"));
        h.insert("authorization", "Bearer s3cret".parse().expect("header"));
        assert!(presented(&h, "s3cret"));
        assert!(!presented(&h, "s3cre"));
        let mut h = HeaderMap::new();
        h.insert("x-chroma-token", "s3cret".parse().expect("header"));
        assert!(presented(&h, "s3cret"));
        h.insert("x-chroma-token", "nope".parse().expect("header"));
        assert!(!presented(&h, "s3cret"));
    }
}
