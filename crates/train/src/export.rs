//! A trained net's item tower in plain Rust ([`Tower`]): what `nextclick export` writes beside the ONNX and
//! `nextclick catalog` applies to a shop's content embeddings.

use anyhow::Result;
use nextclick_model::tower::Tower;

use crate::train::{self, Net};

/// The plain-Rust [`Tower`] of a tower model, bound to the ONNX with SHA-256 `sha`.
pub fn tower_of(net: &Net, sha: [u8; 32]) -> Result<Tower> {
    let h = net.cfg.tower_hidden;
    Ok(Tower {
        content_dim: net.cfg.content_dim,
        hidden: h,
        dim: net.cfg.encoder.dim,
        w1: train::to_f32(&net.p("tower.w1"))?,
        b1: train::to_f32(&net.p("tower.b1"))?,
        w2: if h == 0 {
            vec![]
        } else {
            train::to_f32(&net.p("tower.w2"))?
        },
        b2: if h == 0 {
            vec![]
        } else {
            train::to_f32(&net.p("tower.b2"))?
        },
        model_sha256: sha,
        normalize: net.cfg.cosine,
    })
}
