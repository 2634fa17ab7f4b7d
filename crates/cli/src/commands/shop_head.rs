//! `nextclick shop-head`: the shop head `θ₀` from the shop's own orders (`orders.csv`), for a model and
//! the shop's catalog. No clickstream and no ML framework: the core's own learner, run on the server.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use nextclick::predictor::{Options, Predictor};
use nextclick_data::csv::Policy;
use nextclick_data::orders::load_orders;
use nextclick_model::shop_head::{fit, FitOptions};

/// Arguments of `shop-head`.
#[derive(Debug, Args)]
pub struct ShopHeadArgs {
    /// The shop's orders: `order_id,customer_id,timestamp,item_id`, one row per ordered item.
    pub orders: PathBuf,
    /// The exported ONNX model the head is for.
    #[arg(long)]
    pub model: PathBuf,
    /// The shop's catalog for that model (`nextclick catalog`).
    #[arg(long)]
    pub catalog: PathBuf,
    /// Output file (`shop-head.bin`).
    #[arg(long)]
    pub out: PathBuf,
    /// Passes over the customers.
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,
    /// Skip malformed order rows (each is listed) instead of stopping at the first.
    #[arg(long)]
    pub skip_bad: bool,
    /// Fewest customers with two purchases of catalog items to learn from.
    #[arg(long, default_value_t = 30)]
    pub min_customers: usize,
}

/// Runs the command.
pub fn run(a: ShopHeadArgs) -> Result<()> {
    let read =
        |p: &PathBuf| std::fs::read(p).with_context(|| format!("cannot read {}", p.display()));
    let (model, catalog) = (read(&a.model)?, read(&a.catalog)?);
    let mut p = Predictor::new(&model, &catalog, Options::default())
        .map_err(|e| anyhow::anyhow!("{} with {}: {e}", a.model.display(), a.catalog.display()))?;
    let policy = if a.skip_bad {
        Policy::Tolerant
    } else {
        Policy::Strict
    };
    let (customers, rep) = load_orders(&a.orders, policy)?;
    for (line, why) in &rep.skipped {
        eprintln!("{}: line {line}: skipped: {why}", a.orders.display());
    }
    let o = FitOptions {
        epochs: a.epochs,
        min_customers: a.min_customers,
        ..FitOptions::default()
    };
    let (head, fit) = fit(&mut p, &customers, &o)?;
    let bytes = head.to_bytes();
    std::fs::write(&a.out, &bytes).with_context(|| format!("cannot write {}", a.out.display()))?;
    eprintln!(
        "{}: {} rows, {} orders, {} customers read ({} rows skipped); learned from {} customers with ≥ 2 purchases of catalog items ({} purchases, {} of unknown items skipped), {} steps in {:.1} s; held-out Recall@20 {:.4} → {:.4} (scale {}, {} purchases)",
        a.orders.display(),
        rep.rows,
        rep.orders,
        customers.len(),
        rep.skipped.len(),
        fit.customers,
        fit.purchases,
        fit.unknown_items,
        fit.steps,
        fit.seconds,
        fit.holdout_source,
        fit.holdout_head,
        fit.scale,
        fit.holdout_cases
    );
    println!("{} ({} bytes)", a.out.display(), bytes.len());
    Ok(())
}
