//! Changes to a collection's catalog row: its name, its metadata and the configuration
//! chromadb lets a collection change after creation. The records and vectors are untouched.

use super::Collection;
use crate::config::{CollectionConfig, HnswConfigUpdate};
use crate::error::{Error, Result};
use crate::meta;
use crate::request::CollectionCall;
use crate::types::Metadata;
use crate::validate;

impl Collection {
    /// Renames the collection and/or replaces its metadata (`Some(None)` clears it), as
    /// chromadb's `modify`.
    pub fn modify(
        &self,
        new_name: Option<&str>,
        metadata: Option<Option<&Metadata>>,
    ) -> Result<()> {
        if let Some(n) = new_name {
            validate::collection_name(n)?;
        }
        if let Some(Some(m)) = metadata {
            validate::collection_metadata(m, CollectionCall::Modify)?;
        }
        self.db.sidecar.write(|tx| {
            let row = self.row(tx)?;
            if let Some(n) = new_name
                && n != row.name
                && meta::collection_by_name(tx, n)?.is_some()
            {
                return Err(Error::CollectionExists(n.to_owned()));
            }
            let json = metadata.map(|m| meta::metadata_to_json(m));
            meta::catalog::modify_collection(
                tx,
                row.key,
                new_name,
                json.as_ref().map(|j| j.as_deref()),
            )
        })
    }

    /// Changes the settings chromadb lets a collection change after creation (`ef_search`
    /// and the bookkeeping knobs) and returns the new configuration.
    pub fn modify_configuration(&self, update: &HnswConfigUpdate) -> Result<CollectionConfig> {
        self.db.sidecar.write(|tx| {
            let row = self.row(tx)?;
            let next = CollectionConfig {
                hnsw: row.config.hnsw.updated(update)?,
                embedding_function: row.config.embedding_function.clone(),
            };
            meta::catalog::set_configuration(tx, row.key, &next)?;
            Ok(next)
        })
    }
}
