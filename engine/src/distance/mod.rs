//! Distance functions as Chroma defines them, and the choice of SIMD path that computes them.
//!
//! `scalar` is the oracle and the fallback; other files hold one instruction set each
//! (`portable` with `wide`, `x86` with AVX2+FMA and AVX-512F intrinsics, `neon` on aarch64).
//! The path is chosen once per process ([`Isa::selected`]) and a [`Kernel`] dispatches once per
//! call over a block of rows, never per vector pair.
//!
//! Unsafe contract: the AVX2 and AVX-512 kernels are `#[target_feature]` functions, sound to
//! call only on a CPU that has those features. A [`Kernel`] can only be made by
//! [`Kernel::new`] or [`Kernel::with_isa`], which admit available paths only, so holding a
//! `Kernel` proves its path runs here; [`Kernel::distances`] relies on that.

#[cfg(target_arch = "aarch64")]
mod neon;
mod portable;
mod scalar;
pub(crate) mod sq8;
#[cfg(test)]
mod tests;
#[cfg(target_arch = "x86_64")]
mod x86;

use std::sync::OnceLock;

use crate::error::{Error, Result};

/// The distance a collection ranks by, as Chroma defines it.
///
/// * `L2`: squared Euclidean distance, `sum((a - b)^2)`.
/// * `Ip`: `1 - a.b` (can be negative).
/// * `Cosine`: `1 - a.b / (|a| |b| + 1e-30)`. A zero vector is at distance exactly `1.0`
///   from everything (the `1e-30` keeps the quotient finite), so the result is never NaN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Space {
    /// Squared Euclidean distance (Chroma's default).
    #[default]
    L2,
    /// Inner product distance, `1 - a.b`.
    Ip,
    /// Cosine distance, `1 - cos(a, b)`.
    Cosine,
}

impl Space {
    /// Chroma's name for the space: `l2`, `ip` or `cosine`.
    pub fn as_str(self) -> &'static str {
        match self {
            Space::L2 => "l2",
            Space::Ip => "ip",
            Space::Cosine => "cosine",
        }
    }
}

impl std::str::FromStr for Space {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "l2" => Ok(Space::L2),
            "ip" => Ok(Space::Ip),
            "cosine" => Ok(Space::Cosine),
            other => Err(Error::invalid(format!(
                "unknown variant `{other}`, expected one of `l2`, `cosine`, `ip`"
            ))),
        }
    }
}

impl std::fmt::Display for Space {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An instruction-set path for the distance kernels.
///
/// Every variant exists on every build so `MNEMODB_SIMD` names mean the same everywhere; a
/// path for another architecture is simply never [available](Isa::available).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Plain Rust, one element at a time: the oracle and the fallback.
    Scalar,
    /// `wide::f32x8`, compiled for the build's baseline (SSE2 on x86_64, NEON on aarch64).
    Portable,
    /// x86_64 AVX2 with FMA, 256-bit registers.
    Avx2,
    /// x86_64 AVX-512F, 512-bit registers and masked tails.
    Avx512,
    /// aarch64 NEON, 128-bit registers.
    Neon,
}

impl Isa {
    /// Every path this build knows, available on this CPU or not.
    pub const ALL: &'static [Isa] = &[
        Isa::Scalar,
        Isa::Portable,
        Isa::Avx2,
        Isa::Avx512,
        Isa::Neon,
    ];

    /// The name used by `MNEMODB_SIMD`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Neon => "neon",
        }
    }

    /// Whether this CPU (and this build) can run the path.
    pub fn available(self) -> bool {
        // `is_*_feature_detected!` caches its answer in the standard library, so this is a
        // load and a test: cheap enough for every `Kernel::with_isa`.
        match self {
            Isa::Scalar | Isa::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => is_x86_feature_detected!("avx512f"),
            #[cfg(not(target_arch = "x86_64"))]
            Isa::Avx2 | Isa::Avx512 => false,
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            #[cfg(not(target_arch = "aarch64"))]
            Isa::Neon => false,
        }
    }

    /// The paths this CPU can run, in [`Isa::ALL`] order (tests and benchmarks walk them all).
    pub fn available_paths() -> impl Iterator<Item = Isa> {
        Isa::ALL.iter().copied().filter(|isa| isa.available())
    }

    /// The best available path: avx512 > avx2 > neon > portable. Detected once, then cached.
    pub fn detect() -> Isa {
        static BEST: OnceLock<Isa> = OnceLock::new();
        *BEST.get_or_init(|| {
            [Isa::Avx512, Isa::Avx2, Isa::Neon]
                .into_iter()
                .find(|isa| isa.available())
                // `wide` compiles for the build's baseline, so it runs wherever the crate does.
                .unwrap_or(Isa::Portable)
        })
    }

    /// The path this process uses: `MNEMODB_SIMD` if set, else [`Isa::detect`]; decided once.
    pub fn selected() -> Result<Isa> {
        static CHOICE: OnceLock<std::result::Result<Isa, (String, String)>> = OnceLock::new();
        CHOICE
            .get_or_init(|| match std::env::var("MNEMODB_SIMD") {
                Ok(v) if !v.is_empty() => Isa::from_name(&v),
                _ => Ok(Isa::detect()),
            })
            .clone()
            .map_err(|(requested, reason)| Error::SimdUnavailable { requested, reason })
    }

    fn from_name(name: &str) -> std::result::Result<Isa, (String, String)> {
        let available: Vec<&str> = Isa::ALL
            .iter()
            .filter(|i| i.available())
            .map(|i| i.name())
            .collect();
        match Isa::ALL.iter().find(|i| i.name() == name) {
            Some(isa) if isa.available() => Ok(*isa),
            Some(_) => Err((
                name.to_owned(),
                format!(
                    "this CPU cannot run it; available here: {}",
                    available.join(", ")
                ),
            )),
            None => Err((
                name.to_owned(),
                format!("unknown path; available here: {}", available.join(", ")),
            )),
        }
    }
}

/// The rows a kernel call compares a query with.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rows<'a> {
    /// Rows packed back to back.
    Packed(&'a [f32]),
    /// The rows at these slots of a larger packed table (a filter's candidates): read in place,
    /// so a candidate scan copies nothing.
    At {
        /// Every row, slot `s` at `s * dim`.
        table: &'a [f32],
        /// Which rows, in the order of `out`.
        slots: &'a [u64],
    },
}

impl<'a> Rows<'a> {
    /// The rows of `slots` in `table`, `dim` floats each.
    #[inline]
    pub(crate) fn at(
        table: &'a [f32],
        slots: &'a [u64],
        dim: usize,
    ) -> impl Iterator<Item = &'a [f32]> + 'a {
        slots.iter().enumerate().map(move |(i, &s)| {
            // Candidate rows are scattered: ask for one a few rows ahead while this one is
            // compared (the hardware prefetcher follows a row once it is being read, but
            // cannot guess the next).
            if let Some(&ahead) = slots.get(i + GATHER_PREFETCH_AHEAD) {
                let start = ahead as usize * dim;
                if let Some(row) = table.get(start..start + dim) {
                    prefetch(row);
                }
            }
            &table[s as usize * dim..(s as usize + 1) * dim]
        })
    }
}

/// How many rows ahead a gathered scan prefetches.
const GATHER_PREFETCH_AHEAD: usize = 4;

/// Asks for every cache line of `v` (a hint: no effect on results, never a fault).
#[inline]
pub(crate) fn prefetch<T>(v: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let start = v.as_ptr().cast::<i8>();
        let bytes = std::mem::size_of_val(v);
        // One hint per 64 bytes, and the last byte: a slice that does not start on a line
        // boundary ends in one more line.
        for offset in (0..bytes).step_by(64).chain(bytes.checked_sub(1)) {
            // SAFETY: a prefetch is a hint that never faults and never changes memory; the
            // address is also in bounds (an offset inside the slice).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(offset)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = v;
}

/// A distance function bound to one SIMD path: copy it into a scan and call it per block.
#[derive(Debug, Clone, Copy)]
pub struct Kernel {
    space: Space,
    isa: Isa,
}

impl Kernel {
    /// The kernel for `space` on the process-wide path ([`Isa::selected`]).
    pub fn new(space: Space) -> Result<Kernel> {
        // `selected` yields only available paths (`from_name` and `detect` both check).
        Ok(Kernel {
            space,
            isa: Isa::selected()?,
        })
    }

    /// The kernel for `space` on a given path; an error if this CPU cannot run it.
    pub fn with_isa(space: Space, isa: Isa) -> Result<Kernel> {
        // This check is what makes `distances` sound: it calls `#[target_feature]` code.
        if !isa.available() {
            return Err(Error::SimdUnavailable {
                requested: isa.name().to_owned(),
                reason: "this CPU cannot run it".to_owned(),
            });
        }
        Ok(Kernel { space, isa })
    }

    /// The same path measuring another space (sound: the path was admitted already).
    pub(crate) fn with_space(self, space: Space) -> Kernel {
        Kernel { space, ..self }
    }

    /// The space this kernel measures.
    pub fn space(&self) -> Space {
        self.space
    }

    /// The path this kernel runs on.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Distance between two vectors of equal length.
    pub fn distance(&self, a: &[f32], b: &[f32]) -> f32 {
        let mut out = [0.0f32];
        self.distances(a, b, &mut out);
        out[0]
    }

    /// Distances from `query` to each of the `out.len()` rows packed back to back in `rows`
    /// (each `query.len()` floats). One dispatch per call.
    ///
    /// # Panics
    /// If `rows.len() != out.len() * query.len()`.
    pub fn distances(&self, query: &[f32], rows: &[f32], out: &mut [f32]) {
        assert_eq!(
            rows.len(),
            out.len() * query.len(),
            "rows must hold out.len() rows"
        );
        self.dispatch(query, Rows::Packed(rows), out);
    }

    /// Distances from `query` to the rows at `slots` of `table` (rows of `query.len()` floats
    /// back to back), read in place: one dispatch per call, no copy of the rows.
    ///
    /// # Panics
    /// If `slots.len() != out.len()` or a slot lies past the end of `table`.
    pub(crate) fn distances_at(
        &self,
        query: &[f32],
        table: &[f32],
        slots: &[u64],
        out: &mut [f32],
    ) {
        assert_eq!(slots.len(), out.len(), "one slot per output");
        // Zero-dimensional rows are empty: any slot names one.
        if let Some(rows) = table.len().checked_div(query.len()) {
            assert!(
                slots.iter().all(|&s| s < rows as u64),
                "a slot lies past the end of the table"
            );
        }
        self.dispatch(query, Rows::At { table, slots }, out);
    }

    fn dispatch(&self, query: &[f32], rows: Rows<'_>, out: &mut [f32]) {
        if query.is_empty() {
            // Zero-dimensional vectors: the oracle defines the answer, and the SIMD loops can
            // then assume rows of at least one float.
            scalar::distances(self.space, query, rows, out);
            return;
        }
        match self.isa {
            Isa::Scalar => scalar::distances(self.space, query, rows, out),
            Isa::Portable => portable::distances(self.space, query, rows, out),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `self` was made by `Kernel::new` or `Kernel::with_isa`, which admit only
            // available paths, so this CPU has AVX2 and FMA (`Isa::available`).
            Isa::Avx2 => unsafe { x86::avx2::distances(self.space, query, rows, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above: holding a Kernel on `Isa::Avx512` proves this CPU has AVX-512F.
            Isa::Avx512 => unsafe { x86::avx512::distances(self.space, query, rows, out) },
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => neon::distances(self.space, query, rows, out),
            #[cfg(not(target_arch = "x86_64"))]
            Isa::Avx2 | Isa::Avx512 => unreachable!("a Kernel holds only an available path"),
            #[cfg(not(target_arch = "aarch64"))]
            Isa::Neon => unreachable!("a Kernel holds only an available path"),
        }
    }
}
