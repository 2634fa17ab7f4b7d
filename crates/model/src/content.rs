//! Content embeddings files: item ids with their text embeddings (all-MiniLM-L6-v2, 384-d), as
//! `nextclick embed-items` writes them and `nextclick catalog` reads them. Computing them needs the text
//! model (`nextclick-train`'s `embed`); reading and writing them does not.
//!
//! Format (`.emb`, little-endian): magic `NXCLEMB\0`, `u32` item count `n`, `u32` dimension `d`, then `n`
//! ids (`u16` byte length + UTF-8), then `n·d` f32.

use std::path::Path;

use anyhow::{bail, Context, Result};

/// Dimension of all-MiniLM-L6-v2 embeddings.
pub const CONTENT_DIM: usize = 384;

const EMB_MAGIC: &[u8; 8] = b"NXCLEMB\0";

/// Item ids with their content embeddings (row-major `ids.len() × dim`).
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    /// Item ids, in the order of `items.csv`.
    pub ids: Vec<String>,
    /// Dimension.
    pub dim: usize,
    /// Row-major vectors.
    pub vecs: Vec<f32>,
}

impl Embeddings {
    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.vecs[i * self.dim..(i + 1) * self.dim]
    }

    /// Serialises to the `.emb` format.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.vecs.len() * 4 + self.ids.len() * 12);
        out.extend_from_slice(EMB_MAGIC);
        out.extend_from_slice(&(self.ids.len() as u32).to_le_bytes());
        out.extend_from_slice(&(self.dim as u32).to_le_bytes());
        for id in &self.ids {
            out.extend_from_slice(&(id.len() as u16).to_le_bytes());
            out.extend_from_slice(id.as_bytes());
        }
        for v in &self.vecs {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// Parses the `.emb` format, checking every length.
    pub fn from_bytes(b: &[u8]) -> Result<Embeddings> {
        if b.len() < 16 || &b[..8] != EMB_MAGIC {
            bail!("not a nextclick embedding file (bad magic)");
        }
        let n = u32::from_le_bytes(b[8..12].try_into()?) as usize;
        let dim = u32::from_le_bytes(b[12..16].try_into()?) as usize;
        let mut p = 16;
        let mut ids = Vec::with_capacity(n.min(b.len() / 2));
        for _ in 0..n {
            if p + 2 > b.len() {
                bail!("embedding file truncated in the ids");
            }
            let len = u16::from_le_bytes([b[p], b[p + 1]]) as usize;
            p += 2;
            if p + len > b.len() {
                bail!("embedding file truncated in the ids");
            }
            ids.push(String::from_utf8(b[p..p + len].to_vec()).context("id is not UTF-8")?);
            p += len;
        }
        if b.len() - p != n * dim * 4 {
            bail!(
                "embedding file has {} vector bytes, expected {}",
                b.len() - p,
                n * dim * 4
            );
        }
        let vecs = b[p..]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(Embeddings { ids, dim, vecs })
    }

    /// Reads a `.emb` file.
    pub fn load(path: &Path) -> Result<Embeddings> {
        let b = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        Embeddings::from_bytes(&b).with_context(|| format!("{}", path.display()))
    }
}
