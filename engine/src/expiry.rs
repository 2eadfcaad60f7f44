//! Record expiry (TTL): when a record stops being visible, the clock reads compare it with,
//! and the collection default (`mnemodb:ttl` in a collection's metadata).
//!
//! A record's expiry is stored in `records.expires_at` (milliseconds since the Unix epoch).
//! Every read takes the time once from the database's [`Clock`] and leaves out records whose
//! expiry is at or before it; an `ExpirySweep` job deletes them later (see `db.rs` for the
//! timer that queues it and `collection/expiry.rs` for the sweep).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, ErrorKind, Result};
use crate::types::{Metadata, MetadataValue};

/// The collection metadata key that gives records written without an expiry of their own a
/// time to live, in seconds (a positive number), counted from each record's last write.
pub const TTL_KEY: &str = "mnemodb:ttl";

/// Where the database reads the time: the system clock, or a manual one that tests and
/// simulations set and advance. Cheap to clone; clones of a manual clock share its time.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// A clock that reads `start_ms` (milliseconds since the Unix epoch) until it is set or
    /// advanced.
    pub fn manual(start_ms: i64) -> Clock {
        Clock {
            manual: Some(Arc::new(AtomicI64::new(start_ms))),
        }
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        match &self.manual {
            Some(t) => t.load(Ordering::SeqCst),
            None => system_ms(),
        }
    }

    /// Moves a manual clock forward by `by` (the system clock is not moved).
    pub fn advance(&self, by: Duration) {
        if let Some(t) = &self.manual {
            t.fetch_add(duration_ms(by), Ordering::SeqCst);
        }
    }

    /// Sets a manual clock to `ms` since the Unix epoch (the system clock is not set).
    pub fn set_ms(&self, ms: i64) {
        if let Some(t) = &self.manual {
            t.store(ms, Ordering::SeqCst);
        }
    }
}

fn system_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, duration_ms)
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// When the records of one write expire.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Expiry {
    /// Never (clears an expiry the record had).
    Never,
    /// This long after the write.
    After(Duration),
    /// At this time, in milliseconds since the Unix epoch (a time already past makes the
    /// records invisible at once).
    AtMs(i64),
}

impl Expiry {
    /// A time to live of `secs` seconds, as Python's `ttl=` gives it: a finite number, zero or
    /// more.
    pub fn ttl_secs(secs: f64) -> Result<Expiry> {
        if !secs.is_finite() || secs < 0.0 {
            return Err(refused(format!(
                "ttl must be a finite number of seconds, zero or more, got {secs}"
            )));
        }
        Ok(Expiry::After(Duration::from_secs_f64(secs.min(1e15))))
    }

    /// An expiry at `secs` seconds since the Unix epoch, as Python's `expires_at=` gives it.
    pub fn at_epoch_secs(secs: f64) -> Result<Expiry> {
        if !secs.is_finite() {
            return Err(refused(format!(
                "expires_at must be a finite time in seconds since the epoch, got {secs}"
            )));
        }
        Ok(Expiry::AtMs(
            (secs * 1000.0).round().clamp(-1e17, 1e17) as i64
        ))
    }

    /// The expiry of Python's `ttl=` / `expires_at=` keywords (seconds; at most one given).
    pub fn from_keywords(ttl: Option<f64>, expires_at: Option<f64>) -> Result<Option<Expiry>> {
        match (ttl, expires_at) {
            (None, None) => Ok(None),
            (Some(t), None) => Expiry::ttl_secs(t).map(Some),
            (None, Some(at)) => Expiry::at_epoch_secs(at).map(Some),
            (Some(_), Some(_)) => Err(refused("give ttl or expires_at, not both".to_owned())),
        }
    }

    /// The `expires_at` value to store for a write at `now_ms`.
    pub(crate) fn resolve(self, now_ms: i64) -> Option<i64> {
        match self {
            Expiry::Never => None,
            Expiry::After(d) => Some(now_ms.saturating_add(duration_ms(d))),
            Expiry::AtMs(ms) => Some(ms),
        }
    }
}

/// The time to live a collection's metadata gives its records (`None`: none).
pub(crate) fn collection_ttl(metadata: Option<&Metadata>) -> Option<Expiry> {
    let secs = match metadata?.get(TTL_KEY)? {
        MetadataValue::Int(i) => *i as f64,
        MetadataValue::Float(f) => *f,
        _ => return None,
    };
    Expiry::ttl_secs(secs).ok()
}

/// Checks the `mnemodb:ttl` key of collection metadata: a positive number of seconds.
pub(crate) fn check_collection_ttl(metadata: &Metadata) -> Result<()> {
    let Some(value) = metadata.get(TTL_KEY) else {
        return Ok(());
    };
    let ok = match value {
        MetadataValue::Int(i) => *i > 0,
        MetadataValue::Float(f) => f.is_finite() && *f > 0.0,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(refused(format!(
            "collection metadata '{TTL_KEY}' must be a positive number of seconds, got {value:?}"
        )))
    }
}

fn refused(message: String) -> Error {
    Error::Refused {
        kind: ErrorKind::ValueError,
        message,
        op: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_are_checked_and_resolved_against_the_write_time() {
        assert!(Expiry::ttl_secs(-1.0).is_err());
        assert!(Expiry::ttl_secs(f64::NAN).is_err());
        assert!(Expiry::at_epoch_secs(f64::INFINITY).is_err());
        assert_eq!(Expiry::ttl_secs(1.5).unwrap().resolve(1000), Some(2500));
        assert_eq!(
            Expiry::at_epoch_secs(2.0).unwrap().resolve(1000),
            Some(2000)
        );
        assert_eq!(Expiry::Never.resolve(1000), None);
        assert!(Expiry::from_keywords(Some(1.0), Some(1.0)).is_err());
        assert_eq!(Expiry::from_keywords(None, None).unwrap(), None);
        let bad = Metadata::from([(TTL_KEY.to_owned(), MetadataValue::Int(0))]);
        assert!(check_collection_ttl(&bad).is_err());
        let bad = Metadata::from([(TTL_KEY.to_owned(), MetadataValue::Str("1".into()))]);
        assert!(check_collection_ttl(&bad).is_err());
        let good = Metadata::from([(TTL_KEY.to_owned(), MetadataValue::Float(0.5))]);
        assert!(check_collection_ttl(&good).is_ok());
        assert_eq!(
            collection_ttl(Some(&good)).and_then(|e| e.resolve(0)),
            Some(500)
        );
        let clock = Clock::manual(10);
        clock.clone().advance(Duration::from_millis(5));
        assert_eq!(clock.now_ms(), 15);
    }
}
