//! Input checks shared by every write: names, ids, vectors, metadata. Checks run before any
//! change, so a call that fails changes nothing.

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::types::{Metadata, MetadataPatch, MetadataValue};

/// The largest dimension a collection may have.
pub const MAX_DIMENSION: usize = 65_536;

/// Chroma's collection-name rule: 3-512 chars of `[a-zA-Z0-9._-]`, starting and ending with
/// a letter or digit, no `..`, not an IPv4 address.
pub(crate) fn collection_name(name: &str) -> Result<()> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    let ends_ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if !(3..=512).contains(&name.len()) || !ok_chars || !ends_ok {
        return Err(Error::InvalidCollectionName(format!(
            "Expected a name containing 3-512 characters from [a-zA-Z0-9._-], starting and \
             ending with a character in [a-zA-Z0-9]. Got: {name}"
        )));
    }
    if name.contains("..") {
        return Err(Error::InvalidCollectionName(format!(
            "Expected a name that does not contains two consecutive periods (..). Got {name}"
        )));
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err(Error::InvalidCollectionName(format!(
            "Expected a name that is not a valid ip address. Got {name}"
        )));
    }
    Ok(())
}

/// Ids: at least one, none empty, no duplicates within the call.
pub(crate) fn ids(ids: &[String]) -> Result<()> {
    lookup_ids(ids)?;
    if ids.iter().any(String::is_empty) {
        return Err(Error::EmptyId);
    }
    Ok(())
}

/// Ids naming records to read or delete: at least one, no duplicates. The empty string is a
/// valid (never stored) id here, as in chromadb.
pub(crate) fn lookup_ids(ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Err(Error::invalid(
            "Expected IDs to be a non-empty list, got 0 IDs",
        ));
    }
    let mut seen = HashSet::with_capacity(ids.len());
    let mut dups: Vec<String> = Vec::new();
    for id in ids {
        if !seen.insert(id.as_str()) && !dups.contains(id) {
            dups.push(id.clone());
        }
    }
    if dups.is_empty() {
        Ok(())
    } else {
        Err(Error::DuplicateIds(dups))
    }
}

/// An optional per-record field must have one entry per id.
pub(crate) fn same_len<T>(field: &str, values: Option<&[T]>, n_ids: usize) -> Result<()> {
    match values {
        Some(v) if v.len() != n_ids => Err(Error::invalid(format!(
            "Unequal lengths for fields: ids: {n_ids}, {field}: {}",
            v.len()
        ))),
        _ => Ok(()),
    }
}

/// `n` vectors packed in `flat`: returns their dimension after checking shape and values.
pub(crate) fn embeddings(flat: &[f32], n: usize) -> Result<usize> {
    if n == 0 || !flat.len().is_multiple_of(n) {
        return Err(Error::invalid(format!(
            "Unequal lengths for fields: expected {n} embeddings of equal dimension, got {} floats",
            flat.len()
        )));
    }
    let dim = flat.len() / n;
    if dim == 0 || dim > MAX_DIMENSION {
        return Err(Error::invalid(format!(
            "Embedding dimension must be between 1 and {MAX_DIMENSION}, got {dim}"
        )));
    }
    if let Some(pos) = flat.iter().position(|x| !x.is_finite()) {
        return Err(Error::NonFiniteEmbedding { index: pos / dim });
    }
    Ok(dim)
}

/// The vector dimension must be the collection's.
pub(crate) fn dimension(expected: Option<usize>, got: usize) -> Result<()> {
    match expected {
        Some(expected) if expected != got => Err(Error::DimensionMismatch { expected, got }),
        _ => Ok(()),
    }
}

/// A collection's metadata: keys usable, values of Chroma's types.
pub(crate) fn collection_metadata(m: &Metadata) -> Result<()> {
    m.iter()
        .try_for_each(|(k, v)| key(k, 0).and_then(|()| value(k, v)))
}

/// Record `index`'s metadata: not empty (chromadb refuses `{}`), keys usable, values of
/// Chroma's types.
pub(crate) fn metadata(index: usize, m: &Metadata) -> Result<()> {
    non_empty(m.len())?;
    m.iter()
        .try_for_each(|(k, v)| key(k, index).and_then(|()| value(k, v)))
}

/// A metadata patch for record `index`: as [`metadata`], where `None` (remove the key) is
/// also allowed.
pub(crate) fn metadata_patch(index: usize, m: &MetadataPatch) -> Result<()> {
    non_empty(m.len())?;
    m.iter().try_for_each(|(k, v)| {
        key(k, index).and_then(|()| v.as_ref().map_or(Ok(()), |v| value(k, v)))
    })
}

fn non_empty(len: usize) -> Result<()> {
    if len == 0 {
        return Err(Error::invalid(
            "Expected metadata to be a non-empty dict, got 0 metadata attributes; pass None for \
             no metadata",
        ));
    }
    Ok(())
}

fn key(k: &str, index: usize) -> Result<()> {
    if k.is_empty() || k.starts_with('#') || k.starts_with('$') {
        return Err(Error::invalid(format!(
            "Validation error: metadatas: Invalid metadata at index {index}: key {k:?} must be \
             non-empty and not start with '#' or '$'"
        )));
    }
    if k == "chroma:document" {
        return Err(Error::invalid(
            "Expected metadata to not contain the reserved key chroma:document",
        ));
    }
    Ok(())
}

fn value(k: &str, v: &MetadataValue) -> Result<()> {
    let empty = match v {
        MetadataValue::BoolList(l) => l.is_empty(),
        MetadataValue::IntList(l) => l.is_empty(),
        MetadataValue::FloatList(l) => l.is_empty(),
        MetadataValue::StrList(l) => l.is_empty(),
        _ => false,
    };
    if empty {
        return Err(Error::invalid(format!(
            "Expected metadata list value for key '{k}' to be non-empty"
        )));
    }
    let finite = match v {
        MetadataValue::Float(f) => f.is_finite(),
        MetadataValue::FloatList(l) => l.iter().all(|f| f.is_finite()),
        _ => true,
    };
    if !finite {
        return Err(Error::invalid(format!(
            "Metadata value for key '{k}' must be a finite number (NaN and infinity cannot be stored)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_names_follow_chroma() {
        for ok in ["abc", "a.b-c_d", "A1b", &"x".repeat(512)] {
            assert!(collection_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "-abc",
            "abc-",
            "a..b",
            "192.168.1.1",
            "ab c",
            "é12",
            &"x".repeat(513),
        ] {
            assert!(
                matches!(collection_name(bad), Err(Error::InvalidCollectionName(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn ids_reject_empty_and_duplicates() {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(ids(&v(&["a", "b"])).is_ok());
        assert!(matches!(ids(&[]), Err(Error::InvalidArgument(_))));
        assert!(matches!(ids(&v(&["a", ""])), Err(Error::EmptyId)));
        assert!(lookup_ids(&v(&["a", ""])).is_ok());
        assert!(matches!(
            lookup_ids(&v(&["a", "a"])),
            Err(Error::DuplicateIds(_))
        ));
        match ids(&v(&["a", "b", "a", "a", "b"])) {
            Err(Error::DuplicateIds(d)) => assert_eq!(d, v(&["a", "b"])),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn embeddings_shape_and_values() {
        assert_eq!(embeddings(&[1.0, 2.0, 3.0, 4.0], 2).unwrap(), 2);
        assert!(embeddings(&[1.0, 2.0, 3.0], 2).is_err());
        assert!(embeddings(&[], 1).is_err());
        assert!(matches!(
            embeddings(&[1.0, 2.0, f32::NAN, 4.0], 2),
            Err(Error::NonFiniteEmbedding { index: 1 })
        ));
        assert!(embeddings(&[f32::INFINITY], 1).is_err());
    }

    #[test]
    fn metadata_keys_and_values() {
        let m = |k: &str, v: MetadataValue| Metadata::from([(k.to_owned(), v)]);
        assert!(metadata(0, &m("a", 1i64.into())).is_ok());
        assert!(metadata(0, &Metadata::new()).is_err());
        assert!(collection_metadata(&Metadata::new()).is_ok());
        assert!(metadata(0, &m("", 1i64.into())).is_err());
        assert!(metadata(0, &m("#a", 1i64.into())).is_err());
        assert!(metadata(0, &m("$a", 1i64.into())).is_err());
        assert!(metadata(0, &m("chroma:document", "x".into())).is_err());
        assert!(metadata(0, &m("a", MetadataValue::IntList(vec![]))).is_err());
        assert!(metadata(0, &m("a", f64::NAN.into())).is_err());
        let p = MetadataPatch::from([("a".to_owned(), None)]);
        assert!(metadata_patch(0, &p).is_ok());
        assert!(metadata_patch(0, &MetadataPatch::new()).is_err());
    }
}
