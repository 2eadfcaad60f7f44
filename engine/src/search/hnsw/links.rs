//! Storage of a graph's layer-0 links: memory of the graph's own, or, after a reopen, the
//! file itself mapped copy-on-write, so opening a saved graph maps it instead of reading and
//! copying it. The first build that grows the graph moves the links into owned memory (a
//! mapping cannot grow); until then queries walk the file's pages in place (through
//! [`MappedWords`], the safe view `store/mmap.rs` gives of them).

use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use crate::store::MappedWords;

/// Layer-0 words of a graph, readable as `[AtomicU32]` either way.
pub(crate) enum Links {
    Owned(Vec<AtomicU32>),
    /// Words of a private mapping of the graph's file.
    Mapped(MappedWords),
}

impl Links {
    /// Words `offset..offset + 4 * words` of `map` as links. `None` when the range is out of
    /// the map or not 4-byte aligned.
    pub(crate) fn mapped(map: memmap2::MmapMut, offset: usize, words: usize) -> Option<Links> {
        MappedWords::new(map, offset, words).map(Links::Mapped)
    }

    /// The links as a growable vector, copying a mapping into owned memory first.
    pub(crate) fn to_mut(&mut self) -> &mut Vec<AtomicU32> {
        if let Links::Mapped(_) = self {
            let owned = self
                .iter()
                .map(|w| AtomicU32::new(w.load(Relaxed)))
                .collect();
            *self = Links::Owned(owned);
        }
        match self {
            Links::Owned(v) => v,
            Links::Mapped(_) => unreachable!("replaced just above"),
        }
    }

    /// Whether the links are the file's pages (for tests and stats).
    #[cfg(test)]
    pub(crate) fn is_mapped(&self) -> bool {
        matches!(self, Links::Mapped(_))
    }
}

impl Default for Links {
    fn default() -> Self {
        Links::Owned(Vec::new())
    }
}

impl Deref for Links {
    type Target = [AtomicU32];

    fn deref(&self) -> &[AtomicU32] {
        match self {
            Links::Owned(v) => v,
            Links::Mapped(m) => m,
        }
    }
}

impl fmt::Debug for Links {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Links::Owned(v) => write!(f, "Links::Owned({} words)", v.len()),
            Links::Mapped(m) => write!(f, "Links::{m:?}"),
        }
    }
}
