//! What the routes read from the URL besides the body: a collection id in the path, the
//! query string's parameters.

use axum::http::Uri;
use uuid::Uuid;

use crate::error::{Error, Result};

/// Parses a query string into `T`; 400 with the reason if it does not fit.
pub(crate) fn query_params<T: serde::de::DeserializeOwned + Default>(
    raw: Option<String>,
) -> Result<T> {
    match raw {
        None => Ok(T::default()),
        Some(q) => serde_urlencoded_from_str(&q),
    }
}

fn serde_urlencoded_from_str<T: serde::de::DeserializeOwned>(q: &str) -> Result<T> {
    let uri: Uri = format!("/?{q}")
        .parse()
        .map_err(|e| Error::invalid(format!("invalid query string: {e}")))?;
    axum::extract::Query::<T>::try_from_uri(&uri)
        .map(|axum::extract::Query(v)| v)
        .map_err(|e| Error::invalid(format!("invalid query string: {}", e.body_text())))
}

/// A collection id from the path (`PUT`, by-id and record routes take ids).
pub(crate) fn collection_id(raw: &str) -> Result<Uuid> {
    raw.parse()
        .map_err(|_| Error::invalid(format!("Collection ID is not a valid UUIDv4: {raw}")))
}
