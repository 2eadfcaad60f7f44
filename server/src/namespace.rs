//! Tenants and databases over engine databases: the default tenant's default database is the
//! engine database in `--path` itself; every other database is its own engine database in
//! `--path/databases/<uuid>/`, named in a small catalog file `--path/mnemodb-server.json`.
//!
//! Engine databases are opened on first use and kept open until shutdown.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use mnemodb::Database;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};

/// chromadb's default tenant.
pub const DEFAULT_TENANT: &str = "default_tenant";
/// chromadb's default database.
pub const DEFAULT_DATABASE: &str = "default_database";
/// The catalog of tenants and extra databases, inside the data directory.
pub const CATALOG_FILE: &str = "mnemodb-server.json";
/// Directory (inside the data directory) of the databases other than the default one.
pub const DATABASES_DIR: &str = "databases";

/// A database as chromadb names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DatabaseEntry {
    /// Stable id (all zeros for the default database, as in chromadb).
    pub id: Uuid,
    /// The database's name, unique within its tenant.
    pub name: String,
    /// The tenant it belongs to.
    pub tenant: String,
}

/// The persisted catalog.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Catalog {
    format: u32,
    tenants: Vec<String>,
    databases: Vec<DatabaseEntry>,
    /// The `embedding_function` part of each collection's configuration, by collection id, as
    /// chromadb's client sent it (`{"type": "known", "name": ..., "config": ...}`), so a
    /// client that gets the collection later rebuilds the same embedding function. (The
    /// engine's configuration has no place for it yet.)
    #[serde(default)]
    embedding_functions: std::collections::BTreeMap<Uuid, serde_json::Value>,
}

const CATALOG_FORMAT: u32 = 1;

/// Every tenant and database the server serves.
#[derive(Debug)]
pub struct Namespaces {
    root: PathBuf,
    catalog: Mutex<Catalog>,
    open: Mutex<HashMap<Uuid, Database>>,
}

impl Namespaces {
    /// Opens (creating if needed) the data directory `root` and its default database.
    pub fn open(root: &Path) -> Result<Namespaces> {
        std::fs::create_dir_all(root).map_err(|e| Error::io("create", root.display(), e))?;
        let catalog = match read_catalog(root)? {
            Some((_, c)) => c,
            None => Catalog {
                format: CATALOG_FORMAT,
                ..Catalog::default()
            },
        };
        let ns = Namespaces {
            root: root.to_path_buf(),
            catalog: Mutex::new(catalog),
            open: Mutex::default(),
        };
        ns.database(DEFAULT_TENANT, DEFAULT_DATABASE)?;
        Ok(ns)
    }

    /// The data directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn catalog(&self) -> std::sync::MutexGuard<'_, Catalog> {
        self.catalog.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn default_entry() -> DatabaseEntry {
        DatabaseEntry {
            id: Uuid::nil(),
            name: DEFAULT_DATABASE.to_owned(),
            tenant: DEFAULT_TENANT.to_owned(),
        }
    }

    /// Whether the tenant exists.
    pub fn tenant_exists(&self, name: &str) -> bool {
        name == DEFAULT_TENANT || self.catalog().tenants.iter().any(|t| t == name)
    }

    /// `Tenant [name] not found` unless it exists.
    pub fn require_tenant(&self, name: &str) -> Result<()> {
        if self.tenant_exists(name) {
            Ok(())
        } else {
            Err(Error::NotFound(format!("Tenant [{name}] not found")))
        }
    }

    /// Creates a tenant (at least 3 characters, as chromadb requires).
    pub fn create_tenant(&self, name: &str) -> Result<()> {
        if name.chars().count() < 3 {
            return Err(Error::invalid(format!(
                "Validation error: name: tenant names need at least 3 characters, got {name:?}"
            )));
        }
        let mut c = self.catalog();
        if name == DEFAULT_TENANT || c.tenants.iter().any(|t| t == name) {
            return Err(Error::AlreadyExists(format!(
                "Tenant [{name}] already exists"
            )));
        }
        c.tenants.push(name.to_owned());
        self.save(&c)
    }

    /// The database `name` of `tenant`.
    pub fn get_database(&self, tenant: &str, name: &str) -> Result<DatabaseEntry> {
        if tenant == DEFAULT_TENANT && name == DEFAULT_DATABASE {
            return Ok(Self::default_entry());
        }
        self.catalog()
            .databases
            .iter()
            .find(|d| d.tenant == tenant && d.name == name)
            .cloned()
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "Database [{name}] not found. Are you sure it exists?"
                ))
            })
    }

    /// The databases of `tenant`, oldest first, paged.
    pub fn list_databases(
        &self,
        tenant: &str,
        limit: Option<usize>,
        offset: usize,
    ) -> Vec<DatabaseEntry> {
        let c = self.catalog();
        let default = (tenant == DEFAULT_TENANT).then(Self::default_entry);
        default
            .into_iter()
            .chain(c.databases.iter().filter(|d| d.tenant == tenant).cloned())
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
            .collect()
    }

    /// Creates a database (chromadb's collection-name rule applies to its name). Like
    /// chromadb's server, the tenant need not have been created.
    pub fn create_database(&self, tenant: &str, name: &str) -> Result<DatabaseEntry> {
        validate_name(name)?;
        let mut c = self.catalog();
        let taken = (tenant == DEFAULT_TENANT && name == DEFAULT_DATABASE)
            || c.databases
                .iter()
                .any(|d| d.tenant == tenant && d.name == name);
        if taken {
            return Err(Error::AlreadyExists(format!(
                "Database [{name}] already exists"
            )));
        }
        let entry = DatabaseEntry {
            id: Uuid::new_v4(),
            name: name.to_owned(),
            tenant: tenant.to_owned(),
        };
        c.databases.push(entry.clone());
        self.save(&c)?;
        Ok(entry)
    }

    /// Deletes a database and every collection in it. The default database cannot be deleted.
    pub fn delete_database(&self, tenant: &str, name: &str) -> Result<()> {
        if tenant == DEFAULT_TENANT && name == DEFAULT_DATABASE {
            return Err(Error::invalid(
                "the default database cannot be deleted; delete its collections instead",
            ));
        }
        // The collections' embedding function descriptors go with the database.
        let doomed: Vec<Uuid> = match self.get_database(tenant, name) {
            Ok(entry) => self
                .open_entry(&entry)
                .and_then(|db| Ok(db.list_collections()?))
                .map(|infos| infos.into_iter().map(|i| i.id).collect())
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let mut c = self.catalog();
        for id in &doomed {
            c.embedding_functions.remove(id);
        }
        let at = c
            .databases
            .iter()
            .position(|d| d.tenant == tenant && d.name == name)
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "Database [{name}] not found. Are you sure it exists?"
                ))
            })?;
        let entry = c.databases.remove(at);
        self.save(&c)?;
        drop(c);
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&entry.id);
        remove_dir_if_present(&self.dir_of(entry.id))
    }

    /// The engine database behind `tenant`/`name`, opened on first use.
    pub fn database(&self, tenant: &str, name: &str) -> Result<Database> {
        self.require_tenant(tenant)?;
        let entry = self.get_database(tenant, name)?;
        self.open_entry(&entry)
    }

    fn open_entry(&self, entry: &DatabaseEntry) -> Result<Database> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(db) = open.get(&entry.id) {
            return Ok(db.clone());
        }
        let db = Database::open(self.dir_of(entry.id))?;
        open.insert(entry.id, db.clone());
        Ok(db)
    }

    /// Every database with its engine handle (for metrics and reset).
    pub fn all(&self) -> Result<Vec<(DatabaseEntry, Database)>> {
        let entries: Vec<DatabaseEntry> = std::iter::once(Self::default_entry())
            .chain(self.catalog().databases.iter().cloned())
            .collect();
        entries
            .into_iter()
            .map(|e| {
                let db = self.open_entry(&e)?;
                Ok((e, db))
            })
            .collect()
    }

    /// chromadb's reset: every collection, every extra database and tenant is deleted.
    pub fn reset(&self) -> Result<()> {
        for (entry, db) in self.all()? {
            if entry.id.is_nil() {
                for info in db.list_collections()? {
                    db.delete_collection(&info.name)?;
                }
            } else {
                self.delete_database(&entry.tenant, &entry.name)?;
            }
        }
        let mut c = self.catalog();
        c.tenants.clear();
        c.databases.clear();
        c.embedding_functions.clear();
        self.save(&c)
    }

    /// The embedding function descriptor stored for a collection.
    pub fn embedding_function(&self, collection: Uuid) -> Option<serde_json::Value> {
        self.catalog().embedding_functions.get(&collection).cloned()
    }

    /// Stores a collection's embedding function descriptor (`replace: false` keeps one
    /// already stored, for get-or-create). `null` stores nothing.
    pub fn set_embedding_function(
        &self,
        collection: Uuid,
        ef: &serde_json::Value,
        replace: bool,
    ) -> Result<()> {
        if ef.is_null() {
            return Ok(());
        }
        let mut c = self.catalog();
        if !replace && c.embedding_functions.contains_key(&collection) {
            return Ok(());
        }
        if c.embedding_functions.get(&collection) == Some(ef) {
            return Ok(());
        }
        c.embedding_functions.insert(collection, ef.clone());
        self.save(&c)
    }

    /// Forgets a deleted collection's embedding function descriptor.
    pub fn forget_embedding_function(&self, collection: Uuid) -> Result<()> {
        let mut c = self.catalog();
        if c.embedding_functions.remove(&collection).is_some() {
            self.save(&c)?;
        }
        Ok(())
    }

    /// Closes every open engine database: background jobs (index building) get `CLOSE_WAIT`
    /// to finish, the rest are cancelled, and the derived files are saved; then the handles
    /// are dropped (their files are closed when the last handle goes).
    pub fn close(&self) {
        /// How long a shutdown lets index building go on before cancelling it.
        const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
        let open: Vec<Database> = self
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .map(|(_, db)| db)
            .collect();
        for db in open {
            db.close(CLOSE_WAIT);
        }
    }

    fn dir_of(&self, id: Uuid) -> PathBuf {
        database_dir(&self.root, id)
    }

    /// Writes the catalog atomically (see [`write_catalog`]).
    fn save(&self, c: &Catalog) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(c).map_err(|e| Error::Internal(e.to_string()))?;
        write_catalog(&self.root, &bytes)
    }
}

/// The directory of database `id` in the data directory `root` (`root` itself for the
/// default database).
fn database_dir(root: &Path, id: Uuid) -> PathBuf {
    if id.is_nil() {
        root.to_path_buf()
    } else {
        root.join(DATABASES_DIR).join(id.to_string())
    }
}

/// The catalog file of `root` as read now (its bytes and what they say), or `None` when
/// there is none (a data directory no server has named a database in, or a plain engine
/// database).
fn read_catalog(root: &Path) -> Result<Option<(Vec<u8>, Catalog)>> {
    let file = root.join(CATALOG_FILE);
    let bytes = match std::fs::read(&file) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read", file.display(), e)),
    };
    let c: Catalog = serde_json::from_slice(&bytes).map_err(|e| {
        Error::BadFile(format!(
            "{}: not a mnemodb server catalog ({e}); move it away to start afresh",
            file.display()
        ))
    })?;
    if c.format != CATALOG_FORMAT {
        return Err(Error::BadFile(format!(
            "{}: catalog format {} is not supported (this build reads {CATALOG_FORMAT}); \
             upgrade mnemodb",
            file.display(),
            c.format
        )));
    }
    Ok(Some((bytes, c)))
}

/// Writes `bytes` as the catalog of `root` atomically: a temporary file, synced, renamed
/// over the old one, the directory synced.
fn write_catalog(root: &Path, bytes: &[u8]) -> Result<()> {
    let file = root.join(CATALOG_FILE);
    let tmp = root.join(format!("{CATALOG_FILE}.tmp"));
    let write = || -> std::io::Result<()> {
        use std::io::Write as _;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &file)?;
        std::fs::File::open(root)?.sync_all()
    };
    write().map_err(|e| Error::io("write", file.display(), e))
}

/// What a backup of a data directory copies besides its default database: the catalog's
/// bytes as they were read, and every other database it names (the default database's
/// collections keep their embedding functions in the catalog too).
#[derive(Debug)]
pub(crate) struct CatalogCopy {
    bytes: Vec<u8>,
    /// Each database other than the default one.
    pub(crate) databases: Vec<DatabaseEntry>,
}

impl CatalogCopy {
    /// The catalog of `root` as it is now (`None` without one); nothing is opened or written.
    pub(crate) fn read(root: &Path) -> Result<Option<CatalogCopy>> {
        Ok(read_catalog(root)?.map(|(bytes, c)| CatalogCopy {
            bytes,
            databases: c.databases.into_iter().filter(|d| !d.id.is_nil()).collect(),
        }))
    }

    /// The directory of database `entry` in the data directory `root`.
    pub(crate) fn dir_in(root: &Path, entry: &DatabaseEntry) -> PathBuf {
        database_dir(root, entry.id)
    }

    /// Writes the catalog into `dest` (after the databases it names are there).
    pub(crate) fn write_to(&self, dest: &Path) -> Result<()> {
        write_catalog(dest, &self.bytes)
    }
}

/// chromadb's rule for collection and database names (the engine's, which it checks for
/// collection names itself).
pub fn validate_name(name: &str) -> Result<()> {
    mnemodb::validate_collection_name(name).map_err(|e| Error::invalid(e.to_string()))
}

fn remove_dir_if_present(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", dir.display(), e)),
    }
}
