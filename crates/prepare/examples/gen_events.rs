//! Generates a synthetic event log for `make bench-prepare`:
//! `gen_events DIR EVENTS [FILES] [SEED]` → DIR/items.csv, DIR/events/part-NNN.csv.

use std::path::PathBuf;

use anyhow::{Context, Result};

fn main() -> Result<()> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(
        a.first()
            .context("usage: gen_events DIR EVENTS [FILES] [SEED]")?,
    );
    let events: u64 = a.get(1).context("EVENTS missing")?.parse()?;
    let files: u32 = a.get(2).map(|s| s.parse()).transpose()?.unwrap_or(8);
    let seed: u64 = a.get(3).map(|s| s.parse()).transpose()?.unwrap_or(1);
    let t = std::time::Instant::now();
    let g = nextclick_prepare::generate::generate(&dir, events, files, seed)?;
    println!(
        "gen_events: {} rows, {} items in {:.1} s → {}",
        g.rows,
        g.items,
        t.elapsed().as_secs_f64(),
        dir.display()
    );
    Ok(())
}
