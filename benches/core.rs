//! Native micro-benchmarks (criterion): the encoder, catalog scoring (f32 + int8, 2k/20k items), the
//! adapter's learning step and the whole track→top-20 path. `cargo bench` (not part of `make test`).
//! Uses models/default.onnx when it exists, else models/reference.onnx.

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::hint::black_box;

    use criterion::{BenchmarkId, Criterion};
    use nextclick::catalog::{sha256, Catalog};
    use nextclick::contract;
    use nextclick::head::{Adapter, HeadOptions};
    use nextclick::model::{Encoder, EncoderInput};
    use nextclick::{Options, Predictor, RawEvent};

    fn model_bytes() -> Vec<u8> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/models/");
        std::fs::read(format!("{dir}default.onnx"))
            .or_else(|_| std::fs::read(format!("{dir}reference.onnx")))
            .expect("models/reference.onnx")
    }

    /// Random unit-direction vectors × 2 (like tools' `catalog_for`), bound to the model.
    fn catalog(model: &[u8], dim: usize, n: usize) -> Catalog {
        let mut s = 0x9E37_79B9_7F4A_7C15u64 ^ n as u64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f32 / (1u64 << 53) as f32 - 0.5
        };
        let mut v = Vec::with_capacity(n * dim);
        for _ in 0..n {
            let row: Vec<f32> = (0..dim).map(|_| next()).collect();
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
            v.extend(row.iter().map(|x| x / norm * 2.0));
        }
        let ids = (0..n).map(|i| format!("it-{i}")).collect();
        Catalog::from_f32(ids, dim, v, None, sha256(model)).expect("valid catalog")
    }

    fn full_input(enc: &Encoder) -> EncoderInput {
        let shape = enc.shape();
        let mut inp = EncoderInput::empty(shape);
        for p in 0..shape.max_len {
            for j in 0..shape.dim {
                inp.items[p * shape.dim + j] = ((p * 31 + j * 7) % 13) as f32 / 13.0 - 0.5;
            }
            inp.event_types[p] = 1 + (p % 5) as i64;
            inp.time_gaps[p] = contract::gap_bucket(Some(p as f64 * 3.0));
            inp.mask[p] = 1.0;
        }
        inp
    }

    pub fn benches(c: &mut Criterion) {
        let model = model_bytes();
        let enc = Encoder::from_bytes(&model).expect("model loads");
        let dim = enc.shape().dim;
        let input = full_input(&enc);
        c.bench_function("encoder/run (full window)", |b| {
            b.iter(|| enc.run(black_box(&input)).unwrap())
        });
        let q: Vec<f32> = (0..dim).map(|j| (j as f32 * 0.37).sin()).collect();
        let mut g = c.benchmark_group("catalog/score_all");
        for n in [2_000, 20_000] {
            let cat = catalog(&model, dim, n);
            let cat8 = cat.quantize_int8();
            let mut out = Vec::new();
            g.bench_with_input(BenchmarkId::new("f32", n), &n, |b, _| {
                b.iter(|| cat.score_all(black_box(&q), &mut out))
            });
            g.bench_with_input(BenchmarkId::new("int8", n), &n, |b, _| {
                b.iter(|| cat8.score_all(black_box(&q), &mut out))
            });
            g.bench_with_input(BenchmarkId::new("f32+top20", n), &n, |b, _| {
                b.iter(|| {
                    cat.score_all(black_box(&q), &mut out);
                    nextclick::predictor::top_k(&out, 20)
                })
            });
        }
        g.finish();
        let mut g = c.benchmark_group("adapter/learn");
        let opts = HeadOptions::default();
        for n in [2_000, 20_000] {
            let cat = catalog(&model, dim, n);
            let mut ad = Adapter::new(dim);
            let mut t = 0usize;
            g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
                b.iter(|| {
                    t = (t + 7919) % n;
                    ad.learn(black_box(&q), t, &cat, &opts, 1.0)
                })
            });
        }
        g.finish();
        let mut g = c.benchmark_group("predictor/track+predict20");
        for (n, learn) in [(2_000, false), (20_000, false), (20_000, true)] {
            let cat = catalog(&model, dim, n).to_bytes();
            let mut opts = Options::default();
            opts.head.enabled = learn;
            let mut p = Predictor::new(&model, &cat, opts).expect("predictor");
            let mut ts = 1.7e12;
            let mut i = 0usize;
            let name = format!("{n}{}", if learn { " learning" } else { "" });
            g.bench_function(name, |b| {
                b.iter(|| {
                    i += 1;
                    ts += 5_000.0;
                    let raw = RawEvent {
                        kind: "view".into(),
                        item_id: format!("it-{}", (i * 7919) % n),
                        timestamp: Some(ts),
                        price: None,
                    };
                    p.track_raw(&raw, ts).unwrap();
                    p.predict(20).unwrap()
                })
            });
        }
        g.finish();
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    let mut c = criterion::Criterion::default().configure_from_args();
    native::benches(&mut c);
    c.final_summary();
}

#[cfg(target_arch = "wasm32")]
fn main() {}
