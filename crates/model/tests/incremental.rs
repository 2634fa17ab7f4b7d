//! Contract v2, the incremental encoder: tract running the step graph event by event from its key/value
//! cache equals the plain-Rust forward pass over the whole session (no cache), equals the contract-v1
//! window graph of the same weights where the two position schemes agree, and the predictor keeps its
//! cache right across new sessions, restored states and `forget`.

use nextclick::contract::{self, gap_bucket, CONTRACT_VERSION_INCREMENTAL};
use nextclick::model::{
    check_contract, contract_version, Encoder, EncoderInput, KvCache, StepInput,
};
use nextclick::predictor::{Options, Predictor};
use nextclick::RawEvent;
use nextclick_model::encoder::{EncoderConfig, EncoderWeights, SplitMix};
use nextclick_model::reference::{catalog_for, REFERENCE_CONFIG};

/// A random session of `n` events: item vectors, event types, time-gap buckets.
struct Session {
    items: Vec<f32>,
    types: Vec<i64>,
    gaps: Vec<i64>,
}

fn random_session(dim: usize, n: usize, r: &mut SplitMix) -> Session {
    Session {
        items: r.normals(n * dim, 0.5),
        types: (0..n).map(|_| 1 + r.below(5) as i64).collect(),
        gaps: (0..n)
            .map(|i| {
                if i == 0 {
                    contract::GAP_FIRST_OR_UNKNOWN
                } else {
                    2 + r.below(22) as i64
                }
            })
            .collect(),
    }
}

/// The step graph's session vector after each event, from an empty cache.
fn step_all(enc: &Encoder, s: &Session, dim: usize) -> Vec<Vec<f32>> {
    let mut kv = KvCache::new(enc.cache_shape().expect("a v2 model"));
    (0..s.types.len())
        .map(|i| {
            let ev = StepInput {
                item: &s.items[i * dim..(i + 1) * dim],
                event_type: s.types[i],
                time_gap: s.gaps[i],
                index: i as u64,
            };
            enc.step(&mut kv, &ev).unwrap()
        })
        .collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn v2_weights(config: EncoderConfig, seed: u64) -> EncoderWeights {
    let mut w = EncoderWeights::random(config, seed);
    w.positions_from_start = true;
    w
}

fn check_against_plain_rust(w: &EncoderWeights, seed: u64) {
    let c = w.config;
    let bytes = w.to_onnx("test");
    assert_eq!(
        contract_version(&bytes).unwrap(),
        CONTRACT_VERSION_INCREMENTAL
    );
    let enc = Encoder::from_bytes(&bytes).expect("tract loads the step graph");
    let cache = enc.cache_shape().unwrap();
    assert_eq!((cache.layers, cache.slots), (c.layers, c.max_len - 1));
    assert_eq!(enc.shape().max_len, c.max_len);
    let mut r = SplitMix(seed);
    // past L (the ring wraps), and past the cache's reach (layers × (L − 1))
    let n = cache.reach() + 2 * c.max_len + 3;
    let s = random_session(c.dim, n, &mut r);
    let stepped = step_all(&enc, &s, c.dim);
    let full = w.forward_from_start(&s.items, &s.types, &s.gaps, 0);
    let worst = stepped
        .iter()
        .zip(&full)
        .map(|(a, b)| max_diff(a, b))
        .fold(0.0, f32::max);
    assert!(
        worst < 1e-5,
        "max |step − full pass| = {worst} over {n} events"
    );
    // The window encoder never needed the run: v1 entry points refuse a v2 model.
    assert!(enc.run(&EncoderInput::empty(enc.shape())).is_err());
}

#[test]
fn the_step_graph_equals_the_full_pass_at_every_event() {
    check_against_plain_rust(&v2_weights(REFERENCE_CONFIG, 3), 11);
}

#[test]
fn other_shapes_and_cosine_models_step_like_the_full_pass() {
    let small = EncoderConfig {
        max_len: 6,
        dim: 16,
        heads: 4,
        layers: 3,
        ffn: 24,
        ln_eps: 1e-5,
    };
    let mut w = v2_weights(small, 5);
    check_against_plain_rust(&w, 12);
    w.input_scale = 3.5;
    w.normalize_output = true;
    w.temperature = 0.07;
    check_against_plain_rust(&w, 13);
    let one_layer = EncoderConfig {
        max_len: 2,
        dim: 8,
        heads: 1,
        layers: 1,
        ffn: 8,
        ln_eps: 1e-6,
    };
    check_against_plain_rust(&v2_weights(one_layer, 6), 14);
}

/// v1 (right-aligned window) and v2 (steps, positions from the start) of the *same* weights compute the same
/// function wherever their positions coincide: for every session length when the position table is zero,
/// and for a session of exactly `L` events (row `p` is event `p` in both) otherwise.
#[test]
fn v2_equals_v1_where_their_positions_agree() {
    let c = REFERENCE_CONFIG;
    let mut w = EncoderWeights::random(c, 21);
    let mut r = SplitMix(22);
    let v1_of = |w: &EncoderWeights, s: &Session, n: usize| {
        let enc = Encoder::from_bytes(&w.to_onnx("v1")).unwrap();
        assert!(enc.cache_shape().is_none());
        let (l, d) = (c.max_len, c.dim);
        let mut inp = EncoderInput::empty(enc.shape());
        for k in 0..n {
            let p = l - n + k;
            inp.items[p * d..(p + 1) * d].copy_from_slice(&s.items[k * d..(k + 1) * d]);
            inp.event_types[p] = s.types[k];
            inp.time_gaps[p] = s.gaps[k];
            inp.mask[p] = 1.0;
        }
        enc.run(&inp).unwrap()
    };
    let s = random_session(c.dim, c.max_len, &mut r);
    let v2 = Encoder::from_bytes(&w.to_onnx_incremental("v2")).unwrap();
    let stepped = step_all(&v2, &s, c.dim);
    let d = max_diff(&stepped[c.max_len - 1], &v1_of(&w, &s, c.max_len));
    assert!(d < 1e-5, "n = L: |v2 − v1| = {d}");

    w.pos_emb.iter_mut().for_each(|x| *x = 0.0);
    let v2 = Encoder::from_bytes(&w.to_onnx_incremental("v2")).unwrap();
    let stepped = step_all(&v2, &s, c.dim);
    for n in [1, 2, 3, 17, c.max_len - 1, c.max_len] {
        let d = max_diff(&stepped[n - 1], &v1_of(&w, &s, n));
        assert!(d < 1e-5, "n = {n}: |v2 − v1| = {d}");
    }
}

#[test]
fn malformed_v2_interfaces_are_refused_by_name() {
    use prost::Message;
    use tract_onnx::pb;
    let bytes = v2_weights(REFERENCE_CONFIG, 3).to_onnx("test");
    check_contract(&bytes).unwrap();
    let edit = |f: &dyn Fn(&mut pb::GraphProto)| {
        let mut proto = pb::ModelProto::decode(&bytes[..]).unwrap();
        f(proto.graph.as_mut().unwrap());
        check_contract(&proto.encode_to_vec())
            .unwrap_err()
            .to_string()
    };
    let set_dim = |vi: &mut pb::ValueInfoProto, axis: usize, v: i64| {
        let Some(pb::type_proto::Value::TensorType(t)) =
            vi.r#type.as_mut().and_then(|t| t.value.as_mut())
        else {
            panic!("a tensor input");
        };
        t.shape.as_mut().unwrap().dim[axis].value =
            Some(pb::tensor_shape_proto::dimension::Value::DimValue(v));
    };
    let e = edit(&|g| set_dim(&mut g.input[6], 1, 7));
    assert!(e.contains("past_mask") && e.contains("49"), "{e}");
    let e = edit(&|g| set_dim(&mut g.input[5], 3, 48));
    assert!(e.contains("past_values"), "{e}");
    let e = edit(&|g| set_dim(&mut g.output[1], 2, 3));
    assert!(e.contains("keys"), "{e}");
    let e = edit(&|g| g.output.truncate(1));
    assert!(e.contains("outputs are"), "{e}");
    let e = edit(&|g| g.input.swap(2, 3));
    assert!(e.contains("(v2)"), "{e}");
}

fn event(kind: &str, id: &str, t_s: f64) -> RawEvent {
    RawEvent {
        kind: kind.into(),
        item_id: id.into(),
        timestamp: Some(1_767_225_600_000.0 + t_s * 1000.0),
        price: None,
    }
}

/// The predictor's session vector of a v2 model equals the full pass over the session's events, however
/// its cache got there: events one by one, several events between two predictions, a state restored into
/// another predictor (replayed), past the cache's reach, and a new session.
#[test]
fn the_predictor_keeps_its_cache_right() {
    let c = REFERENCE_CONFIG;
    let w = v2_weights(c, 31);
    let onnx = w.to_onnx("test");
    let catalog = catalog_for(&nextclick::catalog::sha256(&onnx), c.dim, 120, 32).to_bytes();
    let mut p = Predictor::new(&onnx, &catalog, Options::default()).unwrap();
    let cat = nextclick::catalog::Catalog::from_bytes(&catalog).unwrap();
    let kinds = ["view", "click", "cart", "view", "view"];
    let mut r = SplitMix(33);
    let mut session: Vec<(usize, i64, f64)> = Vec::new();
    let mut t = 0.0;
    let expect = |session: &[(usize, i64, f64)]| {
        let d = c.dim;
        let mut items = vec![0f32; session.len() * d];
        for (k, (row, _, _)) in session.iter().enumerate() {
            cat.copy_row(*row, &mut items[k * d..(k + 1) * d]);
        }
        let types: Vec<i64> = session.iter().map(|e| e.1).collect();
        let gaps: Vec<i64> = (0..session.len())
            .map(|k| {
                if k == 0 {
                    contract::GAP_FIRST_OR_UNKNOWN
                } else {
                    gap_bucket(Some(session[k].2 - session[k - 1].2))
                }
            })
            .collect();
        w.forward_from_start(&items, &types, &gaps, 0)
            .pop()
            .unwrap()
    };
    let n = 2 * c.max_len + 40; // past the reach of 2 × 49 = 98 events
    for k in 0..n {
        t += 2.0 + r.below(60) as f64;
        let row = r.below(120);
        let kind = kinds[r.below(kinds.len())];
        p.track_raw(&event(kind, &format!("ref-{row:04}"), t), 0.0)
            .unwrap();
        let id = nextclick::contract::EventKind::from_name(kind)
            .unwrap()
            .id();
        session.push((row, id, t));
        // predictions after some events only: the cache catches up over several events at once
        if k % 7 == 0 || k + 1 == n {
            let got = p.raw_session_vector().unwrap().unwrap().to_vec();
            let d = max_diff(&got, &expect(&session));
            assert!(d < 1e-5, "event {k}: |predictor − full pass| = {d}");
        }
    }
    // A restored state is replayed into an empty cache: same vector.
    let saved = p.export_state();
    let mut q = Predictor::new(&onnx, &catalog, Options::default()).unwrap();
    q.import_state(&saved).unwrap();
    let d = max_diff(q.raw_session_vector().unwrap().unwrap(), &expect(&session));
    assert!(d < 1e-5, "restored: |predictor − full pass| = {d}");
    // Both go on the same way.
    t += 5.0;
    for x in [&mut p, &mut q] {
        x.track_raw(&event("view", "ref-0003", t), 0.0).unwrap();
    }
    session.push((3, 1, t));
    let want = expect(&session);
    for x in [&mut p, &mut q] {
        let d = max_diff(x.raw_session_vector().unwrap().unwrap(), &want);
        assert!(d < 1e-5, "after one more event: {d}");
    }
    // A new session starts from an empty cache.
    t += 3.0 * 3600.0;
    p.track_raw(&event("click", "ref-0009", t), 0.0).unwrap();
    let d = max_diff(
        p.raw_session_vector().unwrap().unwrap(),
        &expect(&[(9, 2, t)]),
    );
    assert!(d < 1e-5, "new session: {d}");
    // forget() leaves nothing behind: the next event is a first event again.
    p.forget();
    assert!(p.raw_session_vector().unwrap().is_none());
    p.track_raw(&event("view", "ref-0011", t + 10.0), 0.0)
        .unwrap();
    let d = max_diff(
        p.raw_session_vector().unwrap().unwrap(),
        &expect(&[(11, 1, t + 10.0)]),
    );
    assert!(d < 1e-5, "after forget: {d}");
    assert!(!p.predict(5).unwrap().is_empty());
}

/// The weights read back from a written file are the weights written, for both contracts (what the
/// benchmark's "0.5.0 weights as a step graph" relies on).
#[test]
fn weights_read_back_from_either_graph() {
    let mut w = EncoderWeights::random(REFERENCE_CONFIG, 41);
    w.temperature = 0.5;
    let back = EncoderWeights::from_onnx(&w.to_onnx("v1")).unwrap();
    assert_eq!(back, w);
    w.positions_from_start = true;
    w.input_scale = 2.0;
    w.normalize_output = true;
    let back = EncoderWeights::from_onnx(&w.to_onnx("v2")).unwrap();
    assert_eq!(back, w);
    assert!(EncoderWeights::from_onnx(b"not onnx").is_err());
}
