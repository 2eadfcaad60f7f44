//! Storage of a graph's layer-0 links: memory of the graph's own, or, after a reopen, the
//! file itself mapped copy-on-write, so opening a saved graph maps it instead of reading and
//! copying it. The first build that grows the graph moves the links into owned memory (a
//! mapping cannot grow); until then queries walk the file's pages in place.

use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// Layer-0 words of a graph, readable as `[AtomicU32]` either way.
pub(crate) enum Links {
    Owned(Vec<AtomicU32>),
    /// `words` 4-byte words of a private mapping, starting `offset` bytes in.
    Mapped {
        map: memmap2::MmapMut,
        offset: usize,
        words: usize,
    },
}

impl Links {
    /// Words `offset..offset + 4 * words` of `map` as links. `None` when the range is out of
    /// the map or not 4-byte aligned.
    pub(crate) fn mapped(map: memmap2::MmapMut, offset: usize, words: usize) -> Option<Links> {
        let end = offset.checked_add(words.checked_mul(4)?)?;
        let region = map.get(offset..end)?;
        if !(region.as_ptr() as usize).is_multiple_of(std::mem::align_of::<AtomicU32>()) {
            return None;
        }
        Some(Links::Mapped { map, offset, words })
    }

    /// The links as a growable vector, copying a mapping into owned memory first.
    pub(crate) fn to_mut(&mut self) -> &mut Vec<AtomicU32> {
        if let Links::Mapped { .. } = self {
            let owned = self
                .iter()
                .map(|w| AtomicU32::new(w.load(Relaxed)))
                .collect();
            *self = Links::Owned(owned);
        }
        match self {
            Links::Owned(v) => v,
            Links::Mapped { .. } => unreachable!("replaced just above"),
        }
    }

    /// Whether the links are the file's pages (for tests and stats).
    #[cfg(test)]
    pub(crate) fn is_mapped(&self) -> bool {
        matches!(self, Links::Mapped { .. })
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
            Links::Mapped { map, offset, words } => {
                // SAFETY: `mapped` checked that `offset..offset + 4 * words` lies in the map and
                // is aligned for `AtomicU32`, which has the size and bit validity of `u32`, so
                // any 4 bytes are a valid value. The pointer is the mapping's own (not derived
                // from a `&[u8]`), the mapping is writable and private (copy-on-write) and
                // owned by `self`, so the borrow keeps it alive; a file is only ever replaced
                // by rename, never written in place, so no other writer reaches these pages.
                // Atomics make mutation through `&` sound, as for the owned vector.
                unsafe {
                    std::slice::from_raw_parts(
                        map.as_ptr().add(*offset).cast::<AtomicU32>(),
                        *words,
                    )
                }
            }
        }
    }
}

impl fmt::Debug for Links {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Links::Owned(v) => write!(f, "Links::Owned({} words)", v.len()),
            Links::Mapped { words, .. } => write!(f, "Links::Mapped({words} words)"),
        }
    }
}
