//! `nextclick merge-embeddings`: the n partial files of `embed-items --shard i/n` → the `.emb` of one
//! unsharded run, byte for byte. Needs no text model (built without the `train` feature too).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use nextclick_model::content_shard::{emb_cache_key, merge_parts, EmbeddingPart};

/// Arguments of `merge-embeddings`.
#[derive(Debug, Args)]
pub struct MergeEmbeddingsArgs {
    /// The partial files (`.embp`), all n of them, in any order.
    #[arg(required = true)]
    pub parts: Vec<PathBuf>,
    /// Output embedding file (`.emb`).
    #[arg(long)]
    pub out: PathBuf,
    /// Also put the result in this embedding cache folder (under the name `embed-items`, `catalog` and
    /// `train` look up: `.cache/embeddings` of the checkout, or $NEXTCLICK_CACHE), so they find it.
    #[arg(long)]
    pub cache: Option<PathBuf>,
}

fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Runs the command.
pub fn run(a: MergeEmbeddingsArgs) -> Result<()> {
    let mut parts = Vec::with_capacity(a.parts.len());
    for p in &a.parts {
        parts.push((p.clone(), EmbeddingPart::load(p)?));
    }
    let key = parts
        .first()
        .map(|(_, p)| emb_cache_key(&p.weights_sha256, &p.items_sha256));
    let emb = merge_parts(parts)?;
    let bytes = emb.to_bytes();
    write_atomic(&a.out, &bytes)?;
    if let (Some(dir), Some(key)) = (&a.cache, key) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(format!("{key}.emb"));
        write_atomic(&path, &bytes)?;
        eprintln!("cached as {}", path.display());
    }
    eprintln!(
        "wrote {} ({} items × {}, from {} shards)",
        a.out.display(),
        emb.ids.len(),
        emb.dim,
        a.parts.len()
    );
    Ok(())
}
