//! Distance functions as Chroma defines them, and the choice of SIMD path that computes them.
//!
//! `scalar` is the oracle and the fallback; other files hold one instruction set each.
//! The path is chosen once per process ([`Isa::selected`]) and a [`Kernel`] dispatches once per
//! call over a block of rows, never per vector pair.

mod scalar;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Plain Rust, one element at a time: the oracle and the fallback.
    Scalar,
}

impl Isa {
    /// Every path this build knows, available on this CPU or not.
    pub const ALL: &'static [Isa] = &[Isa::Scalar];

    /// The name used by `MNEMODB_SIMD`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
        }
    }

    /// Whether this CPU (and this build) can run the path.
    pub fn available(self) -> bool {
        match self {
            Isa::Scalar => true,
        }
    }

    /// The best available path.
    pub fn detect() -> Isa {
        Isa::Scalar
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
        let available: Vec<&str> =
            Isa::ALL.iter().filter(|i| i.available()).map(|i| i.name()).collect();
        match Isa::ALL.iter().find(|i| i.name() == name) {
            Some(isa) if isa.available() => Ok(*isa),
            Some(_) => Err((
                name.to_owned(),
                format!("this CPU cannot run it; available here: {}", available.join(", ")),
            )),
            None => Err((
                name.to_owned(),
                format!("unknown path; available here: {}", available.join(", ")),
            )),
        }
    }
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
        Ok(Kernel { space, isa: Isa::selected()? })
    }

    /// The kernel for `space` on a given path; an error if this CPU cannot run it.
    pub fn with_isa(space: Space, isa: Isa) -> Result<Kernel> {
        if !isa.available() {
            return Err(Error::SimdUnavailable {
                requested: isa.name().to_owned(),
                reason: "this CPU cannot run it".to_owned(),
            });
        }
        Ok(Kernel { space, isa })
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
        assert_eq!(rows.len(), out.len() * query.len(), "rows must hold out.len() rows");
        match self.isa {
            Isa::Scalar => scalar::distances(self.space, query, rows, out),
        }
    }
}
