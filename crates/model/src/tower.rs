//! Export of a trained model: the contract-v1 ONNX (via [`EncoderWeights::to_onnx`]), the model card, and
//! the item-tower file (format below, also in `docs/model-contract.md`, "Item tower file"); and the binary
//! catalog of a target shop (content embedding → tower, offline).
//!
//! Item tower file (`.tower.bin`, little-endian):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `NXCLTWR\0` |
//! | 8 | 2 | format version (`1`) |
//! | 10 | 1 | activation between the layers: `0` none (single layer), `1` exact GELU (erf) |
//! | 11 | 1 | output: `0` as is (dot-product models), `1` L2-normalised (cosine models) |
//! | 12 | 4 | content dimension `C` |
//! | 16 | 4 | hidden width `H` (0 = single linear layer) |
//! | 20 | 4 | output dimension `D` |
//! | 24 | 32 | SHA-256 of the ONNX bytes the tower belongs to |
//! | 56 | … | `H = 0`: `W [C, D]`, `b [D]`; else `W1 [C, H]`, `b1 [H]`, `W2 [H, D]`, `b2 [D]` (f32, row-major) |
//! | end − 32 | 32 | SHA-256 of every byte before it |
//!
//! item vector = `GELU(c · W1 + b1) · W2 + b2` (or `c · W + b`), then `v / √(Σv² + 1e-12)` when byte 11 is
//! 1; `c` the L2-normalised all-MiniLM-L6-v2 embedding of the item text ([`nextclick_data::item_text`]).

use anyhow::{bail, Result};
use nextclick::catalog::{hex, sha256};

use crate::encoder::gelu;

const TOWER_MAGIC: &[u8; 8] = b"NXCLTWR\0";

/// The item tower, in plain Rust (the offline side of catalogs and evaluation).
#[derive(Debug, Clone, PartialEq)]
pub struct Tower {
    /// Content dimension `C`.
    pub content_dim: usize,
    /// Hidden width (0 = single linear layer).
    pub hidden: usize,
    /// Output dimension `D`.
    pub dim: usize,
    /// First layer `[C, H or D]`.
    pub w1: Vec<f32>,
    /// First bias.
    pub b1: Vec<f32>,
    /// Second layer `[H, D]` (empty when `hidden == 0`).
    pub w2: Vec<f32>,
    /// Second bias (empty when `hidden == 0`).
    pub b2: Vec<f32>,
    /// SHA-256 of the ONNX the tower belongs to.
    pub model_sha256: [u8; 32],
    /// L2-normalise the output (cosine models).
    pub normalize: bool,
}

impl Tower {
    /// Applies the tower to one content embedding.
    pub fn apply(&self, c: &[f32]) -> Vec<f32> {
        let first = if self.hidden == 0 {
            self.dim
        } else {
            self.hidden
        };
        let mut h = crate::encoder::linear(c, self.content_dim, &self.w1, &self.b1, first);
        if self.hidden > 0 {
            h.iter_mut().for_each(|v| *v = gelu(*v));
            h = crate::encoder::linear(&h, self.hidden, &self.w2, &self.b2, self.dim);
        }
        if self.normalize {
            crate::encoder::l2_normalize(&mut h);
        }
        h
    }

    /// Applies the tower to row-major content embeddings `[n, C]`.
    pub fn apply_all(&self, content: &[f32]) -> Vec<f32> {
        content
            .chunks_exact(self.content_dim)
            .flat_map(|c| self.apply(c))
            .collect()
    }

    /// Serialises to the tower file format.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(TOWER_MAGIC);
        out.extend_from_slice(&1u16.to_le_bytes());
        out.push(if self.hidden == 0 { 0 } else { 1 });
        out.push(u8::from(self.normalize));
        for v in [self.content_dim, self.hidden, self.dim] {
            out.extend_from_slice(&(v as u32).to_le_bytes());
        }
        out.extend_from_slice(&self.model_sha256);
        for arr in [&self.w1, &self.b1, &self.w2, &self.b2] {
            for v in arr.iter() {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        let sum = sha256(&out);
        out.extend_from_slice(&sum);
        out
    }

    /// Parses and verifies a tower file.
    pub fn from_bytes(b: &[u8]) -> Result<Tower> {
        if b.len() < 56 + 32 || &b[..8] != TOWER_MAGIC {
            bail!("not a nextclick tower file (bad magic or too short)");
        }
        let (body, sum) = b.split_at(b.len() - 32);
        if sha256(body) != sum {
            bail!("tower file checksum mismatch (corrupt file)");
        }
        let version = u16::from_le_bytes([b[8], b[9]]);
        if version != 1 {
            bail!("tower file version {version}, this build reads 1");
        }
        let u = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]) as usize;
        let (c, h, d) = (u(12), u(16), u(20));
        let (act, norm) = (b[10], b[11]);
        if norm > 1 {
            bail!("tower file output mode {norm} unknown (0 = as is, 1 = L2-normalised)");
        }
        if (h == 0) != (act == 0)
            || act > 1
            || c == 0
            || d == 0
            || c > 1 << 16
            || h > 1 << 16
            || d > 1 << 16
        {
            bail!("tower file header is inconsistent (C={c}, H={h}, D={d}, activation={act})");
        }
        let sizes = if h == 0 {
            [c * d, d, 0, 0]
        } else {
            [c * h, h, h * d, d]
        };
        let total: usize = sizes.iter().sum();
        if body.len() != 56 + total * 4 {
            bail!(
                "tower file has {} weight bytes, expected {}",
                body.len() - 56,
                total * 4
            );
        }
        let mut model_sha256 = [0u8; 32];
        model_sha256.copy_from_slice(&b[24..56]);
        let mut p = 56;
        let mut take = |n: usize| {
            let v: Vec<f32> = body[p..p + n * 4]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            p += n * 4;
            v
        };
        let (w1, b1, w2, b2) = (
            take(sizes[0]),
            take(sizes[1]),
            take(sizes[2]),
            take(sizes[3]),
        );
        if ![&w1, &b1, &w2, &b2]
            .iter()
            .all(|a| a.iter().all(|v| v.is_finite()))
        {
            bail!("tower file holds non-finite weights");
        }
        Ok(Tower {
            content_dim: c,
            hidden: h,
            dim: d,
            w1,
            b1,
            w2,
            b2,
            model_sha256,
            normalize: norm == 1,
        })
    }

    /// Reads a tower file and checks it belongs to `onnx` (when given).
    pub fn load(path: &std::path::Path, onnx: Option<&[u8]>) -> Result<Tower> {
        let b = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let t = Tower::from_bytes(&b).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if let Some(o) = onnx {
            let s = sha256(o);
            if s != t.model_sha256 {
                bail!(
                    "{}: tower belongs to model {}, not to this ONNX ({})",
                    path.display(),
                    hex(&t.model_sha256),
                    hex(&s)
                );
            }
        }
        Ok(t)
    }
}

/// Path of the tower file beside an ONNX file: `x.onnx` → `x.tower.bin`.
pub fn tower_path_for(onnx: &std::path::Path) -> std::path::PathBuf {
    sibling(onnx, "tower.bin")
}

/// Path of the card beside an ONNX file: `x.onnx` → `x.card.json`.
pub fn card_path_for(onnx: &std::path::Path) -> std::path::PathBuf {
    sibling(onnx, "card.json")
}

fn sibling(onnx: &std::path::Path, ext: &str) -> std::path::PathBuf {
    let stem = onnx
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "model".into());
    onnx.with_file_name(format!("{stem}.{ext}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoder::SplitMix;

    #[test]
    fn tower_file_round_trips_and_detects_corruption() {
        let mut r = SplitMix(3);
        for (hidden, normalize) in [(0, false), (5, false), (5, true)] {
            let (c, d) = (4, 3);
            let first = if hidden == 0 { d } else { hidden };
            let t = Tower {
                content_dim: c,
                hidden,
                dim: d,
                w1: r.normals(c * first, 1.0),
                b1: r.normals(first, 1.0),
                w2: if hidden == 0 {
                    vec![]
                } else {
                    r.normals(hidden * d, 1.0)
                },
                b2: if hidden == 0 {
                    vec![]
                } else {
                    r.normals(d, 1.0)
                },
                model_sha256: [7; 32],
                normalize,
            };
            let b = t.to_bytes();
            assert_eq!(Tower::from_bytes(&b).unwrap(), t);
            let mut bad = b.clone();
            bad[60] ^= 1;
            assert!(Tower::from_bytes(&bad).is_err());
            assert!(Tower::from_bytes(&b[..b.len() - 4]).is_err());
            let v = t.apply(&[1.0, 0.0, 0.0, 0.0]);
            assert_eq!(v.len(), d);
            if normalize {
                let n: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                assert!((n - 1.0).abs() < 1e-6, "norm {n}");
            }
            let mut unknown = b.clone();
            unknown[11] = 2;
            let body = unknown.len() - 32;
            let sum = sha256(&unknown[..body]);
            unknown[body..].copy_from_slice(&sum);
            assert!(Tower::from_bytes(&unknown).is_err());
        }
    }
}
