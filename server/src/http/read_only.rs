//! `serve --read-only`: every route that could change data is refused with 403 before its
//! handler runs. Default-deny by method: only GET, HEAD and OPTIONS pass, and the two POSTs
//! that only read (a collection's `get` and `query`), named by their route templates, so a
//! route added later is refused until it is listed here as a read.

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::error::Error;

/// The POST routes that only read, by the end of their route template.
const READING_POSTS: [&str; 2] = [
    "/collections/{collection}/get",
    "/collections/{collection}/query",
];

/// Whether `method` on the route template `route` only reads.
pub(crate) fn only_reads(method: &Method, route: Option<&str>) -> bool {
    match *method {
        Method::GET | Method::HEAD | Method::OPTIONS => true,
        Method::POST => route.is_some_and(|r| READING_POSTS.iter().any(|p| r.ends_with(p))),
        _ => false,
    }
}

pub(crate) async fn refuse_writes(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if state.cfg.read_only {
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str);
        if !only_reads(req.method(), route) {
            return Error::ReadOnly(format!("{} {}", req.method(), req.uri().path()))
                .into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pass_and_everything_else_is_a_write() {
        const C: &str = "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection}";
        assert!(only_reads(&Method::GET, Some(C)));
        assert!(only_reads(&Method::POST, Some(&format!("{C}/get"))));
        assert!(only_reads(&Method::POST, Some(&format!("{C}/query"))));
        for write in ["add", "upsert", "update", "delete", "compact"] {
            assert!(
                !only_reads(&Method::POST, Some(&format!("{C}/{write}"))),
                "{write}"
            );
        }
        assert!(!only_reads(&Method::DELETE, Some(C)));
        assert!(!only_reads(&Method::PUT, Some(C)));
        // A POST to no route at all is refused too (it would be a 404 otherwise).
        assert!(!only_reads(&Method::POST, None));
    }
}
