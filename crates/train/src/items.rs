//! An items.csv loaded (the strict policy of `nextclick_data`) and embedded (cached) in one call, or one
//! shard of it embedded (`embed-items --shard`).

use std::path::Path;

use anyhow::Result;
use nextclick_data::{item_text, item_text_with, Item, LoadReport, TextTemplate};

use crate::embed::{self, Embeddings};

/// Loads items.csv and embeds it (cached); prints the skip policy report.
pub fn load_and_embed(
    items_csv: &Path,
    model_dir: Option<&Path>,
) -> Result<(Vec<Item>, Embeddings)> {
    load_and_embed_with(items_csv, model_dir, TextTemplate::default())
}

/// [`load_and_embed`] with the text template `template` for the items without a title.
pub fn load_and_embed_with(
    items_csv: &Path,
    model_dir: Option<&Path>,
    template: TextTemplate,
) -> Result<(Vec<Item>, Embeddings)> {
    let mut report = LoadReport::default();
    let items = nextclick_data::load_items(items_csv, &mut report)?;
    report.print(&items_csv.display().to_string());
    let ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
    let texts: Vec<String> = items.iter().map(|i| item_text_with(i, template)).collect();
    let emb = embed::embed_items_cached(model_dir, &ids, &texts)?;
    Ok((items, emb))
}

/// Loads items.csv and embeds only shard `shard` of `shards` of it (`nextclick embed-items --shard`),
/// never through the cache; see [`embed::embed_shard`].
pub fn load_and_embed_shard(
    items_csv: &Path,
    model_dir: Option<&Path>,
    shard: usize,
    shards: usize,
) -> Result<embed::EmbeddingPart> {
    let mut report = LoadReport::default();
    let items = nextclick_data::load_items(items_csv, &mut report)?;
    report.print(&items_csv.display().to_string());
    let ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
    let texts: Vec<String> = items.iter().map(item_text).collect();
    // the range first: a bad shard number is an error before the model is loaded
    let (start, end) = embed::shard_range(ids.len(), embed::EMBED_BLOCK, shard, shards)?;
    let emb = embed::Embedder::load(&embed::find_model_dir(model_dir)?)?;
    eprintln!(
        "shard {shard}/{shards}: items {start}..{end} of {}",
        ids.len()
    );
    embed::embed_shard(&emb, &ids, &texts, shard, shards)
}
