//! Summaries of the replayed rows (metrics with bootstrap intervals), the Markdown section, the JSON of
//! every figure, and the plots.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::args::EvalArgs;
use crate::metrics::{
    auc_estimate, interval, mrr_at, mse, ndcg_at, prf1, recall_at, resamples, Estimate, UnitSums,
};
use crate::plot::{self, Series};
use crate::replay::{gap_regression, IntentCase, Labels, Target};
use crate::rows::{RowKind, RowResult, K};
use nextclick_data::replay::{Dataset, Split};

/// What the report needs besides the rows.
pub struct Context<'a> {
    /// Arguments.
    pub args: &'a EvalArgs,
    /// Data.
    pub data: &'a Dataset,
    /// Split.
    pub split: &'a Split,
    /// Labels.
    pub labels: &'a Labels,
    /// Items in the catalog.
    pub catalog_items: usize,
    /// Catalog file.
    pub catalog_path: &'a Path,
    /// SHA-256 of the source model.
    pub model_sha: String,
    /// Seconds until the replays were done.
    pub replay_seconds: f64,
}

/// Next-click metrics of one policy.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RankSummary {
    /// Targets.
    pub n: usize,
    /// Recall@10.
    pub r10: Estimate,
    /// Recall@20.
    pub r20: Estimate,
    /// MRR@20.
    pub mrr20: Estimate,
    /// NDCG@20.
    pub ndcg20: Estimate,
}

/// Intent metrics of one row.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IntentSummary {
    /// Test cases.
    pub n: usize,
    /// Share of test cases followed by a purchase.
    pub purchase_rate: f64,
    /// Share of test cases that end their session.
    pub exit_rate: f64,
    /// Decision threshold of the purchase head (best F1 on the history window).
    pub threshold: f64,
    /// Precision, recall, F1 at that threshold, on the test window.
    pub prf1: (f64, f64, f64),
    /// Purchase ROC-AUC.
    pub purchase_auc: Option<Estimate>,
    /// Exit-risk ROC-AUC.
    pub exit_auc: Option<Estimate>,
}

fn rank_summary(
    ts: &[&Target],
    rank: impl Fn(&Target) -> Option<u8>,
    n_units: usize,
    samples: &[Vec<u32>],
) -> (RankSummary, [UnitSums; 4]) {
    let units: Vec<u32> = ts.iter().map(|t| t.unit).collect();
    let m = |f: &dyn Fn(Option<usize>) -> f64| {
        let v: Vec<f64> = ts.iter().map(|t| f(rank(t).map(|r| r as usize))).collect();
        UnitSums::new(n_units, &units, &v)
    };
    let sums = [
        m(&|r| recall_at(r, 10)),
        m(&|r| recall_at(r, 20)),
        m(&|r| mrr_at(r, 20)),
        m(&|r| ndcg_at(r, 20)),
    ];
    let s = RankSummary {
        n: ts.len(),
        r10: sums[0].estimate(samples),
        r20: sums[1].estimate(samples),
        mrr20: sums[2].estimate(samples),
        ndcg20: sums[3].estimate(samples),
    };
    (s, sums)
}

fn intent_summary(
    cases: &[IntentCase],
    n_units: usize,
    samples: &[Vec<u32>],
) -> Option<IntentSummary> {
    let test: Vec<&IntentCase> = cases.iter().filter(|c| c.test).collect();
    if test.is_empty() {
        return None;
    }
    let hist: Vec<&IntentCase> = cases.iter().filter(|c| !c.test).collect();
    let (hp, hy): (Vec<f64>, Vec<bool>) = hist.iter().map(|c| (c.p_purchase, c.y_purchase)).unzip();
    let mut cands: Vec<f64> = hp.clone();
    cands.sort_by(f64::total_cmp);
    cands.dedup();
    let step = (cands.len() / 200).max(1);
    let mut threshold = 0.5;
    let mut best = -1.0;
    for &t in cands.iter().step_by(step) {
        let f = prf1(&hp, &hy, t).2;
        if f > best {
            best = f;
            threshold = t;
        }
    }
    let units: Vec<u32> = test.iter().map(|c| c.unit).collect();
    let pp: Vec<f64> = test.iter().map(|c| c.p_purchase).collect();
    let yp: Vec<bool> = test.iter().map(|c| c.y_purchase).collect();
    let pe: Vec<f64> = test.iter().map(|c| c.p_exit).collect();
    let ye: Vec<bool> = test.iter().map(|c| c.y_exit).collect();
    let n = test.len() as f64;
    Some(IntentSummary {
        n: test.len(),
        purchase_rate: yp.iter().filter(|&&y| y).count() as f64 / n,
        exit_rate: ye.iter().filter(|&&y| y).count() as f64 / n,
        threshold,
        prf1: prf1(&pp, &yp, threshold),
        purchase_auc: auc_estimate(&pp, &yp, &units, n_units, samples),
        exit_auc: auc_estimate(&pe, &ye, &units, n_units, samples),
    })
}

/// Learning-curve buckets of "events seen on the device before the target".
pub const SEEN_BUCKETS: [(u32, u32, &str); 6] = [
    (1, 1, "1"),
    (2, 3, "2–3"),
    (4, 7, "4–7"),
    (8, 15, "8–15"),
    (16, 31, "16–31"),
    (32, u32::MAX, "32+"),
];

/// Everything computed for one row.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RowSummary {
    /// Row name.
    pub name: String,
    /// Label.
    pub label: String,
    /// How it was produced.
    pub how: String,
    /// Policy `no-repeat`.
    pub no_repeat: RankSummary,
    /// Policy `all`.
    pub all: RankSummary,
    /// Policy `no-repeat`, targets in their visitor's first session only (the visit that matters most
    /// for conversion: nothing about this visitor has been learned yet).
    pub first_session: RankSummary,
    /// Policy `all`, the consecutive-repeat targets only (the next event re-views the current item):
    /// its Recall@20 is the share of repeats the row ranks in its top 20 — the re-views a third of a
    /// clickstream's next events are, which the no-repeat policy leaves out.
    pub repeats: RankSummary,
    /// Intent (rows with intent heads).
    pub intent: Option<IntentSummary>,
    /// Recall@20 (no-repeat) per learning-curve bucket.
    pub curve: Vec<Option<Estimate>>,
    /// Extra facts.
    pub note: String,
    /// Replay seconds.
    pub seconds: f64,
    /// Training seconds (shop-level rows).
    pub train_seconds: f64,
    /// α of the row (fixed-α rows).
    pub alpha: Option<f32>,
    #[serde(skip)]
    sums_norep: Vec<UnitSums>,
    #[serde(skip)]
    sums_all: Vec<UnitSums>,
    #[serde(skip)]
    sums_first: Vec<UnitSums>,
}

fn summarize(r: &RowResult, n_units: usize, samples: &[Vec<u32>]) -> RowSummary {
    let all_t: Vec<&Target> = r.out.targets.iter().collect();
    let norep_t: Vec<&Target> = r.out.targets.iter().filter(|t| !t.repeat).collect();
    let (all, sums_all) = rank_summary(&all_t, |t| t.rank_all, n_units, samples);
    let (no_repeat, sums_norep) = rank_summary(&norep_t, |t| t.rank_norep, n_units, samples);
    let first_t: Vec<&Target> = norep_t
        .iter()
        .copied()
        .filter(|t| t.first_session)
        .collect();
    let (first_session, sums_first) = rank_summary(&first_t, |t| t.rank_norep, n_units, samples);
    let rep_t: Vec<&Target> = all_t.iter().copied().filter(|t| t.repeat).collect();
    let (repeats, _) = rank_summary(&rep_t, |t| t.rank_all, n_units, samples);
    let curve = SEEN_BUCKETS
        .iter()
        .map(|&(lo, hi, _)| {
            let b: Vec<&Target> = norep_t
                .iter()
                .copied()
                .filter(|t| t.seen >= lo && t.seen <= hi)
                .collect();
            (b.len() >= 30).then(|| rank_summary(&b, |t| t.rank_norep, n_units, samples).0.r20)
        })
        .collect();
    RowSummary {
        name: r.spec.name.clone(),
        label: r.spec.label.clone(),
        how: r.spec.how.clone(),
        no_repeat,
        all,
        first_session,
        repeats,
        intent: intent_summary(&r.out.intents, n_units, samples),
        curve,
        note: r.note.clone(),
        seconds: r.out.seconds,
        train_seconds: r.train_seconds,
        alpha: match r.spec.kind {
            RowKind::Device(a) => a,
            _ => None,
        },
        sums_norep: sums_norep.to_vec(),
        sums_all: sums_all.to_vec(),
        sums_first: sums_first.to_vec(),
    }
}

/// A target check: the statistic, its interval and whether it is met.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    /// What is checked.
    pub what: String,
    /// Policy.
    pub policy: String,
    /// The statistic (ratio or difference) with its paired interval (`None`: a row was not run).
    pub value: Option<Estimate>,
    /// Met on the point estimate.
    pub met: bool,
    /// Met even at the lower end of the interval.
    pub robust: bool,
}

fn checks(rows: &[RowSummary], samples: &[Vec<u32>]) -> Vec<Check> {
    let find = |n: &str| rows.iter().find(|r| r.name == n);
    let mut out = Vec::new();
    for (policy, pick) in [("no-repeat", true), ("all", false)] {
        let s = |r: &RowSummary| {
            if pick {
                r.sums_norep[1].clone()
            } else {
                r.sums_all[1].clone()
            }
        };
        let what = "zero-shot ≥ 2× popularity (Recall@20 ratio)";
        let value = match (find("zero-shot"), find("popularity")) {
            (Some(z), Some(p)) => {
                let (zs, ps) = (s(z), s(p));
                let stats = samples
                    .iter()
                    .map(|x| zs.mean_of(x) / ps.mean_of(x))
                    .collect();
                Some(interval(zs.mean() / ps.mean(), stats))
            }
            _ => None,
        };
        out.push(Check {
            what: what.into(),
            policy: policy.into(),
            met: value.is_some_and(|v| v.value >= 2.0),
            robust: value.is_some_and(|v| v.lo >= 2.0),
            value,
        });
        let what = "on-device head ≥ session-kNN (Recall@20 difference)";
        let value = match (find("device"), find("sknn")) {
            (Some(d), Some(k)) => Some(s(d).diff(&s(k), samples)),
            _ => None,
        };
        out.push(Check {
            what: what.into(),
            policy: policy.into(),
            met: value.is_some_and(|v| v.value >= 0.0),
            robust: value.is_some_and(|v| v.lo >= 0.0),
            value,
        });
    }
    for row in ["shop-head", "purchases"] {
        let what = format!("{row} ≥ session-kNN on first-session targets (Recall@20 difference)");
        let value = match (find(row), find("sknn")) {
            (Some(d), Some(k)) => Some(d.sums_first[1].diff(&k.sums_first[1], samples)),
            _ => None,
        };
        out.push(Check {
            what,
            policy: "no-repeat, first session".into(),
            met: value.is_some_and(|v| v.value >= 0.0),
            robust: value.is_some_and(|v| v.lo >= 0.0),
            value,
        });
    }
    out
}

fn replace_section(path: &Path, title: &str, body: &str) -> Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let head = format!("## {title}");
    let mut out = String::new();
    let mut lines = old.lines().peekable();
    let mut done = false;
    while let Some(l) = lines.next() {
        if !done && l.trim_end() == head {
            out.push_str(body);
            while let Some(n) = lines.peek() {
                if n.starts_with("## ") {
                    break;
                }
                lines.next();
            }
            done = true;
            continue;
        }
        out.push_str(l);
        out.push('\n');
    }
    if !done {
        if old.is_empty() {
            out.push_str("# Results\n\n");
        } else if !out.ends_with("\n\n") {
            out.push('\n');
        }
        out.push_str(body);
    }
    std::fs::write(path, out).with_context(|| format!("cannot write {}", path.display()))
}

fn utc(ts: f64) -> String {
    // civil-from-days (Howard Hinnant), enough for a report line
    let secs = ts.floor() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn calibration(cases: &[IntentCase], purchase: bool, bins: usize) -> Vec<(f64, f64, f64, f64)> {
    let mut v: Vec<(f64, bool)> = cases
        .iter()
        .filter(|c| c.test)
        .map(|c| {
            if purchase {
                (c.p_purchase, c.y_purchase)
            } else {
                (c.p_exit, c.y_exit)
            }
        })
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = v.len();
    (0..bins)
        .filter_map(|b| {
            let chunk = &v[b * n / bins..(b + 1) * n / bins];
            if chunk.is_empty() {
                return None;
            }
            let m = chunk.len() as f64;
            let p = chunk.iter().map(|c| c.0).sum::<f64>() / m;
            let y = chunk.iter().filter(|c| c.1).count() as f64 / m;
            let se = (y * (1.0 - y) / m).sqrt();
            Some((p, y, (y - 1.96 * se).max(0.0), (y + 1.96 * se).min(1.0)))
        })
        .collect()
}

/// Computes everything and writes the outputs.
pub fn write(ctx: &Context, rows: &[RowResult], t0: std::time::Instant) -> Result<()> {
    let a = ctx.args;
    let n_units = ctx.labels.n_units;
    let samples = resamples(n_units, a.bootstrap, a.seed);
    let sums: Vec<RowSummary> = rows
        .iter()
        .map(|r| summarize(r, n_units, &samples))
        .collect();
    let checks = checks(&sums, &samples);
    let (truth, constant, last, units) = gap_regression(ctx.data, ctx.split, ctx.labels);
    let se = |p: &[f64]| {
        let v: Vec<f64> = p
            .iter()
            .zip(&truth)
            .map(|(p, t)| (p - t) * (p - t))
            .collect();
        UnitSums::new(n_units, &units, &v).estimate(&samples)
    };
    let (mse_const, mse_last) = (se(&constant), se(&last));
    debug_assert!((mse_const.value - mse(&constant, &truth)).abs() < 1e-9 || truth.is_empty());

    let out_dir = a
        .out
        .as_ref()
        .and_then(|p| p.parent().map(|d| d.to_path_buf()))
        .unwrap_or_else(|| PathBuf::from("."));
    let plots = a.plots.clone().unwrap_or_else(|| out_dir.join("eval"));
    std::fs::create_dir_all(&plots)?;
    let rel = |p: &Path| -> String {
        p.strip_prefix(&out_dir)
            .map(|r| r.display().to_string())
            .unwrap_or_else(|_| p.display().to_string())
    };
    let slug: String = a
        .title
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let slug = slug
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");

    // plots
    let find = |n: &str| sums.iter().find(|r| r.name == n);
    let mut plot_files = Vec::new();
    {
        let mut fixed: Vec<(f64, f64, f64, f64)> = Vec::new();
        if let Some(z) = find("zero-shot") {
            fixed.push((
                0.0,
                z.no_repeat.r20.value,
                z.no_repeat.r20.lo,
                z.no_repeat.r20.hi,
            ));
        }
        for r in sums.iter().filter(|r| r.alpha.is_some()) {
            fixed.push((
                r.alpha.unwrap_or(0.0) as f64,
                r.no_repeat.r20.value,
                r.no_repeat.r20.lo,
                r.no_repeat.r20.hi,
            ));
        }
        fixed.sort_by(|x, y| x.0.total_cmp(&y.0));
        let mut series = vec![Series {
            label: "on-device head, fixed α (α = 0: zero-shot)".into(),
            points: fixed,
        }];
        for (n, l) in [
            ("device", "on-device head, α grown with evidence"),
            ("sknn", "session-kNN (history window)"),
            ("popularity", "popularity"),
        ] {
            if let Some(r) = find(n) {
                let e = r.no_repeat.r20;
                series.push(Series {
                    label: l.into(),
                    points: vec![
                        (0.0, e.value, f64::NAN, f64::NAN),
                        (1.0, e.value, f64::NAN, f64::NAN),
                    ],
                });
            }
        }
        let p = plots.join(format!("{slug}-recall-vs-alpha.svg"));
        plot::lines(
            &p,
            "Recall@20 (no-repeat) vs α",
            "α (adapter blending weight)",
            "Recall@20",
            &series,
            None,
            false,
        )?;
        plot_files.push(("Recall@20 vs α", p));
    }
    {
        let labels: Vec<String> = SEEN_BUCKETS.iter().map(|b| b.2.to_string()).collect();
        let series: Vec<Series> = ["popularity", "sknn", "zero-shot", "device"]
            .iter()
            .filter_map(|n| find(n))
            .map(|r| Series {
                label: r.label.clone(),
                points: r
                    .curve
                    .iter()
                    .enumerate()
                    .filter_map(|(i, e)| e.map(|e| (i as f64, e.value, e.lo, e.hi)))
                    .collect(),
            })
            .collect();
        let p = plots.join(format!("{slug}-learning-curve.svg"));
        plot::lines(
            &p,
            "Recall@20 (no-repeat) vs events seen on the device",
            "events of this shopper seen before the target",
            "Recall@20",
            &series,
            Some(&labels),
            false,
        )?;
        plot_files.push(("Learning curve", p));
    }
    {
        let mut series = Vec::new();
        for n in ["device", "zero-shot"] {
            if let Some(r) = rows.iter().find(|r| r.spec.name == n) {
                if r.out.intents.iter().any(|c| c.test) {
                    series.push(Series {
                        label: format!("purchase, {}", r.spec.label),
                        points: calibration(&r.out.intents, true, 10),
                    });
                    series.push(Series {
                        label: format!("exit, {}", r.spec.label),
                        points: calibration(&r.out.intents, false, 10),
                    });
                }
            }
        }
        let p = plots.join(format!("{slug}-intent-calibration.svg"));
        plot::lines(
            &p,
            "Intent calibration (test window, deciles of the prediction)",
            "mean predicted probability",
            "observed rate",
            &series,
            None,
            true,
        )?;
        plot_files.push(("Intent calibration", p));
    }

    // JSON
    let json_path = plots.join(format!("{slug}.json"));
    let json = serde_json::json!({
        "title": a.title, "target": data_label(&a.target), "model_sha256": ctx.model_sha,
        "catalog": ctx.catalog_path.display().to_string(), "catalog_items": ctx.catalog_items,
        "events": ctx.data.events.len(), "sessions": ctx.data.sessions.len(), "users": ctx.data.users.len(),
        "split_ts": ctx.split.split_ts, "history_events": ctx.split.history_events, "test_events": ctx.split.test_events,
        "bad_input": ctx.data.bad, "bootstrap": a.bootstrap, "seed": a.seed, "k": K,
        "replay_counts": rows.first().map(|r| r.out.counts.clone()),
        "rows": sums, "checks": checks,
        "regression": {"target": "log(1 + seconds to the next event of the session)", "n": truth.len(),
                        "mse_history_mean": mse_const, "mse_previous_gap": mse_last},
        "seconds": t0.elapsed().as_secs_f64(),
    });
    std::fs::write(&json_path, serde_json::to_string_pretty(&json)? + "\n")?;

    // Markdown
    let mut md = String::new();
    let counts = rows
        .first()
        .map(|r| r.out.counts.clone())
        .unwrap_or_default();
    let cmd = a.command.clone().unwrap_or_else(|| {
        let args: Vec<String> = std::env::args().skip(1).collect();
        format!("nextclick {}", args.join(" "))
    });
    let w = &mut md;
    writeln!(w, "## {}\n", a.title)?;
    writeln!(w, "Generated by `{cmd}` — {} rows, {:.0} s wall time (replays {:.0} s, {} in parallel). Every figure is also in `{}`.\n",
        rows.len(), t0.elapsed().as_secs_f64(), ctx.replay_seconds, a.jobs, rel(&json_path))?;
    writeln!(w, "**Data.** `{}`: {} events, {} sessions, {} users; catalog `{}` ({} items) for the source model (ONNX SHA-256 `{}…`). Time: {}.\n",
        data_label(&a.target), ctx.data.events.len(), ctx.data.sessions.len(), ctx.data.users.len(), ctx.catalog_path.display(),
        ctx.catalog_items, &ctx.model_sha[..12], if ctx.data.ordinal { "ordinal (order only)" } else { "unix seconds" })?;
    let first = ctx.data.events.first().map_or(0.0, |e| e.ts);
    let lastt = ctx.data.events.last().map_or(0.0, |e| e.ts);
    writeln!(w, "**Split (chronological).** History window = events before {} ({} events, from {}); test window = the {} events from then to {}. \
        Baselines, the shop-level heads and any central model learn from the history window only; the device rows replay every event \
        (history too: that is what the browsers saw), and only test-window events are scored.\n",
        if ctx.data.ordinal { format!("position {}", ctx.split.split_ts) } else { utc(ctx.split.split_ts) }, ctx.split.history_events,
        if ctx.data.ordinal { "0".into() } else { utc(first) }, ctx.split.test_events, if ctx.data.ordinal { format!("{lastt}") } else { utc(lastt) })?;
    writeln!(w, "**Replay.** All events in time order (ties: file order); before each event the row ranks the full catalog of {} items \
        (items bought in the session left out), then sees the event. One state per user, carried across that user's sessions as one browser keeps it \
        (`take_state`/`put_state` on one predictor), `end_session` at each of the data's session boundaries. Targets: test-window events that are not \
        the first of their session ({} session starts not scored) and whose item is in the catalog ({} not scored): {} targets, {} of them a \
        **consecutive repeat** of the previous event's item. Policies: **no-repeat** = repeats dropped and the current item removed from the list \
        (what the page shows; headline), **all** = every target, the current item may be recommended.\n",
        ctx.catalog_items, counts.session_starts, counts.unknown_targets, counts.targets, counts.repeats)?;
    if let Some(note) = &a.note {
        writeln!(w, "**Note.** {note}\n")?;
    }
    let bad = ctx.data.bad.lines();
    writeln!(
        w,
        "**Bad input (counted, policy).** {}\n",
        if bad.is_empty() {
            "none in this data set.".to_string()
        } else {
            bad.join("; ") + "."
        }
    )?;
    writeln!(w, "Intervals: 95% percentile bootstrap over the {n_units} test sessions (B = {}, seed {}), paired across rows.\n", a.bootstrap, a.seed)?;

    writeln!(w, "### Next click (K = {K}, full catalog)\n")?;
    writeln!(w, "| row | Recall@10 | Recall@20 | MRR@20 | NDCG@20 | Recall@20 (all) | MRR@20 (all) | NDCG@20 (all) | first-session Recall@20 | repeats in the top 20 |")?;
    writeln!(w, "|---|---|---|---|---|---|---|---|---|---|")?;
    for r in &sums {
        let (n, x, f) = (&r.no_repeat, &r.all, &r.first_session);
        writeln!(
            w,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.label,
            n.r10.fmt(4),
            n.r20.fmt(4),
            n.mrr20.fmt(4),
            n.ndcg20.fmt(4),
            x.r20.fmt(4),
            x.mrr20.fmt(4),
            x.ndcg20.fmt(4),
            f.r20.fmt(4),
            r.repeats.r20.fmt(4)
        )?;
    }
    writeln!(
        w,
        "\nTargets: {} (no-repeat), {} (all), {} of the no-repeat ones in their visitor's first session (no earlier session of that visitor in the data). \
        The last column is the repeat behaviour: of the {} consecutive repeats (the next event re-views the current item), the share the row ranks in its top {K} (policy all).\n",
        sums.first().map_or(0, |r| r.no_repeat.n),
        sums.first().map_or(0, |r| r.all.n),
        sums.first().map_or(0, |r| r.first_session.n),
        sums.first().map_or(0, |r| r.repeats.n)
    )?;

    writeln!(w, "### Targets\n")?;
    writeln!(w, "| target | policy | value [95% CI] | met? |")?;
    writeln!(w, "|---|---|---|---|")?;
    for c in &checks {
        let verdict = match (c.value.is_some(), c.met, c.robust) {
            (false, _, _) => "**not measured** (a row of it was not run)",
            (_, true, true) => "**met** (also at the interval's lower end)",
            (_, true, false) => "met on the point estimate, not at the interval's lower end",
            _ => "**not met**",
        };
        let v = c.value.map_or("—".to_string(), |v| v.fmt(3));
        writeln!(w, "| {} | {} | {} | {} |", c.what, c.policy, v, verdict)?;
    }
    writeln!(w)?;

    writeln!(w, "### Intent (test window)\n")?;
    writeln!(w, "Purchase label: a purchase follows later in the same session; exit label: the event is its session's last. Precision/recall/F1 at the \
        threshold with the best F1 on the history window's cases (no test data used to choose it).\n")?;
    writeln!(w, "| row | cases | purchase rate | threshold | precision | recall | F1 | purchase ROC-AUC | exit rate | exit-risk ROC-AUC |")?;
    writeln!(w, "|---|---|---|---|---|---|---|---|---|---|")?;
    let na = |e: &Option<Estimate>| e.map_or("n/a (one class)".to_string(), |e| e.fmt(3));
    for r in &sums {
        if let Some(i) = &r.intent {
            writeln!(
                w,
                "| {} | {} | {:.4} | {:.4} | {:.3} | {:.3} | {:.3} | {} | {:.3} | {} |",
                r.label,
                i.n,
                i.purchase_rate,
                i.threshold,
                i.prf1.0,
                i.prf1.1,
                i.prf1.2,
                na(&i.purchase_auc),
                i.exit_rate,
                na(&i.exit_auc)
            )?;
        }
    }
    writeln!(w, "\nThe intent heads are logistic regressions on the session features and the source session vector. The zero-shot row's intent \
        heads are **hand-set priors** (`src/state.rs`: carts raise the purchase odds, long sessions lower the exit risk), not learned from any data; \
        the other rows learn from there.\n")?;

    writeln!(w, "### Regression: log(1 + seconds to the next event)\n")?;
    writeln!(
        w,
        "{} test-window events that have a next event in their session.\n",
        truth.len()
    )?;
    writeln!(w, "| predictor | MSE [95% CI] |\n|---|---|")?;
    writeln!(w, "| history-window mean | {} |", mse_const.fmt(3))?;
    writeln!(
        w,
        "| previous gap of the session (history mean for the first) | {} |\n",
        mse_last.fmt(3)
    )?;

    writeln!(w, "### Plots\n")?;
    for (name, p) in &plot_files {
        writeln!(w, "![{name}]({})\n", rel(p))?;
    }
    writeln!(w, "### Rows: how each was produced\n")?;
    writeln!(w, "Each row alone: the command above with `--rows NAME`.\n")?;
    writeln!(
        w,
        "| row | NAME | trained on / settings | notes | replay s |"
    )?;
    writeln!(w, "|---|---|---|---|---|")?;
    for r in &sums {
        let secs = if r.train_seconds > 0.0 {
            format!("{:.0} (+{:.0} training)", r.seconds, r.train_seconds)
        } else {
            format!("{:.0}", r.seconds)
        };
        writeln!(
            w,
            "| {} | `{}` | {} | {} | {} |",
            r.label, r.name, r.how, r.note, secs
        )?;
    }
    writeln!(w, "\nBaseline hyper-parameters are literature defaults, not tuned on the test window. On-device learning: the core's defaults \
        (adapter SGD lr 0.05, L2 1e-3 toward the source, intent lr 0.05).\n")?;

    print!("{md}");
    if let Some(out) = &a.out {
        replace_section(out, &a.title, &md)?;
        eprintln!("eval: wrote section {:?} of {}", a.title, out.display());
    }
    eprintln!(
        "eval: wrote {} and {} plots in {}",
        json_path.display(),
        plot_files.len(),
        plots.display()
    );
    Ok(())
}

/// The data folder as the report shows it: `$NEXTCLICK_DATA/…` when it lies under that folder (no machine
/// path in a committed report), else as given.
fn data_label(p: &std::path::Path) -> String {
    if let Some(root) = std::env::var_os("NEXTCLICK_DATA") {
        let root = std::path::PathBuf::from(root);
        let canon =
            |q: &std::path::Path| std::fs::canonicalize(q).unwrap_or_else(|_| q.to_path_buf());
        if let Ok(rest) = canon(p).strip_prefix(canon(&root)) {
            return format!("$NEXTCLICK_DATA/{}", rest.display());
        }
    }
    p.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::ReplayOutput;
    use crate::rows::RowSpec;

    #[test]
    fn sections_are_replaced_in_place() {
        let p = std::env::temp_dir().join(format!("nextclick-results-{}.md", std::process::id()));
        std::fs::write(&p, "# Results\n\n## A\nold a\n\n## B\nold b\n").unwrap();
        replace_section(&p, "A", "## A\nnew a\n\n").unwrap();
        replace_section(&p, "C", "## C\nc\n").unwrap();
        let s = std::fs::read_to_string(&p).unwrap();
        assert_eq!(s, "# Results\n\n## A\nnew a\n\n## B\nold b\n\n## C\nc\n");
        std::fs::remove_file(&p).ok();
        assert_eq!(utc(1_569_888_000.0), "2019-10-01 00:00:00 UTC");
    }

    #[test]
    fn the_repeat_share_counts_only_repeats_under_the_all_policy() {
        let t = |unit, rank_all, rank_norep, repeat| Target {
            unit,
            rank_all,
            rank_norep,
            repeat,
            seen: 1,
            first_session: false,
        };
        // three repeats (ranked 0, 25 → out of the top 20 as None, 19) and two other targets
        let targets = vec![
            t(0, Some(0), None, true),
            t(0, None, None, true),
            t(1, Some(19), None, true),
            t(1, Some(3), Some(2), false),
            t(2, None, None, false),
        ];
        let row = RowResult {
            spec: RowSpec {
                name: "x".into(),
                label: "x".into(),
                how: String::new(),
                kind: RowKind::ZeroShot,
            },
            out: ReplayOutput {
                targets,
                ..Default::default()
            },
            note: String::new(),
            fed: None,
            train_seconds: 0.0,
        };
        let samples = resamples(3, 50, 1);
        let s = summarize(&row, 3, &samples);
        assert_eq!(s.repeats.n, 3);
        assert!((s.repeats.r20.value - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.no_repeat.n, 2);
        assert_eq!(s.no_repeat.r20.value, 0.5);
        assert_eq!(s.all.n, 5);
        assert!((s.all.r20.value - 3.0 / 5.0).abs() < 1e-12);
    }
}
