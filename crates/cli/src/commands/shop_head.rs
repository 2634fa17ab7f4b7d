//! `nextclick shop-head`: the shop head `θ₀` from the shop's own orders (`orders.csv`), for a model and
//! the shop's catalog. No clickstream and no ML framework: the core's own learner, run on the server.
//! With `--history`, the shop's event history as well: the head then also carries intent priors
//! (purchase and exit), so new visitors' intent scores start from what the shop's own shoppers did.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use nextclick::event::{normalize_timestamp, Event};
use nextclick::predictor::{Options, Predictor};
use nextclick::shop_head::ShopHead;
use nextclick_data::csv::Policy;
use nextclick_data::orders::load_orders;
use nextclick_data::replay::load as load_history;
use nextclick_model::shop_head::{fit, fit_intent, FitOptions, IntentFitOptions};

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
    /// The shop's event history in the canonical layout (`DIR/events.csv`:
    /// session_id,user_id,timestamp,event_type,item_id; and `DIR/items.csv`): intent priors are learned
    /// from it and kept if their cross-validated ROC-AUC beats the hand-set priors'. Malformed rows are
    /// counted and skipped.
    #[arg(long)]
    pub history: Option<PathBuf>,
    /// With `--history`: ship the file with the intent priors even when no head could be learned from the
    /// orders (the adapter part is then zero: recommendations are the source model's).
    #[arg(long)]
    pub intent_only: bool,
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
    let learned = fit(&mut p, &customers, &o);
    let (mut head, fit) = match learned {
        Ok(x) => x,
        Err(e) if a.intent_only && a.history.is_some() => {
            eprintln!("{}: no shop head from the orders ({e}); --intent-only: the file carries the intent priors alone", a.orders.display());
            let head = ShopHead::neutral(*p.encoder().sha256(), p.encoder().shape().dim);
            (head, Default::default())
        }
        Err(e) => return Err(e),
    };
    if let Some(dir) = &a.history {
        let shoppers = history_shoppers(dir, &p)?;
        let io = IntentFitOptions::default();
        let (purchase, exit, r) = fit_intent(&mut p, &shoppers, &io)?;
        let said = |k: usize| {
            if r.kept[k] {
                "kept"
            } else {
                "not kept: the hand-set prior stays"
            }
        };
        eprintln!(
            "{}: intent priors from {} shoppers ({} events, {} skipped) in {:.1} s; ROC-AUC {}-fold cross-validated by shopper: purchase {:.3} (hand-set) → {:.3} (learned, L2 {}, {}), {}; exit {:.3} → {:.3} (L2 {}, {}), {}",
            dir.display(),
            r.shoppers,
            r.events,
            r.skipped_events,
            r.seconds,
            io.folds,
            r.prior_auc[0],
            r.learned_auc[0],
            r.l2[0],
            if r.with_vector[0] { "features + session vector" } else { "features only" },
            said(0),
            r.prior_auc[1],
            r.learned_auc[1],
            r.l2[1],
            if r.with_vector[1] { "features + session vector" } else { "features only" },
            said(1)
        );
        if purchase.is_none() && exit.is_none() && fit.customers == 0 {
            anyhow::bail!("neither a shop head nor intent priors could be learned: ship no file (visitors start from the source model)");
        }
        (head.purchase, head.exit) = (purchase, exit);
    }
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

/// Every user's events of the history folder in time order, as the core takes them (a row the core
/// would refuse, e.g. a timestamp out of range, is skipped; malformed rows are counted by the loader).
fn history_shoppers(dir: &std::path::Path, p: &Predictor) -> Result<Vec<Vec<Event>>> {
    let cat = p.catalog();
    let data = load_history(dir, &|id| cat.index_of(id).map(|i| i as u32))
        .with_context(|| format!("cannot read the history {}", dir.display()))?;
    let mut by_user: Vec<Vec<Event>> = vec![Vec::new(); data.users.len()];
    for e in &data.events {
        if let Ok(timestamp_ms) = normalize_timestamp(e.ts) {
            by_user[e.user as usize].push(Event {
                kind: e.kind,
                item_id: e.item_id.clone(),
                timestamp_ms,
                price: None,
            });
        }
    }
    Ok(by_user.into_iter().filter(|v| !v.is_empty()).collect())
}
