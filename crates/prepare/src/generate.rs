//! Large synthetic event logs for `make bench-prepare` (the CLI's hidden `nextclick gen-events`): streaming (constant
//! memory), deterministic for a seed, and shaped like a shop's log: power-law item popularity, users with
//! several sessions of varied length, a view → addtocart → transaction funnel, seconds-to-minutes gaps
//! inside sessions and hours-to-days between them, and ~2 % bad rows of every kind plus ~1 % duplicates.
//! Raw types are Retailrocket's spellings (`view`, `addtocart`, `transaction`), so the benchmark runs with
//! `--map view=view,addtocart=cart,transaction=purchase` and a few unmapped `search` rows.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// SplitMix64: small, seeded, good enough for synthetic data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }
}

/// What was generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generated {
    /// Event rows written (bad rows and duplicates included).
    pub rows: u64,
    /// Items in items.csv.
    pub items: u64,
}

/// Writes `dir/items.csv` and `dir/events/part-NNN.csv` (about `events` rows over `files` files).
pub fn generate(dir: &Path, events: u64, files: u32, seed: u64) -> Result<Generated> {
    let mut rng = Rng(seed);
    std::fs::create_dir_all(dir.join("events"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let n_items = (events / 100).clamp(1_000, 2_000_000);
    {
        let f = std::fs::File::create(dir.join("items.csv"))?;
        let mut w = std::io::BufWriter::new(f);
        writeln!(w, "item_id,title,category,brand,price")?;
        for i in 0..n_items {
            let price = 1.0 + (rng.exp(30.0) * 100.0).round() / 100.0;
            writeln!(
                w,
                "i{i},Product {i},cat{},brand{},{price:.2}",
                rng.below(200),
                rng.below(500)
            )?;
        }
        w.flush()?;
    }
    let files = files.max(1);
    let per_file = events.div_ceil(files as u64);
    let mut rows = 0u64;
    let mut user = 0u64;
    let start = 1_570_000_000i64;
    for fi in 0..files {
        let path = dir.join("events").join(format!("part-{fi:03}.csv"));
        let f = std::fs::File::create(&path)?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        writeln!(w, "session_id,user_id,timestamp,event_type,item_id")?;
        let target = ((fi as u64 + 1) * per_file).min(events);
        while rows < target {
            user += 1;
            let anonymous = rng.unit() < 0.1;
            let n_sessions = 1 + (rng.exp(1.5) as u64).min(30);
            let mut t = start + rng.below(30 * 86_400) as i64;
            for s in 0..n_sessions {
                let sid = format!("s{user}-{s}");
                let uid = if anonymous {
                    String::new()
                } else {
                    format!("u{user}")
                };
                let len = 1 + (rng.exp(6.0) as u64).min(200);
                let mut cur: Option<u64> = None;
                for _ in 0..len {
                    if rows >= target {
                        break;
                    }
                    // Power-law popularity: u^3 concentrates mass on low ids.
                    let item = cur
                        .filter(|_| rng.unit() < 0.15)
                        .unwrap_or_else(|| (n_items as f64 * rng.unit().powi(3)) as u64);
                    let r = rng.unit();
                    let ty = if cur == Some(item) && r < 0.5 {
                        if rng.unit() < 0.3 {
                            "transaction"
                        } else {
                            "addtocart"
                        }
                    } else if r < 0.003 {
                        "search"
                    } else {
                        "view"
                    };
                    cur = Some(item);
                    t += 1 + rng.exp(45.0) as i64;
                    let bad = rng.unit();
                    if bad < 0.004 {
                        writeln!(w, "{sid},{uid},n/a,{ty},i{item}")?;
                    } else if bad < 0.008 {
                        writeln!(w, "{sid},{uid},{t},{ty},")?;
                    } else if bad < 0.012 {
                        writeln!(w, "{sid},{uid},{t},,i{item}")?;
                    } else if bad < 0.016 {
                        writeln!(w, "{sid},{uid},{t},{ty},x{item}")?;
                    } else if bad < 0.018 {
                        writeln!(w, ",,{t},{ty},i{item}")?;
                    } else {
                        writeln!(w, "{sid},{uid},{t},{ty},i{item}")?;
                        if bad > 0.99 {
                            rows += 1;
                            writeln!(w, "{sid},{uid},{t},{ty},i{item}")?;
                        }
                    }
                    rows += 1;
                }
                t += 3_600 + rng.exp(2.0 * 86_400.0) as i64;
            }
        }
        w.flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(Generated {
        rows,
        items: n_items,
    })
}
