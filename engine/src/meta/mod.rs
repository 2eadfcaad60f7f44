//! The SQLite sidecar: the catalog, the records, and the commit log. A write is durable, and
//! visible, when its SQLite transaction commits.

pub(crate) mod catalog;
pub(crate) mod checksums;
mod connections;
pub(crate) mod records;
mod schema;
pub(crate) mod sql;
mod write_queue;

pub(crate) use catalog::{
    CollectionRow, RowMemo, catalog_rows, collection_by_id, collection_by_id_memo,
    collection_by_name,
};
pub(crate) use connections::Sidecar;
pub(crate) use records::{RecordRow, metadata_to_json};
pub(crate) use schema::SQLITE_FILE;
