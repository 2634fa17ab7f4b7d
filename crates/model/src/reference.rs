//! The deterministic reference model and catalog: a small but real contract-v1 transformer encoder with
//! fixed-seed weights, and a generated catalog for it. Used by tests (native and in-browser) and as the
//! fallback demo model; reproducible with `nextclick reference`.

use std::collections::BTreeMap;

use nextclick::card::ModelCard;
use nextclick::catalog::{hex, sha256, Catalog, ItemMeta};
use nextclick::contract::{EventKind, CONTRACT_VERSION, NUM_GAP_BUCKETS};

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
    let weights = EncoderWeights::random(REFERENCE_CONFIG, REFERENCE_SEED);
    let onnx = weights.to_onnx("nextclick reference");
    let sha = sha256(&onnx);
    let card = ModelCard {
        contract: CONTRACT_VERSION,
        name: "nextclick-reference".into(),
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
