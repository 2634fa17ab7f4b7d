//! An items.csv loaded (the strict policy of `nextclick_data`) and embedded (cached) in one call.

use std::path::Path;

use anyhow::Result;
use nextclick_data::{item_text, Item, LoadReport};

use crate::embed::{self, Embeddings};

/// Loads items.csv and embeds it (cached); prints the skip policy report.
pub fn load_and_embed(
    items_csv: &Path,
    model_dir: Option<&Path>,
) -> Result<(Vec<Item>, Embeddings)> {
    let mut report = LoadReport::default();
    let items = nextclick_data::load_items(items_csv, &mut report)?;
    report.print(&items_csv.display().to_string());
    let ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
    let texts: Vec<String> = items.iter().map(item_text).collect();
    let emb = embed::embed_items_cached(model_dir, &ids, &texts)?;
    Ok((items, emb))
}
