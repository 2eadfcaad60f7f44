//! Unit tests of the checks; the same cases through every layer are in
//! `engine/tests/it/validation.rs` and `tests/test_one_validator.py`.

use super::*;
use crate::ErrorKind;

fn v(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

fn add<'a>(ids: &'a [String], data: &'a [f32], dim: usize) -> Records<'a, Metadata> {
    Records {
        op: Op::Add,
        ids,
        embeddings: Some(Vectors::new(data, dim)),
        documents: None,
        uris: None,
        metadatas: None,
    }
}

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
    let ids = v(&["a", "b"]);
    assert!(add(&ids, &[1.0, 2.0], 1).check().is_ok());
    assert!(matches!(
        lookup_ids(&[], Op::Get),
        Err(Error::Refused {
            kind: ErrorKind::ValueError,
            ..
        })
    ));
    let ids = v(&["a", ""]);
    assert!(matches!(
        add(&ids, &[1.0, 2.0], 1).check(),
        Err(Error::EmptyId)
    ));
    assert!(lookup_ids(&ids, Op::Get).is_ok());
    match lookup_ids(&v(&["a", "b", "a", "a", "b"]), Op::Delete) {
        Err(e @ Error::DuplicateIds { .. }) => assert_eq!(
            e.to_string(),
            "Expected IDs to be unique, found duplicates of: a, b in delete."
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn many_duplicates_are_summarized_as_chromadb_does() {
    let ids: Vec<String> = (0..24).map(|i| format!("i{}", i / 2)).collect();
    let e = lookup_ids(&ids, Op::Add).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Expected IDs to be unique, found 12 duplicated IDs: i0, i1, i2, i3, i4, ..., i6, i7, \
         i8, i9, i10 in add."
    );
}

#[test]
fn record_set_lengths_follow_chromadb() {
    let ids = v(&["a", "b"]);
    let e = add(&ids, &[1.0, 2.0], 2).check().unwrap_err();
    assert_eq!(
        e.to_string(),
        "Unequal lengths for fields: ids: 2, embeddings: 1 in add."
    );
    let docs = vec![Some("x".to_string())];
    let mut r = add(&ids, &[1.0, 2.0], 1);
    r.documents = Some(&docs);
    assert_eq!(
        r.check().unwrap_err().to_string(),
        "Unequal lengths for fields: ids: 2, embeddings: 2, documents: 1 in add."
    );
    let none: [String; 0] = [];
    let e = add(&none, &[1.0, 2.0], 2).check().unwrap_err();
    assert_eq!(
        e.to_string(),
        "Non-empty lists are required for ['ids'] in add."
    );
    let e = add(&none, &[], 0).check().unwrap_err();
    assert_eq!(e.to_string(), format!("{EMPTY_EMBEDDINGS} in add."));
    // Only a Rust caller can hand over a buffer of partial rows.
    assert_eq!(
        add(&ids, &[1.0, 2.0, 3.0], 2).check().unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn vectors_are_finite_and_bounded() {
    let ids = v(&["a", "b"]);
    assert_eq!(
        add(&ids, &[1.0, 2.0, 3.0, 4.0], 2).check().unwrap(),
        Some(2)
    );
    assert!(matches!(
        add(&ids, &[1.0, 2.0, f32::NAN, 4.0], 2).check(),
        Err(Error::NonFiniteEmbedding { index: 1 })
    ));
    let ids = v(&["a"]);
    let wide = vec![0.0; MAX_DIMENSION + 1];
    assert!(add(&ids, &wide, MAX_DIMENSION + 1).check().is_err());
}

#[test]
fn documents_to_embed_are_all_given() {
    let ids = v(&["a"]);
    let docs = vec![None];
    let update = Records::<MetadataPatch> {
        op: Op::Update,
        ids: &ids,
        embeddings: None,
        documents: Some(&docs),
        uris: None,
        metadatas: None,
    };
    // Before embedding (chromadb's order): the documents are what is embedded.
    assert_eq!(
        update.check_before_embedding().unwrap_err().to_string(),
        "Expected document to be a str, got None in update."
    );
    // The write itself: `None` keeps the stored document.
    assert!(update.check().is_ok());
    let with_vectors = Records {
        embeddings: Some(Vectors::new(&[1.0], 1)),
        ..update
    };
    assert!(with_vectors.check_before_embedding().is_ok());
}

#[test]
fn metadata_keys_and_values() {
    let m = |k: &str, v: MetadataValue| Metadata::from([(k.to_owned(), v)]);
    let check = |md: Metadata| {
        let ids = v(&["a"]);
        let mds = [Some(md)];
        let mut r = add(&ids, &[1.0], 1);
        r.metadatas = Some(&mds);
        r.check().map(|_| ())
    };
    assert!(check(m("a", 1i64.into())).is_ok());
    assert_eq!(
        check(Metadata::new()).unwrap_err().to_string(),
        "Expected metadata to be a non-empty dict, got 0 metadata attributes in add."
    );
    assert_eq!(
        collection_metadata(&Metadata::new(), CollectionCall::Create)
            .unwrap_err()
            .to_string(),
        "Validation error: metadata: Metadata cannot be empty"
    );
    assert!(collection_metadata(&Metadata::new(), CollectionCall::Modify).is_ok());
    assert_eq!(
        collection_metadata(&m("hnsw:space", "ip".into()), CollectionCall::Modify)
            .unwrap_err()
            .kind(),
        ErrorKind::ValueError
    );
    for key in ["", "#a", "$a"] {
        assert_eq!(
            check(m(key, 1i64.into())).unwrap_err().kind(),
            ErrorKind::InvalidArgument,
            "{key}"
        );
    }
    assert_eq!(
        check(m("chroma:document", "x".into())).unwrap_err().kind(),
        ErrorKind::ValueError
    );
    assert_eq!(
        check(m("a", MetadataValue::IntList(vec![])))
            .unwrap_err()
            .to_string(),
        "Expected metadata list value for key 'a' to be non-empty in add."
    );
    assert_eq!(
        check(m("a", f64::NAN.into())).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    let p = MetadataPatch::from([("a".to_owned(), None)]);
    assert!(metadata_client(&p, Op::Update).is_ok());
    assert!(metadata_client(&MetadataPatch::new(), Op::Update).is_err());
}
