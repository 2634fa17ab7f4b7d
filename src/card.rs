//! The model card: a JSON file beside each ONNX model that says what it is, what it was trained on, how
//! well it did, and the SHA-256 of the ONNX bytes it describes.

use serde::{Deserialize, Serialize};

use crate::catalog::{hex, sha256};
use crate::contract::{EventKind, NUM_GAP_BUCKETS, SUPPORTED_CONTRACTS};
use crate::error::{Error, Result};
use crate::model::EncoderShape;

/// The model card (`<model>.card.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelCard {
    /// Contract version the model follows (1).
    pub contract: u32,
    /// Model name.
    pub name: String,
    /// Model version (semver or date).
    pub version: String,
    /// Item and session vector dimension `D`.
    pub dim: usize,
    /// Maximum session length `L`.
    pub max_len: usize,
    /// Event-type vocabulary, in id order starting at id 1.
    pub event_types: Vec<EventKind>,
    /// Number of time-gap buckets.
    pub gap_buckets: usize,
    /// Softmax temperature the scores were trained with (`p ∝ exp(score / temperature)`).
    pub temperature: f32,
    /// Dimension of the content embeddings the item tower takes (e.g. 384 for all-MiniLM-L6-v2).
    #[serde(default)]
    pub content_dim: Option<usize>,
    /// Free-form description of the training data (data set, split, sizes).
    pub training_data: String,
    /// Metrics measured at export time (name → value).
    #[serde(default)]
    pub metrics: std::collections::BTreeMap<String, f64>,
    /// SHA-256 (hex) of the ONNX bytes this card describes.
    pub onnx_sha256: String,
}

impl ModelCard {
    /// Parses a card from JSON.
    pub fn from_json(json: &str) -> Result<ModelCard> {
        serde_json::from_str(json).map_err(|e| Error::ModelCard(format!("invalid JSON: {e}")))
    }

    /// Checks the card against the ONNX bytes and the shape the model declares.
    pub fn verify(&self, onnx: &[u8], shape: EncoderShape) -> Result<()> {
        if !SUPPORTED_CONTRACTS.contains(&self.contract) {
            return Err(Error::ModelCard(format!(
                "contract {} (this build implements {SUPPORTED_CONTRACTS:?})",
                self.contract
            )));
        }
        let declared = crate::model::contract_version(onnx)?;
        if self.contract != declared {
            return Err(Error::ModelCard(format!(
                "card says contract {}, the model follows contract {declared}",
                self.contract
            )));
        }
        let actual = hex(&sha256(onnx));
        if !self.onnx_sha256.eq_ignore_ascii_case(&actual) {
            return Err(Error::Integrity {
                what: "model",
                expected: self.onnx_sha256.clone(),
                actual,
            });
        }
        if self.dim != shape.dim || self.max_len != shape.max_len {
            return Err(Error::ModelCard(format!(
                "card says D = {}, L = {}, the model declares D = {}, L = {}",
                self.dim, self.max_len, shape.dim, shape.max_len
            )));
        }
        if self.event_types != EventKind::ALL || self.gap_buckets != NUM_GAP_BUCKETS {
            return Err(Error::ModelCard(
                "event-type vocabulary or gap buckets differ from contract v1".into(),
            ));
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(Error::ModelCard(format!(
                "temperature {} must be a positive number",
                self.temperature
            )));
        }
        Ok(())
    }
}
