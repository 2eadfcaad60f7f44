//! The MiniLM-L6-H384 BERT encoder: weights read from `model.safetensors`, a forward pass over
//! a batch of token sequences packed end to end (no padding), mean pooling, L2 normalisation.

use std::path::Path;

use safetensors::{Dtype, SafeTensors};

use super::matmul::{View, gemm};
use crate::error::{Error, Result};

/// Width of the hidden state (and of the embeddings).
pub(crate) const HIDDEN: usize = 384;
const HEADS: usize = 12;
const HEAD_DIM: usize = HIDDEN / HEADS;
const INTERMEDIATE: usize = 1536;
const LAYERS: usize = 6;
/// Positions the model has embeddings for.
pub(crate) const MAX_POSITIONS: usize = 512;
const LAYER_NORM_EPS: f32 = 1e-12;

/// A linear layer, PyTorch's layout: `weight` is `out × in`, row-major.
#[derive(Debug)]
struct Linear {
    weight: Vec<f32>,
    bias: Vec<f32>,
    inputs: usize,
    outputs: usize,
}

impl Linear {
    /// `out[t, :] = x[t, :] × weightᵀ + bias` for each of the `tokens` rows of `x`.
    fn apply(&self, x: &[f32], tokens: usize, out: &mut [f32]) {
        let out = &mut out[..tokens * self.outputs];
        for row in out.chunks_exact_mut(self.outputs) {
            row.copy_from_slice(&self.bias);
        }
        let a = View {
            data: x,
            rows: tokens,
            cols: self.inputs,
            rs: self.inputs,
            cs: 1,
        };
        let wt = View {
            data: &self.weight,
            rows: self.inputs,
            cols: self.outputs,
            rs: 1,
            cs: self.inputs,
        };
        gemm(1.0, a, wt, 1.0, out, self.outputs);
    }
}

#[derive(Debug)]
struct LayerNorm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

impl LayerNorm {
    fn apply(&self, x: &mut [f32]) {
        for row in x.chunks_exact_mut(HIDDEN) {
            let mean = row.iter().sum::<f32>() / HIDDEN as f32;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / HIDDEN as f32;
            let inv = 1.0 / (var + LAYER_NORM_EPS).sqrt();
            for ((v, g), b) in row.iter_mut().zip(&self.gamma).zip(&self.beta) {
                *v = (*v - mean) * inv * g + b;
            }
        }
    }
}

#[derive(Debug)]
struct Layer {
    /// Query, key and value stacked: `3·HIDDEN × HIDDEN`.
    qkv: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

/// The encoder's weights.
#[derive(Debug)]
pub(crate) struct Bert {
    word: Vec<f32>,
    position: Vec<f32>,
    /// Row 0 of the token-type embeddings (every token is type 0).
    token_type: Vec<f32>,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
    vocab_size: usize,
}

/// Reads named tensors out of a safetensors file, checking dtype and shape.
struct Tensors<'a> {
    file: SafeTensors<'a>,
    path: &'a Path,
}

impl Tensors<'_> {
    fn err(&self, detail: String) -> Error {
        Error::EmbeddingModel {
            detail: format!("{}: {detail}", self.path.display()),
        }
    }

    fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let t = self
            .file
            .tensor(name)
            .map_err(|e| self.err(format!("tensor {name}: {e}")))?;
        if t.dtype() != Dtype::F32 || t.shape() != shape {
            return Err(self.err(format!(
                "tensor {name} is {:?} {:?}, expected F32 {shape:?} (all-MiniLM-L6-v2)",
                t.dtype(),
                t.shape()
            )));
        }
        Ok(t.data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    fn linear(&self, prefix: &str, inputs: usize, outputs: usize) -> Result<Linear> {
        Ok(Linear {
            weight: self.get(&format!("{prefix}.weight"), &[outputs, inputs])?,
            bias: self.get(&format!("{prefix}.bias"), &[outputs])?,
            inputs,
            outputs,
        })
    }

    fn norm(&self, prefix: &str) -> Result<LayerNorm> {
        Ok(LayerNorm {
            gamma: self.get(&format!("{prefix}.weight"), &[HIDDEN])?,
            beta: self.get(&format!("{prefix}.bias"), &[HIDDEN])?,
        })
    }
}

impl Bert {
    /// Loads the encoder from a sentence-transformers `model.safetensors` of all-MiniLM-L6-v2.
    pub(crate) fn load(path: &Path, vocab_size: usize) -> Result<Bert> {
        let bytes = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
        let file = SafeTensors::deserialize(&bytes).map_err(|e| Error::EmbeddingModel {
            detail: format!("{}: not a safetensors file: {e}", path.display()),
        })?;
        let t = Tensors { file, path };
        let mut layers = Vec::with_capacity(LAYERS);
        for i in 0..LAYERS {
            let p = format!("encoder.layer.{i}");
            let q = t.linear(&format!("{p}.attention.self.query"), HIDDEN, HIDDEN)?;
            let k = t.linear(&format!("{p}.attention.self.key"), HIDDEN, HIDDEN)?;
            let v = t.linear(&format!("{p}.attention.self.value"), HIDDEN, HIDDEN)?;
            let qkv = Linear {
                weight: [q.weight, k.weight, v.weight].concat(),
                bias: [q.bias, k.bias, v.bias].concat(),
                inputs: HIDDEN,
                outputs: 3 * HIDDEN,
            };
            layers.push(Layer {
                qkv,
                attention_out: t.linear(&format!("{p}.attention.output.dense"), HIDDEN, HIDDEN)?,
                attention_norm: t.norm(&format!("{p}.attention.output.LayerNorm"))?,
                intermediate: t.linear(&format!("{p}.intermediate.dense"), HIDDEN, INTERMEDIATE)?,
                output: t.linear(&format!("{p}.output.dense"), INTERMEDIATE, HIDDEN)?,
                output_norm: t.norm(&format!("{p}.output.LayerNorm"))?,
            });
        }
        let mut token_type = t.get("embeddings.token_type_embeddings.weight", &[2, HIDDEN])?;
        token_type.truncate(HIDDEN);
        Ok(Bert {
            word: t.get("embeddings.word_embeddings.weight", &[vocab_size, HIDDEN])?,
            position: t.get(
                "embeddings.position_embeddings.weight",
                &[MAX_POSITIONS, HIDDEN],
            )?,
            token_type,
            embedding_norm: t.norm("embeddings.LayerNorm")?,
            layers,
            vocab_size,
        })
    }

    /// One L2-normalised mean-pooled embedding (`HIDDEN` values) per sequence, appended to `out`.
    /// Each sequence is at most `MAX_POSITIONS` ids below the vocabulary size (the tokenizer's).
    pub(crate) fn embed(&self, seqs: &[Vec<u32>], out: &mut Vec<f32>) {
        let tokens: usize = seqs.iter().map(Vec::len).sum();
        let longest = seqs.iter().map(Vec::len).max().unwrap_or(0);
        let mut x = vec![0.0f32; tokens * HIDDEN];
        let mut row = 0;
        for seq in seqs {
            for (pos, &id) in seq.iter().enumerate() {
                let (id, pos) = (
                    (id as usize).min(self.vocab_size - 1),
                    pos.min(MAX_POSITIONS - 1),
                );
                let dst = &mut x[row * HIDDEN..(row + 1) * HIDDEN];
                let word = &self.word[id * HIDDEN..(id + 1) * HIDDEN];
                let position = &self.position[pos * HIDDEN..(pos + 1) * HIDDEN];
                for (((d, w), p), t) in dst.iter_mut().zip(word).zip(position).zip(&self.token_type)
                {
                    *d = w + p + t;
                }
                row += 1;
            }
        }
        self.embedding_norm.apply(&mut x);

        let mut qkv = vec![0.0f32; tokens * 3 * HIDDEN];
        let mut context = vec![0.0f32; tokens * HIDDEN];
        let mut scratch = vec![0.0f32; tokens * INTERMEDIATE];
        let mut scores = vec![0.0f32; longest * longest];
        for layer in &self.layers {
            layer.qkv.apply(&x, tokens, &mut qkv);
            let mut start = 0;
            for seq in seqs {
                let n = seq.len();
                attention(
                    &qkv[start * 3 * HIDDEN..],
                    n,
                    &mut scores,
                    &mut context[start * HIDDEN..],
                );
                start += n;
            }
            layer.attention_out.apply(&context, tokens, &mut scratch);
            add_into(&mut x, &scratch[..tokens * HIDDEN]);
            layer.attention_norm.apply(&mut x);
            layer.intermediate.apply(&x, tokens, &mut scratch);
            scratch.iter_mut().for_each(|v| *v = gelu(*v));
            layer.output.apply(&scratch, tokens, &mut context);
            add_into(&mut x, &context);
            layer.output_norm.apply(&mut x);
        }

        let mut start = 0;
        for seq in seqs {
            let n = seq.len();
            let mut pooled = [0.0f64; HIDDEN];
            for r in x[start * HIDDEN..(start + n) * HIDDEN].chunks_exact(HIDDEN) {
                for (p, v) in pooled.iter_mut().zip(r) {
                    *p += f64::from(*v);
                }
            }
            let norm = pooled.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
            out.extend(pooled.iter().map(|v| (v / norm) as f32));
            start += n;
        }
    }
}

/// Self-attention of one sequence of `n` tokens whose rows of `qkv` start at its slice's
/// beginning; the heads' outputs go to the first `n` rows of `context`.
fn attention(qkv: &[f32], n: usize, scores: &mut [f32], context: &mut [f32]) {
    if n == 0 {
        return;
    }
    let scale = 1.0 / (HEAD_DIM as f32).sqrt();
    let ld = 3 * HIDDEN;
    let scores = &mut scores[..n * n];
    for h in 0..HEADS {
        let q = View {
            data: &qkv[h * HEAD_DIM..],
            rows: n,
            cols: HEAD_DIM,
            rs: ld,
            cs: 1,
        };
        let kt = View {
            data: &qkv[HIDDEN + h * HEAD_DIM..],
            rows: HEAD_DIM,
            cols: n,
            rs: 1,
            cs: ld,
        };
        gemm(scale, q, kt, 0.0, scores, n);
        for row in scores.chunks_exact_mut(n) {
            let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            let mut sum = 0.0;
            for v in row.iter_mut() {
                *v = (*v - max).exp();
                sum += *v;
            }
            row.iter_mut().for_each(|v| *v /= sum);
        }
        let p = View {
            data: scores,
            rows: n,
            cols: n,
            rs: n,
            cs: 1,
        };
        let v = View {
            data: &qkv[2 * HIDDEN + h * HEAD_DIM..],
            rows: n,
            cols: HEAD_DIM,
            rs: ld,
            cs: 1,
        };
        gemm(1.0, p, v, 0.0, &mut context[h * HEAD_DIM..], HIDDEN);
    }
}

fn add_into(x: &mut [f32], y: &[f32]) {
    x.iter_mut().zip(y).for_each(|(a, b)| *a += b);
}

/// GELU as BERT defines it, with the exact error function: `x/2 · (1 + erf(x/√2))`.
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// The error function to within 1.2e-7 (Numerical Recipes' `erfc` Chebyshev fit, in f64).
fn erf(x: f32) -> f32 {
    let z = f64::from(x).abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    let r = 1.0 - erfc;
    (if x >= 0.0 { r } else { -r }) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_known_values() {
        for (x, want) in [
            (0.0, 0.0),
            (0.5, 0.520_499_9),
            (1.0, 0.842_700_8),
            (-2.0, -0.995_322_3),
            (4.0, 1.0),
        ] {
            assert!((erf(x) - want).abs() < 2e-7, "erf({x}) = {}", erf(x));
        }
    }

    #[test]
    fn attention_of_one_token_is_its_value() {
        let qkv: Vec<f32> = (0..3 * HIDDEN).map(|i| i as f32 * 0.01).collect();
        let mut context = vec![0.0; HIDDEN];
        attention(&qkv, 1, &mut [0.0; 1], &mut context);
        assert_eq!(context, qkv[2 * HIDDEN..]);
    }
}
