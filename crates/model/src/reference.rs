//! The deterministic reference models and catalogs: a small but real transformer encoder with fixed-seed
//! weights, as a contract-v1 window model and as a contract-v2 incremental one, and generated catalogs for
//! them. Used by tests (native and in-browser) and as the
//! fallback demo model; reproducible with `nextclick reference`.

use std::collections::BTreeMap;

use nextclick::card::ModelCard;
use nextclick::catalog::{hex, sha256, Catalog, ItemMeta};
use nextclick::contract::{
    EventKind, CONTRACT_VERSION, CONTRACT_VERSION_INCREMENTAL, NUM_GAP_BUCKETS,
};

use crate::encoder::{EncoderConfig, EncoderWeights, SplitMix};

/// Seed of the reference weights.
pub const REFERENCE_SEED: u64 = 20_261_201;

/// Hyper-parameters of the reference encoder.
pub const REFERENCE_CONFIG: EncoderConfig = EncoderConfig {
    max_len: 50,
    dim: 32,
    heads: 2,
    layers: 2,
    ffn: 64,
    ln_eps: 1e-5,
};

/// Items in the reference catalog.
pub const REFERENCE_ITEMS: usize = 300;

/// The reference model files.
pub struct Reference {
    /// Encoder weights.
    pub weights: EncoderWeights,
    /// ONNX bytes.
    pub onnx: Vec<u8>,
    /// Model card.
    pub card: ModelCard,
    /// Catalog bound to the ONNX bytes.
    pub catalog: Catalog,
}

/// Builds the reference model, its card and catalog (deterministic).
pub fn build() -> Reference {
    build_with(EncoderWeights::random(REFERENCE_CONFIG, REFERENCE_SEED))
}

/// The contract-v2 (incremental) reference model: the same weights with positions counted from the
/// session start, written as a step graph, with its card and a catalog of the same items bound to it
/// (`models/reference-v2.*`).
pub fn build_incremental() -> Reference {
    let mut weights = EncoderWeights::random(REFERENCE_CONFIG, REFERENCE_SEED);
    weights.positions_from_start = true;
    build_with(weights)
}

fn build_with(weights: EncoderWeights) -> Reference {
    let incremental = weights.positions_from_start;
    let onnx = weights.to_onnx("nextclick reference");
    let sha = sha256(&onnx);
    let card = ModelCard {
        contract: if incremental {
            CONTRACT_VERSION_INCREMENTAL
        } else {
            CONTRACT_VERSION
        },
        name: if incremental {
            "nextclick-reference-v2".into()
        } else {
            "nextclick-reference".into()
        },
        version: "1.0.0".into(),
        dim: REFERENCE_CONFIG.dim,
        max_len: REFERENCE_CONFIG.max_len,
        event_types: EventKind::ALL.to_vec(),
        gap_buckets: NUM_GAP_BUCKETS,
        temperature: 1.0,
        content_dim: None,
        training_data: format!(
            "none: random weights, SplitMix64 seed {REFERENCE_SEED} (a test fixture)"
        ),
        metrics: BTreeMap::new(),
        onnx_sha256: hex(&sha),
    };
    let catalog = catalog_for(
        &sha,
        REFERENCE_CONFIG.dim,
        REFERENCE_ITEMS,
        REFERENCE_SEED + 1,
    );
    Reference {
        weights,
        onnx,
        card,
        catalog,
    }
}

/// A generated catalog of `n` items with random unit vectors and display metadata.
pub fn catalog_for(model_sha: &[u8; 32], dim: usize, n: usize, seed: u64) -> Catalog {
    const NOUNS: [&str; 10] = [
        "Mug",
        "Lamp",
        "Chair",
        "Backpack",
        "Kettle",
        "Notebook",
        "Headphones",
        "Jacket",
        "Sneakers",
        "Watch",
    ];
    const ADJS: [&str; 8] = [
        "Classic", "Compact", "Deluxe", "Eco", "Urban", "Vintage", "Pro", "Travel",
    ];
    let mut r = SplitMix(seed);
    let mut ids = Vec::with_capacity(n);
    let mut vecs = Vec::with_capacity(n * dim);
    let mut meta = Vec::with_capacity(n);
    for i in 0..n {
        ids.push(format!("ref-{i:04}"));
        let v = r.normals(dim, 1.0);
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
        vecs.extend(v.iter().map(|x| x / norm * 2.0));
        meta.push(ItemMeta {
            title: format!(
                "{} {} #{i}",
                ADJS[r.below(ADJS.len())],
                NOUNS[r.below(NOUNS.len())]
            ),
            url: format!("#item-{i}"),
            image: String::new(),
            price: Some((r.below(20_000) as f64 + 99.0) / 100.0),
        });
    }
    Catalog::from_f32(ids, dim, vecs, Some(meta), *model_sha).expect("generated catalog is valid")
}

/// One session stepped through the contract-v2 reference model, with the plain-Rust full pass's session
/// vector after each event (`tests/fixtures/reference_v2_vectors.json`): what other runtimes of the step
/// graph (onnxruntime-web in `www/test/ort-parity.test.js`) are checked against.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepVectors {
    /// `L`: positions are `min(index, L − 1)`.
    pub max_len: usize,
    /// `D`.
    pub dim: usize,
    /// The cache layout `[layers, heads, L − 1, head_dim]`.
    pub cache: [usize; 4],
    /// The events, in order.
    pub events: Vec<StepEvent>,
}

/// One event of [`StepVectors`]: the step graph's inputs and the expected `session` output.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepEvent {
    /// The item vector (`D`).
    pub item: Vec<f32>,
    /// Event-type id.
    pub event_type: i64,
    /// Time-gap bucket.
    pub time_gap: i64,
    /// The `position` input (`min(index, L − 1)`).
    pub position: i64,
    /// The full pass's session vector after this event.
    pub session: Vec<f32>,
}

/// A 70-event session (past `L` = 50, so a cache ring wraps) of the reference catalog's items through the
/// contract-v2 reference model [`build_incremental`], with the plain-Rust full pass's vectors.
pub fn incremental_vectors(r: &Reference) -> StepVectors {
    let c = r.weights.config;
    let n = 70;
    let mut g = SplitMix(REFERENCE_SEED + 2);
    let rows: Vec<usize> = (0..n).map(|_| g.below(r.catalog.len())).collect();
    let mut items = vec![0f32; n * c.dim];
    for (k, row) in rows.iter().enumerate() {
        r.catalog
            .copy_row(*row, &mut items[k * c.dim..(k + 1) * c.dim]);
    }
    let types: Vec<i64> = (0..n).map(|_| 1 + g.below(5) as i64).collect();
    let gaps: Vec<i64> = (0..n)
        .map(|k| if k == 0 { 1 } else { 2 + g.below(22) as i64 })
        .collect();
    let full = r.weights.forward_from_start(&items, &types, &gaps, 0);
    StepVectors {
        max_len: c.max_len,
        dim: c.dim,
        cache: [c.layers, c.heads, c.max_len - 1, c.dim / c.heads],
        events: (0..n)
            .map(|k| StepEvent {
                item: items[k * c.dim..(k + 1) * c.dim].to_vec(),
                event_type: types[k],
                time_gap: gaps[k],
                position: nextclick::contract::step_position(k as u64, c.max_len),
                session: full[k].clone(),
            })
            .collect(),
    }
}
