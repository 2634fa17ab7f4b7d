//! `nextclick eval-checkpoints`: leave-one-out scores of training checkpoints and of their ensemble.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use nextclick_data::{self as data, TimeMode};
use nextclick_train::items::load_and_embed;
use nextclick_train::train::{self, loo_split, LooSplit, Net};

use super::train::metrics_json;

/// Scores each of `members` (checkpoints `paths`) and, for more than one, their ensemble on the
/// validation and test users of `split` (one pass per split); prints a line each and returns them as
/// JSON.
pub(crate) fn score_members(
    what: &str,
    paths: &[PathBuf],
    members: &[train::Teacher],
    split: &LooSplit,
) -> Result<Vec<serde_json::Value>> {
    if members.is_empty() {
        return Ok(Vec::new());
    }
    let valid = train::evaluate_members(members, &split.valid, 256)?;
    let test = train::evaluate_members(members, &split.test, 256)?;
    let names = paths
        .iter()
        .map(|p| p.display().to_string())
        .chain((members.len() > 1).then(|| format!("ensemble of {}", members.len())));
    let mut out = Vec::new();
    for ((name, v), t) in names.zip(&valid).zip(&test) {
        eprintln!(
            "{what} {name}: valid N@10 {:.4} R@10 {:.4}; test R@10 {:.4} N@10 {:.4} R@50 {:.4} N@50 {:.4}",
            v.n10, v.r10, t.r10, t.n10, t.r50, t.n50
        );
        out.push(serde_json::json!({
            "checkpoint": name, "valid": metrics_json(v), "test": metrics_json(t)
        }));
    }
    Ok(out)
}

/// Arguments of `eval-checkpoints`.
#[derive(Debug, Args)]
pub struct EvalCheckpointsArgs {
    /// Platform folder (items.csv + events.csv), one sequence per user.
    #[arg(long)]
    pub data: PathBuf,
    /// Checkpoint written by `train` (repeat it: each is scored, then their ensemble).
    #[arg(long, required = true)]
    pub checkpoint: Vec<PathBuf>,
    /// How to read timestamps.
    #[arg(long, value_enum, default_value = "auto")]
    pub time: TimeMode,
    /// all-MiniLM-L6-v2 folder.
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
}

/// Runs the command.
pub fn run(a: EvalCheckpointsArgs) -> Result<()> {
    let platform = data::load_platform(&a.data, a.time)?;
    platform.report.print(&a.data.display().to_string());
    let nets = a
        .checkpoint
        .iter()
        .map(|p| Net::load(p).with_context(|| format!("checkpoint {}", p.display())))
        .collect::<Result<Vec<_>>>()?;
    let content = if nets.iter().all(|n| n.cfg.id_items > 0) {
        None
    } else {
        let (_, emb) = load_and_embed(&a.data.join("items.csv"), a.model_dir.as_deref())?;
        Some(train::content_tensor(&emb.vecs, emb.dim)?)
    };
    let members = nets
        .iter()
        .map(|n| train::Teacher::new(n, content.as_ref()))
        .collect::<Result<Vec<_>>>()?;
    score_members(
        "checkpoint",
        &a.checkpoint,
        &members,
        &loo_split(&platform.sessions),
    )?;
    Ok(())
}
