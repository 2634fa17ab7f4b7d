//! `nextclick eval`: builds the rows, replays them (in parallel, one thread per row), summarises and
//! writes the report section, the JSON of every figure and the plots.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use nextclick::head::HeadOptions;
use nextclick::predictor::Predictor;
use nextclick::Catalog;

use crate::baselines::{
    history_sessions, CooccurrenceModel, Popularity, PopularityModel, SknnModel,
};
use crate::device::DeviceModel;
use crate::replay::{replay, Labels, Model};
use crate::shop::{fedavg, history_events, history_orders, FedOptions};
use nextclick::shop_head::ShopHead;
use nextclick_data::replay::{self as data, Dataset, Split};
use nextclick_model::item_shift::{self, ShiftOptions};
use nextclick_model::shop_head::{fit, fit_intent, FitOptions, IntentFitOptions};

pub use crate::args::EvalArgs;
pub use crate::rows::{RowKind, RowResult, RowSpec, K};

/// The rows of a run.
pub fn row_specs(a: &EvalArgs) -> Result<Vec<RowSpec>> {
    let r = |name: &str, label: &str, how: &str, kind| RowSpec {
        name: name.into(),
        label: label.into(),
        how: how.into(),
        kind,
    };
    let mut v = vec![
        r("popularity", "Popularity", "history window: event counts per item", RowKind::Popularity),
        r("cooc", "Item-to-item co-occurrence", "history window: pairs within 5 positions, weight 1/distance; last 3 items, weights 1, ½, ¼", RowKind::Cooccurrence),
        r("sknn", "Session-kNN", "history window: V-SKNN, k = 100 of the 500 most recent sessions sharing an item, last 10 items weighted by recency", RowKind::Sknn),
    ];
    for spec in &a.reference {
        let (name, files) = spec
            .split_once('=')
            .with_context(|| format!("--reference {spec:?}: expected NAME=MODEL,CATALOG"))?;
        let (m, c) = files
            .split_once(',')
            .with_context(|| format!("--reference {spec:?}: expected NAME=MODEL,CATALOG"))?;
        v.push(r(
            name,
            &format!("Central sequence model ({name})"),
            &format!("trained centrally on the history window; `{m}` + `{c}`; replayed without on-device learning"),
            RowKind::Reference(m.into(), c.into()),
        ));
    }
    v.push(r(
        "zero-shot",
        "Zero-shot source model",
        "source model, no target data; on-device learning off",
        RowKind::ZeroShot,
    ));
    v.push(r(
        "device",
        "+ on-device head (α grown)",
        "source model + adapter and intent heads learned in each browser; α = n/(n+1) after n steps (the default `alphaHalfLife` 1)",
        RowKind::Device(None),
    ));
    for &al in &a.alphas {
        v.push(r(
            &format!("alpha-{al}"),
            &format!("+ on-device head, α = {al}"),
            &format!("as above, α fixed at {al}"),
            RowKind::Device(Some(al)),
        ));
    }
    for &z in &a.fed_noise {
        v.push(r(
            &format!("fed-z{z}"),
            &format!("+ shop-level FedAvg (z = {z}, simulated) + on-device"),
            &format!(
                "**a simulation**: no browser sends anything; {} rounds over the history window's browsers, simulated in this process, clip {}, Gaussian noise z = {z}; then on-device learning as above",
                a.fed_rounds, a.fed_clip
            ),
            RowKind::Fed(z),
        ));
    }
    v.push(r(
        "shop-head",
        "+ shop head from orders (no on-device learning)",
        "the shop head `nextclick shop-head` learns from the history window's purchases (customer, item, time) only; every visitor starts from it; on-device learning off",
        RowKind::ShopHead(false),
    ));
    v.push(r(
        "purchases",
        "+ shop head from orders + on-device",
        "as above, then on-device learning from the shop head (θ₀ = shop head, α grown)",
        RowKind::ShopHead(true),
    ));
    v.push(r(
        "shop-intent",
        "+ shop head with intent priors from the history window (no on-device learning)",
        "the shop head as above, plus the purchase and exit priors `nextclick shop-head --history` learns from the history window's events (`fit_intent`: logistic regressions on the intent cases the core itself produces, each kept only if its 5-fold cross-validated ROC-AUC over the history window's shoppers beats the hand-set prior's); every visitor's intent heads start from them; on-device learning off",
        RowKind::ShopIntent(false),
    ));
    v.push(r(
        "shop-intent-device",
        "+ shop head with intent priors + on-device",
        "as above, then on-device learning from there",
        RowKind::ShopIntent(true),
    ));
    v.push(r(
        "item-shift",
        "+ Δf: item vectors shifted towards their purchase contexts (no on-device learning)",
        "feature-based transfer `f' = f + Δf` (`nextclick_model::item_shift`): each item's vector moved towards the session vectors that preceded its purchases, from the history window's purchases only, baked into the catalog and kept only if it beats the source catalog on held-out purchases; on-device learning off",
        RowKind::ItemShift,
    ));
    if !a.rows.is_empty() {
        for n in &a.rows {
            if !v.iter().any(|s| &s.name == n) {
                bail!(
                    "--rows: unknown row {n:?} (known: {})",
                    v.iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        v.retain(|s| a.rows.contains(&s.name));
    }
    Ok(v)
}

/// Everything shared by the rows.
pub struct Shared<'a> {
    /// The data.
    pub data: &'a Dataset,
    /// The split.
    pub split: Split,
    /// Labels.
    pub labels: Labels,
    /// History sessions (catalog indices).
    pub history: Vec<Vec<u32>>,
    /// Popularity.
    pub pop: Popularity,
    /// Source model bytes.
    pub model: Vec<u8>,
    /// Catalog bytes.
    pub catalog: Vec<u8>,
    /// Federated settings.
    pub fed: FedOptions,
    /// The replay's catalog (item indices of the targets).
    pub eval_catalog: &'a Catalog,
}

fn predictor(model: &[u8], catalog: &[u8], head: HeadOptions) -> Result<Predictor> {
    Ok(Predictor::new(model, catalog, DeviceModel::options(head))?)
}

/// Trains (if needed) and replays one row.
pub fn run_row(spec: &RowSpec, sh: &Shared) -> Result<RowResult> {
    let t0 = std::time::Instant::now();
    let mut note = String::new();
    let mut fed = None;
    let mut train_seconds = 0.0;
    let mut model: Box<dyn Model> = match &spec.kind {
        RowKind::Popularity => Box::new(PopularityModel::new(sh.pop.clone())),
        RowKind::Cooccurrence => Box::new(CooccurrenceModel::new(&sh.history, sh.pop.clone())),
        RowKind::Sknn => Box::new(SknnModel::new(&sh.history, sh.pop.clone())),
        RowKind::Reference(m, c) => {
            let mb = std::fs::read(m).with_context(|| format!("cannot read {}", m.display()))?;
            let cb = std::fs::read(c).with_context(|| format!("cannot read {}", c.display()))?;
            let mut m = DeviceModel::new(predictor(&mb, &cb, HeadOptions::default())?, false);
            m.intents = false;
            let own = m.predictor.catalog();
            m.remap = Some(
                (0..own.len())
                    .map(|i| {
                        sh.eval_catalog
                            .index_of(own.id(i))
                            .map_or(u32::MAX, |j| j as u32)
                    })
                    .collect(),
            );
            Box::new(m)
        }
        RowKind::ZeroShot => Box::new(DeviceModel::new(
            predictor(&sh.model, &sh.catalog, HeadOptions::default())?,
            false,
        )),
        RowKind::Device(alpha) => {
            let h = HeadOptions {
                alpha: *alpha,
                ..HeadOptions::default()
            };
            Box::new(DeviceModel::new(
                predictor(&sh.model, &sh.catalog, h)?,
                true,
            ))
        }
        RowKind::Fed(z) => {
            let mut p = predictor(&sh.model, &sh.catalog, HeadOptions::default())?;
            let o = FedOptions {
                noise_multiplier: *z,
                ..sh.fed.clone()
            };
            let (init, rep) = fedavg(&mut p, sh.data, &sh.split, &o)?;
            note = format!(
                "{} browsers × {} rounds; ε = {:.2} at δ = {:.0e}; updates clipped: {:.0}% (last round), mean norm {:.3}",
                rep.browsers,
                o.rounds,
                rep.epsilon,
                o.delta,
                rep.clipped.last().unwrap_or(&0.0) * 100.0,
                rep.mean_norm.last().unwrap_or(&0.0)
            );
            fed = Some(rep);
            train_seconds = t0.elapsed().as_secs_f64();
            let mut m = DeviceModel::new(p, true);
            m.init = Some(init);
            Box::new(m)
        }
        RowKind::ItemShift => {
            let customers = history_orders(sh.data, &sh.split);
            let source = Catalog::from_bytes(&sh.catalog)?;
            let catalog = match item_shift::fit(
                &sh.model,
                &source,
                &customers,
                &ShiftOptions::default(),
            ) {
                Ok((shifted, rep)) => {
                    note = format!(
                        "{} items shifted by the purchases of {} customers (β = {}); held-out Recall@20 {:.4} → {:.4} over {} purchases",
                        rep.items_shifted, rep.customers, rep.beta, rep.holdout_source, rep.holdout_shifted, rep.holdout_cases
                    );
                    shifted.to_bytes()
                }
                // not enough repeat customers, or no gain: the row is the source catalog (said so)
                Err(e) => {
                    note = format!("no Δf ({e}); the source catalog");
                    sh.catalog.clone()
                }
            };
            train_seconds = t0.elapsed().as_secs_f64();
            Box::new(DeviceModel::new(
                predictor(&sh.model, &catalog, HeadOptions::default())?,
                false,
            ))
        }
        RowKind::ShopHead(on_device) => {
            let mut p = predictor(&sh.model, &sh.catalog, HeadOptions::default())?;
            let customers = history_orders(sh.data, &sh.split);
            note = match fit(&mut p, &customers, &FitOptions::default()) {
                Ok((head, rep)) => {
                    p.set_shop_head(Some(&head.to_bytes()))
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    format!(
                        "{} purchases of {} customers with ≥ 2 (of {} customers); {} steps",
                        rep.purchases,
                        rep.customers,
                        customers.len(),
                        rep.steps
                    )
                }
                // a shop without repeat customers: no head, the row is the source model (said so)
                Err(e) => {
                    format!("no shop head learned ({e}); visitors start from the source model")
                }
            };
            train_seconds = t0.elapsed().as_secs_f64();
            Box::new(DeviceModel::new(p, *on_device))
        }
        RowKind::ShopIntent(on_device) => {
            let mut p = predictor(&sh.model, &sh.catalog, HeadOptions::default())?;
            let customers = history_orders(sh.data, &sh.split);
            let (mut head, mut parts) = match fit(&mut p, &customers, &FitOptions::default()) {
                Ok((head, rep)) => (
                    head,
                    vec![format!("shop head from {} purchases", rep.purchases)],
                ),
                Err(e) => (
                    ShopHead::neutral(*p.encoder().sha256(), p.encoder().shape().dim),
                    vec![format!("no shop head ({e})")],
                ),
            };
            let shoppers = history_events(sh.data, &sh.split);
            let io = IntentFitOptions::default();
            let (purchase, exit, rep) = fit_intent(&mut p, &shoppers, &io)?;
            parts.push(format!(
                "intent priors from {} shoppers ({} events); ROC-AUC on the history window, {}-fold cross-validated by shopper: purchase {:.3} (hand-set prior) → {:.3} (learned, L2 {}, {}){}, exit {:.3} → {:.3} (L2 {}, {}){}; {:.1} s",
                rep.shoppers,
                rep.events,
                io.folds,
                rep.prior_auc[0],
                rep.learned_auc[0],
                rep.l2[0],
                if rep.with_vector[0] { "features + session vector" } else { "features only" },
                if rep.kept[0] { ", kept" } else { ", not kept" },
                rep.prior_auc[1],
                rep.learned_auc[1],
                rep.l2[1],
                if rep.with_vector[1] { "features + session vector" } else { "features only" },
                if rep.kept[1] { ", kept" } else { ", not kept" },
                rep.seconds
            ));
            (head.purchase, head.exit) = (purchase, exit);
            p.set_shop_head(Some(&head.to_bytes()))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            note = parts.join("; ");
            train_seconds = t0.elapsed().as_secs_f64();
            Box::new(DeviceModel::new(p, *on_device))
        }
    };
    let out = replay(model.as_mut(), sh.data, &sh.split, &sh.labels, K)?;
    eprintln!(
        "eval: {:<14} {} targets, {:.1} s",
        spec.name,
        out.counts.targets,
        t0.elapsed().as_secs_f64()
    );
    Ok(RowResult {
        spec: spec.clone(),
        out,
        note,
        fed,
        train_seconds,
    })
}

/// Replays `specs` on `jobs` threads, in spec order.
pub fn run_rows(specs: &[RowSpec], sh: &Shared, jobs: usize) -> Result<Vec<RowResult>> {
    let queue: Mutex<VecDeque<usize>> = Mutex::new((0..specs.len()).collect());
    let results: Mutex<Vec<Option<Result<RowResult>>>> =
        Mutex::new((0..specs.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let Some(i) = queue.lock().expect("queue").pop_front() else {
                    break;
                };
                let r = run_row(&specs[i], sh);
                results.lock().expect("results")[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .expect("results")
        .into_iter()
        .map(|r| r.expect("every row ran"))
        .collect()
}

/// Loads the catalog (given, or built with `nextclick catalog` into `work`).
pub fn catalog_bytes(a: &EvalArgs) -> Result<(Vec<u8>, PathBuf)> {
    let path = match &a.catalog {
        Some(p) => p.clone(),
        None => {
            std::fs::create_dir_all(&a.work)?;
            let name = a
                .target
                .file_name()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_else(|| "target".into());
            let out = a.work.join(format!("{name}.catalog"));
            let exe = std::env::current_exe()?;
            eprintln!(
                "eval: no --catalog: building {} with `nextclick catalog`",
                out.display()
            );
            let st = std::process::Command::new(exe)
                .arg("catalog")
                .arg(a.target.join("items.csv"))
                .arg("--model")
                .arg(&a.model)
                .arg("--out")
                .arg(&out)
                .status()
                .context("running `nextclick catalog`")?;
            if !st.success() {
                bail!("`nextclick catalog` failed; build the catalog yourself and pass --catalog");
            }
            out
        }
    };
    let b = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok((b, path))
}

/// Writes the history window of `dir` as a canonical-layout folder `out` (items.csv copied, events.csv
/// with the history-window rows of the kept events, sorted by session then time).
pub fn write_history(dir: &Path, data: &Dataset, split: &Split, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out)?;
    std::fs::copy(dir.join("items.csv"), out.join("items.csv"))?;
    let mut w = csv::Writer::from_path(out.join("events.csv"))?;
    w.write_record([
        "session_id",
        "user_id",
        "timestamp",
        "event_type",
        "item_id",
    ])?;
    let mut n = 0;
    for s in &data.sessions {
        for &e in &s.events {
            let ev = &data.events[e];
            if ev.ts < split.split_ts {
                let ts = format!("{}", ev.ts as i64);
                w.write_record([
                    s.id.as_str(),
                    data.users[ev.user as usize].as_str(),
                    &ts,
                    ev.kind.name(),
                    &ev.item_id,
                ])?;
                n += 1;
            }
        }
    }
    w.flush()?;
    eprintln!(
        "eval: wrote the history window ({n} events) to {}",
        out.display()
    );
    Ok(())
}

/// `nextclick eval`.
pub fn run(a: EvalArgs) -> Result<()> {
    let t0 = std::time::Instant::now();
    let resolve_none = |_: &str| None;
    if let Some(out) = &a.write_history {
        let ds = data::load(&a.target, &resolve_none)?;
        let split = Split::at_fraction(&ds, a.history_frac);
        return write_history(&a.target, &ds, &split, out);
    }
    let model =
        std::fs::read(&a.model).with_context(|| format!("cannot read {}", a.model.display()))?;
    let (catalog, catalog_path) = catalog_bytes(&a)?;
    let cat = Catalog::from_bytes(&catalog)
        .map_err(|e| anyhow::anyhow!("{}: {e}", catalog_path.display()))?;
    let resolve = |id: &str| cat.index_of(id).map(|i| i as u32);
    let ds = data::load(&a.target, &resolve)?;
    if ds.events.is_empty() {
        bail!("{}: no events to replay", a.target.display());
    }
    let split = Split::at_fraction(&ds, a.history_frac);
    let labels = Labels::new(&ds, &split);
    let history = history_sessions(&ds, &split);
    let pop = Popularity::new(&history, cat.len());
    eprintln!(
        "eval: {} events, {} sessions, {} users, catalog {} items; split at t = {} ({} history / {} test events)",
        ds.events.len(),
        ds.sessions.len(),
        ds.users.len(),
        cat.len(),
        split.split_ts,
        split.history_events,
        split.test_events
    );
    for l in ds.bad.lines() {
        eprintln!("eval: bad input: {l}");
    }
    let fed = FedOptions {
        rounds: a.fed_rounds,
        clip: a.fed_clip,
        seed: a.seed,
        ..FedOptions::default()
    };
    let sh = Shared {
        data: &ds,
        split,
        labels,
        history,
        pop,
        model,
        catalog,
        fed,
        eval_catalog: &cat,
    };
    let specs = row_specs(&a)?;
    let rows = run_rows(&specs, &sh, a.jobs)?;
    let replay_seconds = t0.elapsed().as_secs_f64();
    let ctx = crate::report::Context {
        args: &a,
        data: &ds,
        split: &sh.split,
        labels: &sh.labels,
        catalog_items: cat.len(),
        catalog_path: &catalog_path,
        model_sha: nextclick::catalog::hex(&nextclick::catalog::sha256(&sh.model)),
        replay_seconds,
    };
    crate::report::write(&ctx, &rows, t0)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nextclick_model::encoder::SplitMix;

    /// A generated shop over the reference catalog: users browse "neighbouring" items, some buy.
    fn shop(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        let r = nextclick_model::reference::build();
        let mut items = String::from("item_id,title,category,brand,price\n");
        for id in r.catalog.ids() {
            items.push_str(&format!("{id},,c,b,1\n"));
        }
        std::fs::write(dir.join("items.csv"), items).unwrap();
        let mut ev = String::from("session_id,user_id,timestamp,event_type,item_id\n");
        let mut g = SplitMix(3);
        for u in 0..14 {
            for s in 0..2 {
                let mut t = 1_700_000_000 + u * 50 + s * 4000;
                let mut item = g.below(300);
                for j in 0..(1 + g.below(6)) {
                    let kind = if j == 3 {
                        "purchase"
                    } else if j == 2 {
                        "cart"
                    } else {
                        "view"
                    };
                    ev.push_str(&format!("s{u}-{s},u{u},{t},{kind},ref-{item:04}\n"));
                    item = (item + 1 + g.below(3)) % 300;
                    t += 5 + g.below(60) as u64;
                }
            }
        }
        ev.push_str("s0-0,u0,1700000001,hover,ref-0001\n");
        std::fs::write(dir.join("events.csv"), ev).unwrap();
        std::fs::write(dir.join("model.onnx"), &r.onnx).unwrap();
        std::fs::write(dir.join("shop.catalog"), r.catalog.to_bytes()).unwrap();
    }

    #[test]
    fn end_to_end_on_a_generated_shop() {
        let dir = std::env::temp_dir().join(format!("nextclick-eval-e2e-{}", std::process::id()));
        shop(&dir);
        let out = dir.join("results.md");
        std::fs::write(&out, "# Results\n\n## Other\nkept\n").unwrap();
        let args = EvalArgs {
            target: dir.clone(),
            model: dir.join("model.onnx"),
            catalog: Some(dir.join("shop.catalog")),
            out: Some(out.clone()),
            title: "Generated shop (replay)".into(),
            plots: None,
            work: dir.join("work"),
            history_frac: 0.5,
            bootstrap: 50,
            seed: 1,
            alphas: Vec::new(),
            fed_noise: vec![1.0],
            fed_rounds: 1,
            fed_clip: 1.0,
            reference: vec![format!(
                "again={},{}",
                dir.join("model.onnx").display(),
                dir.join("shop.catalog").display()
            )],
            rows: Vec::new(),
            jobs: 2,
            write_history: None,
            command: Some("nextclick eval (test)".into()),
            note: Some("generated".into()),
        };
        run(args.clone()).unwrap();
        let md = std::fs::read_to_string(&out).unwrap();
        assert!(md.contains("## Other\nkept"), "other sections are kept");
        for needle in [
            "## Generated shop (replay)",
            "| Popularity |",
            "| Session-kNN |",
            "Zero-shot source model",
            "ε = ",
            "1 events of unknown type \"hover\"",
            "![Learning curve]",
        ] {
            assert!(md.contains(needle), "missing {needle:?} in\n{md}");
        }
        let slug = dir.join("eval").join("generated-shop-replay.json");
        let j: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(slug).unwrap()).unwrap();
        let rows = j["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 12);
        // the central reference with the same model and no learning is exactly the zero-shot row
        let get = |n: &str| {
            rows.iter().find(|r| r["name"] == n).unwrap()["no_repeat"]["r20"]["value"]
                .as_f64()
                .unwrap()
        };
        assert_eq!(get("again"), get("zero-shot"));
        // history window written for a central trainer
        let h = dir.join("hist");
        run(EvalArgs {
            write_history: Some(h.clone()),
            ..args
        })
        .unwrap();
        let n = std::fs::read_to_string(h.join("events.csv"))
            .unwrap()
            .lines()
            .count()
            - 1;
        assert_eq!(n as u64, j["history_events"].as_u64().unwrap());
        if std::env::var_os("NEXTCLICK_KEEP_TEST_OUTPUT").is_none() {
            std::fs::remove_dir_all(&dir).ok();
        }
    }
}
