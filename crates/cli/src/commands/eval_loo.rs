//! `nextclick eval-loo`: the paper protocol of an exported model through tract.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use nextclick::catalog::{sha256, Catalog};
use nextclick::model::Encoder;
use nextclick_data::{self as data, TimeMode};
use nextclick_eval::loo::eval_loo;
use nextclick_model::tower::{tower_path_for, Tower};
use nextclick_train::items::load_and_embed;
use nextclick_train::train::loo_split;

/// Arguments of `eval-loo`.
#[derive(Debug, Args)]
pub struct EvalLooArgs {
    /// Platform folder (items.csv + events.csv), one sequence per user.
    #[arg(long)]
    pub data: PathBuf,
    /// Exported ONNX.
    #[arg(long)]
    pub model: PathBuf,
    /// Tower file (default: beside the model).
    #[arg(long)]
    pub tower: Option<PathBuf>,
    /// Use this catalog's vectors instead of the tower (ID models).
    #[arg(long)]
    pub catalog: Option<PathBuf>,
    /// Which split to score: test (last item) or valid (second to last).
    #[arg(long, default_value = "test")]
    pub split: String,
    /// How to read timestamps.
    #[arg(long, value_enum, default_value = "auto")]
    pub time: TimeMode,
    /// all-MiniLM-L6-v2 folder.
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
}

/// Runs the command.
pub fn run(a: EvalLooArgs) -> Result<()> {
    let t0 = std::time::Instant::now();
    let onnx =
        std::fs::read(&a.model).with_context(|| format!("cannot read {}", a.model.display()))?;
    let enc =
        Encoder::from_bytes(&onnx).map_err(|e| anyhow::anyhow!("{}: {e}", a.model.display()))?;
    let platform = data::load_platform(&a.data, a.time)?;
    platform.report.print(&a.data.display().to_string());
    let vecs = if let Some(cp) = &a.catalog {
        let cat = Catalog::from_bytes(&std::fs::read(cp)?)
            .map_err(|e| anyhow::anyhow!("{}: {e}", cp.display()))?;
        if cat.model_sha256() != &sha256(&onnx) {
            bail!("{}: catalog belongs to another model", cp.display());
        }
        let mut v = vec![0f32; platform.items.len() * cat.dim()];
        for (i, it) in platform.items.iter().enumerate() {
            let j = cat
                .index_of(&it.id)
                .with_context(|| format!("{}: item {} not in the catalog", cp.display(), it.id))?;
            cat.copy_row(j, &mut v[i * cat.dim()..(i + 1) * cat.dim()]);
        }
        v
    } else {
        let tower = Tower::load(
            &a.tower.clone().unwrap_or_else(|| tower_path_for(&a.model)),
            Some(&onnx),
        )?;
        let (_, emb) = load_and_embed(&a.data.join("items.csv"), a.model_dir.as_deref())?;
        tower.apply_all(&emb.vecs)
    };
    let split = loo_split(&platform.sessions);
    let cases = if a.split == "valid" {
        &split.valid
    } else {
        &split.test
    };
    let m = eval_loo(&enc, &vecs, cases)?;
    println!(
        "{} {} users={} R@10={:.4} N@10={:.4} R@50={:.4} N@50={:.4} ({:.0} s)",
        a.model.display(),
        a.split,
        m.n,
        m.r10,
        m.n10,
        m.r50,
        m.n50,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
