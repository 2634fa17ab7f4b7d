//! One shopper's state — sessions, learned heads, counters — and its persisted form.
//!
//! Persisted bytes (what the page stores in IndexedDB / localStorage):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `NXCLSTA\0` |
//! | 8 | 2 | state format version ([`STATE_VERSION`]) |
//! | 10 | 32 | SHA-256 of the model the state was learned with |
//! | 42 | 4 | payload length `n` |
//! | 46 | n | payload (JSON) |
//! | 46 + n | 32 | SHA-256 of every byte before it |
//!
//! A state from another model, another format version, or with a bad checksum is refused with
//! [`Error::State`]; the caller then starts afresh (and says so), never runs on half-read state.

use serde::{Deserialize, Serialize};

use crate::catalog::{hex, sha256};
use crate::error::{Error, Result};
use crate::features::NUM_FEATURES;
use crate::head::{Adapter, Logistic};
use crate::predictor::Stats;
use crate::session::{SessionConfig, Sessions};

/// Magic bytes of persisted state.
pub const STATE_MAGIC: &[u8; 8] = b"NXCLSTA\0";
/// Format version of persisted state written by this build.
pub const STATE_VERSION: u16 = 1;
/// Largest persisted state accepted, in bytes.
pub const MAX_STATE_BYTES: usize = 8 << 20;
/// Intent snapshots kept while waiting for their labels.
pub const MAX_PENDING: usize = 32;

/// Everything the device knows about its shopper.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShopperState {
    /// Current session and past-session summaries.
    pub sessions: Sessions,
    /// The next-click adapter.
    pub adapter: Adapter,
    /// Purchase-propensity head.
    pub purchase_head: Logistic,
    /// Exit-risk head.
    pub exit_head: Logistic,
    /// Counters.
    pub stats: Stats,
    /// Intent input of the latest encoded state of the session, awaiting its exit label.
    pub pending_exit: Option<Vec<f32>>,
    /// Intent inputs of this session awaiting the purchase label.
    pub pending_purchase: Vec<Vec<f32>>,
}

/// Prior of the purchase head: most sessions do not buy; carts raise the odds.
fn purchase_prior(dim: usize) -> Logistic {
    let mut w = vec![0f32; NUM_FEATURES + dim];
    w[3] = 1.5; // log_carts
    w[5] = -1.0; // log_purchases: a finished order lowers the odds of another
    w[10] = 0.2; // log_cart_value
    Logistic::new(w, -3.0)
}

/// Prior of the exit head: about one event in four ends its session; long sessions go on.
fn exit_prior(dim: usize) -> Logistic {
    let mut w = vec![0f32; NUM_FEATURES + dim];
    w[0] = -0.3; // log_events
    w[5] = 1.0; // log_purchases: after an order, shoppers leave
    Logistic::new(w, -1.0)
}

impl ShopperState {
    /// A new shopper: empty sessions, source-model heads.
    pub fn new(config: SessionConfig, dim: usize) -> ShopperState {
        ShopperState {
            sessions: Sessions::new(config),
            adapter: Adapter::new(dim),
            purchase_head: purchase_prior(dim),
            exit_head: exit_prior(dim),
            stats: Stats::default(),
            pending_exit: None,
            pending_purchase: Vec::new(),
        }
    }

    /// Checks sizes and finiteness against a model of dimension `dim`.
    pub fn check(&self, dim: usize) -> Result<()> {
        let want = NUM_FEATURES + dim;
        let ok = self.adapter.dim() == dim
            && self.adapter.is_valid()
            && self.purchase_head.len() == want
            && self.exit_head.len() == want
            && self.purchase_head.is_valid()
            && self.exit_head.is_valid()
            && self.pending_purchase.len() <= MAX_PENDING
            && self
                .pending_exit
                .iter()
                .chain(&self.pending_purchase)
                .all(|x| x.len() == want);
        if ok {
            Ok(())
        } else {
            Err(Error::State(
                "state does not fit this model (sizes or non-finite weights)".into(),
            ))
        }
    }

    /// Encodes the state for `model_sha256`.
    pub fn to_bytes(&self, model_sha256: &[u8; 32]) -> Vec<u8> {
        let payload = serde_json::to_vec(self).expect("state serialises");
        let mut out = Vec::with_capacity(payload.len() + 78);
        out.extend_from_slice(STATE_MAGIC);
        out.extend_from_slice(&STATE_VERSION.to_le_bytes());
        out.extend_from_slice(model_sha256);
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&payload);
        let sum = sha256(&out);
        out.extend_from_slice(&sum);
        out
    }

    /// Decodes state bytes written for `model_sha256`.
    pub fn from_bytes(bytes: &[u8], model_sha256: &[u8; 32]) -> Result<ShopperState> {
        let err = |m: String| Err(Error::State(m));
        if bytes.len() > MAX_STATE_BYTES {
            return err(format!(
                "{} bytes is over the {MAX_STATE_BYTES} byte limit",
                bytes.len()
            ));
        }
        if bytes.len() < 8 || &bytes[..8] != STATE_MAGIC {
            return err("not nextclick state (bad magic)".into());
        }
        if bytes.len() < 46 + 32 {
            return err("truncated".into());
        }
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        if version != STATE_VERSION {
            return err(format!(
                "format version {version}, this build reads {STATE_VERSION}"
            ));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 32);
        if sha256(body) != sum {
            return err("checksum mismatch (corrupted)".into());
        }
        if &body[10..42] != model_sha256 {
            return err(format!(
                "learned with model {}, the loaded model is {}",
                hex(&body[10..42]),
                hex(model_sha256)
            ));
        }
        let n = u32::from_le_bytes(body[42..46].try_into().expect("4 bytes")) as usize;
        if body.len() != 46 + n {
            return err("payload length mismatch".into());
        }
        serde_json::from_slice(&body[46..])
            .map_err(|e| Error::State(format!("undecodable payload: {e}")))
    }
}
