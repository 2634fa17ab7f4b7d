//! `make bench-catalog`: IVF-PQ catalogs (format version 2) of generated clustered vectors against the
//! exact f32 and int8 scans — build time, bytes, estimated wasm memory, recall@20, native top-20 latency.
//! A benchmark, not a test; prints a Markdown table (docs/bench.md's "Big catalogs" section is written
//! from it). Arguments: item counts (default `20000 100000 1000000`); `--grid` also sweeps nprobe.
//! Env: `BENCH_QUERIES` (default 500), `BENCH_M` (sub-spaces; default the builder's `d/4`).
//! `BENCH_CATALOG_WRITE=DIR` also writes each size's catalogs as `DIR/catalog-N-{f32,ivfpq,ivfpq8}.bin`
//! (and the IVF-PQ ones split, format version 3: `catalog-N-KIND-split.bin` + `.body.bin`),
//! bound to the model `BENCH_CATALOG_MODEL` (default models/default.onnx), for the same measurement in
//! Chromium (`make bench-catalog-web`, bench/run.mjs `BENCH_ONLY=ivf`). With `BENCH_CATALOG_WRITE` it also
//! writes, for the npm vector-search libraries' side by side (bench/run.mjs `BENCH_ONLY=vector-libs`), the
//! inputs as raw little-endian arrays: `vectors-N.f32` (N × 64, the vectors the catalogs are built from),
//! `queries-N.f32` (the `BENCH_QUERIES` × 64 recall queries) and `exact-N.u32` (the exact f32 scan's top-20
//! rows per query, best first), and `bench-catalog-N.json` (this table's rows for that size).
//! `--vectors-only` (with `BENCH_CATALOG_WRITE`) writes just those three arrays: no catalogs, no table.

use std::time::Instant;

use nextclick::catalog::Catalog;
use nextclick::ivfpq::Scratch;
use nextclick_model::ivfpq::{build, clustered_vectors, queries_near, recall_at, IvfPqConfig};

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// p50 and p99 of one top-20 search per query, in ms.
fn latency(cat: &Catalog, qs: &[Vec<f32>]) -> (f64, f64) {
    let mut s = Scratch::default();
    for q in qs.iter().take(20) {
        std::hint::black_box(cat.search(q, 20, &[], &mut s));
    }
    let mut t: Vec<f64> = qs
        .iter()
        .map(|q| {
            let t0 = Instant::now();
            std::hint::black_box(cat.search(std::hint::black_box(q), 20, &[], &mut s));
            t0.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    (pct(&mut t, 0.5), pct(&mut t, 0.99))
}

/// Raw little-endian f32s (the browser's Float32Array on every platform it runs on).
fn le_bytes(xs: impl Iterator<Item = f32>) -> Vec<u8> {
    xs.flat_map(f32::to_le_bytes).collect()
}

fn mib(b: usize) -> String {
    format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let grid = args.iter().any(|a| a == "--grid");
    let vectors_only = args.iter().any(|a| a == "--vectors-only");
    let mut sizes: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    if sizes.is_empty() {
        sizes = vec![20_000, 100_000, 1_000_000];
    }
    let nq: usize = std::env::var("BENCH_QUERIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    let d = 64; // models/default.onnx's D (the build needs no model)
    let write = std::env::var_os("BENCH_CATALOG_WRITE").map(std::path::PathBuf::from);
    // Bound to a real model only when the files are written for the browser (its SHA-256 is checked there).
    let sha = match &write {
        Some(dir) => {
            std::fs::create_dir_all(dir).expect("BENCH_CATALOG_WRITE directory");
            let model = std::env::var("BENCH_CATALOG_MODEL").unwrap_or_else(|_| {
                concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/default.onnx").into()
            });
            nextclick::catalog::sha256(&std::fs::read(&model).expect("BENCH_CATALOG_MODEL"))
        }
        None if vectors_only => panic!("--vectors-only needs BENCH_CATALOG_WRITE=DIR"),
        None => [0u8; 32],
    };
    let write_raw = |name: String, bytes: Vec<u8>| {
        if let Some(dir) = &write {
            let f = dir.join(name);
            std::fs::write(&f, bytes).expect("write raw array");
            eprintln!("bench_catalog: wrote {}", f.display());
        }
    };
    let save = |n: usize, kind: &str, c: &Catalog| {
        if let Some(dir) = &write {
            let f = dir.join(format!("catalog-{n}-{kind}.bin"));
            std::fs::write(&f, c.to_bytes()).expect("write catalog");
            eprintln!("bench_catalog: wrote {}", f.display());
            if c.ivfpq().is_some() {
                // the same catalog split (format version 3): head + body, for the lazy-loading runs
                let (head, body) = nextclick::split::write_catalog(c, 0, 32).expect("split");
                let h = dir.join(format!("catalog-{n}-{kind}-split.bin"));
                std::fs::write(&h, head).expect("write head");
                std::fs::write(dir.join(format!("catalog-{n}-{kind}-split.body.bin")), body)
                    .expect("write body");
                eprintln!("bench_catalog: wrote {} (+ .body.bin)", h.display());
            }
        }
    };
    if !vectors_only {
        println!("| items | catalog | build (s) | file bytes | vectors/codes bytes | est. wasm heap | recall@20 | top-20 p50 (ms) | top-20 p99 (ms) |");
        println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    }
    for &n in &sizes {
        let clusters = (n / 100).max(10);
        let v = clustered_vectors(n, d, clusters, 0.6, n as u64);
        let qs = queries_near(&v, d, nq, 0.5, 7);
        let ids: Vec<String> = (0..n).map(|i| format!("it-{i}")).collect();
        let exact = Catalog::from_f32(ids.clone(), d, v.clone(), None, sha).expect("f32 catalog");
        if write.is_some() {
            // the libraries' inputs: the same vectors and queries, and the exact top-20 to score them by
            write_raw(format!("vectors-{n}.f32"), le_bytes(v.iter().copied()));
            write_raw(
                format!("queries-{n}.f32"),
                le_bytes(qs.iter().flatten().copied()),
            );
            let mut s = Scratch::default();
            let top: Vec<u8> = qs
                .iter()
                .flat_map(|q| exact.search(q, 20, &[], &mut s))
                .flat_map(|(i, _)| (i as u32).to_le_bytes())
                .collect();
            write_raw(format!("exact-{n}.u32"), top);
            if vectors_only {
                continue;
            }
        }
        let q8 = exact.quantize_int8();
        let mut json: Vec<serde_json::Value> = Vec::new();
        let row = |name: &str, c: &Catalog, secs: f64, vec_bytes: usize| {
            let bytes = c.to_bytes().len();
            let r = recall_at(&exact, c, &qs, 20);
            let (p50, p99) = latency(c, &qs);
            println!(
                "| {n} | {name} | {secs:.1} | {} | {} | {} | {r:.3} | {p50:.3} | {p99:.3} |",
                mib(bytes),
                mib(vec_bytes),
                mib(c.wasm32_heap_bytes()),
            );
            serde_json::json!({
                "catalog": name, "build_s": secs, "file_bytes": bytes, "vector_bytes": vec_bytes,
                "wasm32_heap_bytes": c.wasm32_heap_bytes(), "recall20": r, "p50_ms": p50, "p99_ms": p99,
            })
        };
        json.push(row("exact f32 (v1)", &exact, 0.0, n * d * 4));
        if n <= 100_000 {
            save(n, "f32", &exact); // 1M f32 rows are 254 MB: the page is not given that
        }
        json.push(row("int8 (v1)", &q8, 0.0, n * d + n * 4));
        for rescore in [false, true] {
            let cfg = IvfPqConfig {
                rescore,
                subspaces: std::env::var("BENCH_M").ok().and_then(|s| s.parse().ok()),
                ..Default::default()
            };
            let t0 = Instant::now();
            let mut cat =
                build(ids.clone(), d, &v, None, sha, &cfg, &|_, _, _| {}).expect("IVF-PQ catalog");
            let secs = t0.elapsed().as_secs_f64();
            let ix = cat.ivfpq().expect("ivfpq").clone();
            let name = format!(
                "IVF-PQ{} (v2: {} lists, m {}, nprobe {}{})",
                if rescore { " + int8 re-score" } else { "" },
                ix.nlist(),
                ix.subspaces,
                ix.nprobe,
                if rescore {
                    format!(", rerank {}", ix.rerank)
                } else {
                    String::new()
                }
            );
            json.push(row(&name, &cat, secs, ix.encoded_len()));
            save(n, if rescore { "ivfpq8" } else { "ivfpq" }, &cat);
            if grid {
                for np in [ix.nprobe / 2, ix.nprobe * 2, ix.nprobe * 4] {
                    for rr in [100, 400] {
                        cat.set_search(np, rr);
                        let label = format!(
                            "… nprobe {np}{}",
                            if rescore {
                                format!(", rerank {rr}")
                            } else {
                                String::new()
                            }
                        );
                        json.push(row(&label, &cat, secs, ix.encoded_len()));
                        if !rescore {
                            break;
                        }
                    }
                }
                cat.set_search(ix.nprobe, ix.rerank);
            }
        }
        let summary = serde_json::json!({ "items": n, "dim": d, "queries": nq, "rows": json });
        write_raw(
            format!("bench-catalog-{n}.json"),
            serde_json::to_vec_pretty(&summary).expect("json"),
        );
    }
}
