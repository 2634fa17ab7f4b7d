//! `nextclick catalog`: a shop's binary catalog, its items' content embeddings through the model's tower.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use nextclick::contract::EventKind;
use nextclick::model::Encoder;
use nextclick_data::{self as data, Event, TimeMode};
use nextclick_model::catalog::{catalog_from, encoder_input, int8_agreement};
use nextclick_model::tower::{tower_path_for, Tower};
use nextclick_train::items::load_and_embed;

/// Arguments of `catalog`.
#[derive(Debug, Args)]
pub struct CatalogArgs {
    /// The shop's items.csv.
    pub items: PathBuf,
    /// The exported ONNX (its `.tower.bin` beside it is used unless --tower is given).
    #[arg(long)]
    pub model: PathBuf,
    /// Tower file (default: beside the model).
    #[arg(long)]
    pub tower: Option<PathBuf>,
    /// Store int8 vectors (one scale per item).
    #[arg(long)]
    pub int8: bool,
    /// Output catalog file.
    #[arg(long)]
    pub out: PathBuf,
    /// URL template for the metadata; `{id}` is replaced by the item id.
    #[arg(long, default_value = "#item-{id}")]
    pub url: String,
    /// all-MiniLM-L6-v2 folder.
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
}

/// Runs the command.
pub fn run(a: CatalogArgs) -> Result<()> {
    let onnx =
        std::fs::read(&a.model).with_context(|| format!("cannot read {}", a.model.display()))?;
    let enc =
        Encoder::from_bytes(&onnx).map_err(|e| anyhow::anyhow!("{}: {e}", a.model.display()))?;
    let tower = Tower::load(
        &a.tower.clone().unwrap_or_else(|| tower_path_for(&a.model)),
        Some(&onnx),
    )?;
    let (items, emb) = load_and_embed(&a.items, a.model_dir.as_deref())?;
    let cat = catalog_from(&items, &emb, &tower, &a.url)?;
    let q8 = cat.quantize_int8();
    // agreement queries: real sessions when events.csv sits beside items.csv, else single-item sessions
    let shape = enc.shape();
    let vecs = tower.apply_all(&emb.vecs);
    let mut queries = Vec::new();
    let events = a.items.with_file_name("events.csv");
    let mut source = "single-item sessions";
    if events.is_file() {
        let mut rep = data::LoadReport::default();
        let (sessions, _) = data::load_events(&events, &items, TimeMode::Auto, &mut rep)?;
        rep.print(&events.display().to_string());
        for s in sessions.iter().take(500) {
            queries.push(enc.run(&encoder_input(s, &vecs, shape.max_len, shape.dim))?);
        }
        source = "sessions of events.csv";
    }
    if queries.is_empty() {
        for i in 0..items.len().min(500) {
            let ev = [Event {
                item: i as u32,
                kind: EventKind::View.id(),
                gap: 1,
            }];
            queries.push(enc.run(&encoder_input(&ev, &vecs, shape.max_len, shape.dim))?);
        }
    }
    let (overlap, same) = int8_agreement(&cat, &q8, &queries);
    eprintln!(
        "int8 vs f32 top-10 agreement over {} queries ({source}): overlap {:.2}%, identical order {:.2}%",
        queries.len(),
        overlap * 100.0,
        same * 100.0
    );
    let out = if a.int8 { q8 } else { cat };
    let bytes = out.to_bytes();
    std::fs::write(&a.out, &bytes)?;
    eprintln!(
        "wrote {} ({} items, {} bytes, {})",
        a.out.display(),
        out.len(),
        bytes.len(),
        if a.int8 { "int8" } else { "f32" }
    );
    Ok(())
}
