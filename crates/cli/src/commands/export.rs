//! `nextclick export`: a checkpoint as contract-v1 ONNX, model card and item-tower file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;

use nextclick::card::ModelCard;
use nextclick::catalog::{hex, sha256, Catalog};
use nextclick::contract::{
    EventKind, CONTRACT_VERSION, CONTRACT_VERSION_INCREMENTAL, NUM_GAP_BUCKETS,
};
use nextclick::model::Encoder;
use nextclick_data::{self as data};
use nextclick_model::catalog::meta_of;
use nextclick_model::tower::{card_path_for, tower_path_for};
use nextclick_train::export::tower_of;
use nextclick_train::items::load_and_embed;
use nextclick_train::train::{self, Net};

use super::train::report_path;

/// Arguments of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Checkpoint written by `train`.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Output ONNX path; the card (`.card.json`) and the tower (`.tower.bin`) go beside it.
    #[arg(long)]
    pub out: PathBuf,
    /// Model name for the card.
    #[arg(long, default_value = "nextclick-student")]
    pub name: String,
    /// Model version for the card.
    #[arg(long, default_value = "0.1.0")]
    pub version: String,
    /// For an ID model or a content+ID model (`train --id-residual`): the platform folder whose items.csv
    /// gives the catalog ids (written as `.catalog.bin`).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// all-MiniLM-L6-v2 folder (content+ID models: the catalog's content vectors).
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
}

/// Runs the command.
pub fn run(a: ExportArgs) -> Result<()> {
    let net = Net::load(&a.checkpoint)?;
    let report: Option<serde_json::Value> = std::fs::read_to_string(report_path(&a.checkpoint))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok());
    let weights = net.encoder_weights()?;
    let onnx = weights.to_onnx(&format!("nextclick-tools {}", a.name));
    // the writer's output must load under the contract before anything is written
    Encoder::from_bytes(&onnx)
        .map_err(|e| anyhow::anyhow!("exported ONNX fails the contract: {e}"))?;
    let sha = sha256(&onnx);
    let mut metrics = BTreeMap::new();
    // the card names datasets and files by their last path component: no machine paths in a committed card
    let base = |p: &str| -> String {
        Path::new(p)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| p.to_string())
    };
    let mut training_data = format!("checkpoint {}", base(&a.checkpoint.display().to_string()));
    if let Some(r) = &report {
        for split in ["valid", "test"] {
            for k in ["r10", "n10", "r50", "n50"] {
                if let Some(v) = r[split][k].as_f64() {
                    metrics.insert(format!("{split}_{k}"), v);
                }
            }
        }
        if let Some(v) = r["train_seconds"].as_f64() {
            metrics.insert("train_seconds".into(), v);
        }
        training_data = format!(
            "{} ({} users, {} items, {} events); leave-one-out per user (last = test, second to last = validation); \
             full-ranking metrics with history items excluded; preset {}{}, seed {}, {} epochs (best {}){}{}{}{}",
            base(r["data"].as_str().unwrap_or("?")),
            r["users"],
            r["items"],
            r["events"],
            r["preset"].as_str().unwrap_or("?"),
            if net.cfg.cosine {
                format!(", cosine scoring at temperature {}", net.cfg.temperature)
            } else {
                String::new()
            },
            r["seed"],
            r["epochs"],
            r["best_epoch"],
            {
                // one teacher's path (older reports) or a list of them
                let ts: Vec<String> = match &r["teacher"] {
                    serde_json::Value::String(t) => vec![base(t)],
                    serde_json::Value::Array(v) => v.iter().filter_map(|t| t.as_str()).map(base).collect(),
                    _ => Vec::new(),
                };
                if ts.is_empty() {
                    String::new()
                } else {
                    format!(", distilled from {} (alpha {}, T {})", ts.join(" + "), r["alpha"], r["distill_temp"])
                }
            },
            match r["init"].as_str() {
                Some(i) => format!(
                    ", initialised from {}{} (lr {})",
                    base(i),
                    if r["freeze_backbone"].as_bool() == Some(true) { ", backbone frozen" } else { "" },
                    r["lr"]
                ),
                None => String::new(),
            },
            match (r["text_layers"].as_u64(), r["text_out"].as_str()) {
                (Some(k), Some(dir)) if k > 0 => format!(
                    "; text encoder fine-tuned (top {k} layers, lr {}): build catalogs with --model-dir {}",
                    r["text_lr"],
                    base(dir)
                ),
                _ => String::new(),
            },
            {
                // multi-source runs: the ID-only clickstreams that trained the backbone beside it
                let names: Vec<String> = r["id_sources"]
                    .as_array()
                    .map(|v| v.iter().filter_map(|s| s["name"].as_str()).map(base).collect())
                    .unwrap_or_default();
                if names.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; backbone also trained on the ID-only clickstreams {} (item-ID tables of their own, not exported; \
                         source sampling alpha {}, epoch chosen on {})",
                        names.join(", "),
                        r["source_alpha"],
                        match r["select"].as_str() {
                            Some("mean") => "the mean of the sources' validation",
                            _ => "the exported source's validation",
                        }
                    )
                }
            }
        );
    }
    let card = ModelCard {
        contract: if net.cfg.positions_from_start {
            CONTRACT_VERSION_INCREMENTAL
        } else {
            CONTRACT_VERSION
        },
        name: a.name.clone(),
        version: a.version.clone(),
        dim: net.cfg.encoder.dim,
        max_len: net.cfg.encoder.max_len,
        event_types: EventKind::ALL.to_vec(),
        gap_buckets: NUM_GAP_BUCKETS,
        temperature: net.cfg.temperature,
        content_dim: if net.cfg.id_items > 0 {
            None
        } else {
            Some(net.cfg.content_dim)
        },
        training_data,
        metrics,
        onnx_sha256: hex(&sha),
    };
    if let Some(parent) = a.out.parent() {
        std::fs::create_dir_all(parent).ok();
    }
    std::fs::write(&a.out, &onnx)?;
    std::fs::write(
        card_path_for(&a.out),
        serde_json::to_string_pretty(&card)? + "\n",
    )?;
    eprintln!(
        "wrote {} ({} bytes) and {}",
        a.out.display(),
        onnx.len(),
        card_path_for(&a.out).display()
    );
    if net.cfg.id_items > 0 || net.cfg.id_residual > 0 {
        let hybrid = net.cfg.id_residual > 0;
        let dir = a.data.as_ref().with_context(|| {
            format!(
                "{} needs --data <platform> to write its catalog",
                if hybrid {
                    "a content+ID model (--id-residual)"
                } else {
                    "an ID model"
                }
            )
        })?;
        let (items, vecs) = if hybrid {
            let (items, emb) = load_and_embed(&dir.join("items.csv"), a.model_dir.as_deref())?;
            let content = train::content_tensor(&emb.vecs, emb.dim)?;
            (items, train::to_f32(&net.item_vectors(Some(&content))?)?)
        } else {
            let mut rep = data::LoadReport::default();
            let items = data::load_items(&dir.join("items.csv"), &mut rep)?;
            (items, train::to_f32(&net.item_vectors(None)?)?)
        };
        let rows = net.cfg.id_items.max(net.cfg.id_residual);
        if items.len() != rows {
            bail!(
                "{} has {} items, the model's item table {}",
                dir.display(),
                items.len(),
                rows
            );
        }
        let cat = Catalog::from_f32(
            items.iter().map(|i| i.id.clone()).collect(),
            net.cfg.encoder.dim,
            vecs,
            Some(meta_of(&items)),
            sha,
        )?;
        let p = a.out.with_extension("catalog.bin");
        std::fs::write(&p, cat.to_bytes())?;
        eprintln!(
            "wrote {} ({})",
            p.display(),
            if hybrid {
                "content+ID model: the tower's item vectors plus the learned offsets"
            } else {
                "ID model: the catalog is the learned item table"
            }
        );
    }
    if net.cfg.id_items == 0 {
        let tower = tower_of(&net, sha)?;
        let tp = tower_path_for(&a.out);
        std::fs::write(&tp, tower.to_bytes())?;
        eprintln!(
            "wrote {} ({} bytes{})",
            tp.display(),
            std::fs::metadata(&tp)?.len(),
            if net.cfg.id_residual > 0 {
                "; the tower alone, without the item offsets: for other catalogs"
            } else {
                ""
            }
        );
    }
    Ok(())
}
