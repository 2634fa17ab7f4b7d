//! `nextclick catalog`: a shop's binary catalog, its items' content embeddings through the model's tower.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use nextclick::contract::EventKind;
use nextclick::model::Encoder;
use nextclick_data::{self as data, Event, TimeMode};
use nextclick_model::catalog::{catalog_from, int8_agreement, session_vector};
use nextclick_model::ivfpq::{self, IvfPqConfig};
use nextclick_model::tower::{tower_path_for, Tower};
use nextclick_train::items::load_and_embed_with;

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
    #[arg(long, conflicts_with = "ivfpq")]
    pub int8: bool,
    /// Write a compressed, partitioned IVF-PQ catalog (format version 2, for 100k–1M items).
    #[arg(long)]
    pub ivfpq: bool,
    /// IVF-PQ: inverted lists (default √items).
    #[arg(long, requires = "ivfpq")]
    pub lists: Option<usize>,
    /// IVF-PQ: PQ sub-spaces, one byte per item each (default dimension / 4; must divide it).
    #[arg(long, requires = "ivfpq")]
    pub subspaces: Option<usize>,
    /// IVF-PQ: lists probed per query, stored as the catalog's default (default: calibrated, see
    /// `--target-recall`).
    #[arg(long, requires = "ivfpq")]
    pub nprobe: Option<usize>,
    /// IVF-PQ without `--nprobe`: the stored nprobe is the smallest from lists / 8 (at least 8) upwards
    /// whose recall@20 against the exact f32 scan reaches this, on half of the build's queries (the
    /// sessions of events.csv beside items.csv, else single-item sessions); the other half is reported.
    #[arg(long, requires = "ivfpq", default_value_t = 0.95)]
    pub target_recall: f64,
    /// IVF-PQ: candidates re-scored exactly on int8 vectors.
    #[arg(long, requires = "ivfpq", default_value_t = 200)]
    pub rerank: usize,
    /// IVF-PQ: no int8 vectors (PQ scores only: 4 + d fewer bytes per item, lower recall).
    #[arg(long, requires = "ivfpq")]
    pub no_rescore: bool,
    /// IVF-PQ: write a split catalog (format version 3) for pages that fetch it on demand: `--out` is
    /// the head (downloaded first), `--body` the body (fetched by HTTP Range requests).
    #[arg(long, requires = "ivfpq")]
    pub split: bool,
    /// Split catalog: the body file (default: `--out` with `.body.bin` for its extension).
    #[arg(long, requires = "split")]
    pub body: Option<PathBuf>,
    /// Split catalog: directory buckets, item id → row (default: one per 1,024 items).
    #[arg(long, requires = "split", default_value_t = 0)]
    pub buckets: usize,
    /// Split catalog: rows per item block (ids and metadata fetched together).
    #[arg(long, requires = "split", default_value_t = 32)]
    pub block_rows: usize,
    /// Output catalog file.
    #[arg(long)]
    pub out: PathBuf,
    /// URL template for the metadata; `{id}` is replaced by the item id.
    #[arg(long, default_value = "#item-{id}")]
    pub url: String,
    /// all-MiniLM-L6-v2 folder.
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
    /// How items without a title are spelled for the text encoder (items with one are spelled alike by
    /// every template; docs/results.md, "Item text of a shop without titles").
    #[arg(long, value_enum, default_value = "labelled")]
    pub text_template: data::TextTemplate,
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
    let (items, emb) = load_and_embed_with(&a.items, a.model_dir.as_deref(), a.text_template)?;
    let cat = catalog_from(&items, &emb, &tower, &a.url)?;
    let q8 = cat.quantize_int8();
    // agreement queries: real sessions when events.csv sits beside items.csv, else single-item sessions
    let vecs = tower.apply_all(&emb.vecs);
    let mut queries = Vec::new();
    let events = a.items.with_file_name("events.csv");
    let mut source = "single-item sessions";
    if events.is_file() {
        let mut rep = data::LoadReport::default();
        let (sessions, _) = data::load_events(&events, &items, TimeMode::Auto, &mut rep)?;
        rep.print(&events.display().to_string());
        for s in sessions.iter().take(500) {
            queries.push(session_vector(&enc, s, &vecs)?);
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
            queries.push(session_vector(&enc, &ev, &vecs)?);
        }
    }
    let (overlap, same) = int8_agreement(&cat, &q8, &queries);
    eprintln!(
        "int8 vs f32 top-10 agreement over {} queries ({source}): overlap {:.2}%, identical order {:.2}%",
        queries.len(),
        overlap * 100.0,
        same * 100.0
    );
    let kind = if a.ivfpq {
        "ivfpq"
    } else if a.int8 {
        "int8"
    } else {
        "f32"
    };
    // recall queries of the compressed formats: IVF-PQ's nprobe calibrated on the even ones of the first
    // 400, every figure reported on the odd ones (held out)
    let (fit, qs): (Vec<Vec<f32>>, Vec<Vec<f32>>) = {
        let (even, odd): (Vec<_>, Vec<_>) = queries
            .iter()
            .take(400)
            .enumerate()
            .partition(|(i, _)| i % 2 == 0);
        let strip = |v: Vec<(usize, &Vec<f32>)>| v.into_iter().map(|(_, q)| q.clone()).collect();
        (strip(even), strip(odd))
    };
    let out = if a.ivfpq {
        let cfg = IvfPqConfig {
            lists: a.lists,
            subspaces: a.subspaces,
            nprobe: a.nprobe,
            rescore: !a.no_rescore,
            rerank: a.rerank,
            ..Default::default()
        };
        let mut ivf = super::split_catalog::build_with_progress(&cat, &vecs, &cfg)?;
        let mut how = "given".to_string();
        if a.nprobe.is_none() {
            let c = ivfpq::calibrate_nprobe(&cat, &mut ivf, &fit, 20, a.target_recall)?;
            how = format!(
                "calibrated: recall@20 {:.4} on {} calibration queries, target {}",
                c.recall,
                fit.len(),
                a.target_recall
            );
            if !c.reached {
                eprintln!(
                    "IVF-PQ: warning: even every list ({}) gives recall@20 {:.3} < --target-recall {}: \
                     the PQ codes or the int8 re-scoring cap it (try more --subspaces or a larger --rerank)",
                    c.nprobe, c.recall, a.target_recall
                );
            }
        }
        let r = ivfpq::recall_at(&cat, &ivf, &qs, 20);
        let ix = ivf.ivfpq().expect("ivfpq");
        eprintln!(
            "IVF-PQ: {} lists, {} sub-spaces, nprobe {} ({how}), {}; recall@20 vs the exact f32 scan over {} held-out queries: {:.4}",
            ix.nlist(),
            ix.subspaces,
            ix.nprobe,
            if ix.rescore.is_some() {
                format!("int8 re-scoring of {} candidates", ix.rerank)
            } else {
                "no re-scoring".into()
            },
            qs.len(),
            r
        );
        ivf
    } else if a.int8 {
        eprintln!(
            "int8: recall@20 vs the exact f32 scan over {} held-out queries: {:.4}",
            qs.len(),
            ivfpq::recall_at(&cat, &q8, &qs, 20)
        );
        q8
    } else {
        cat
    };
    if a.split {
        let (head, body) = nextclick::split::write_catalog(&out, a.buckets, a.block_rows)?;
        let body_path = a
            .body
            .clone()
            .unwrap_or_else(|| super::split_catalog::body_path_for(&a.out));
        std::fs::write(&a.out, &head)
            .with_context(|| format!("cannot write {}", a.out.display()))?;
        std::fs::write(&body_path, &body)
            .with_context(|| format!("cannot write {}", body_path.display()))?;
        eprintln!(
            "wrote the split catalog {} (head, {} bytes) and {} (body, {} bytes; {} items)",
            a.out.display(),
            head.len(),
            body_path.display(),
            body.len(),
            out.len()
        );
        return Ok(());
    }
    let bytes = out.to_bytes();
    std::fs::write(&a.out, &bytes)?;
    eprintln!(
        "wrote {} ({} items, {} bytes, {})",
        a.out.display(),
        out.len(),
        bytes.len(),
        kind
    );
    Ok(())
}
