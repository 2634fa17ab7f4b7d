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
//! | 46 | n | payload (JSON): `{"items": [item ids], "state": {…}}`; events name items by their position in `items` |
//! | 46 + n | 32 | SHA-256 of every byte before it |
//!
//! Items are named by the shop's stable item ids, never by catalog rows, so a state survives a new catalog
//! for the same model (items added, removed, reordered): on load, ids are resolved against the live catalog
//! and events of removed items are dropped ([`RestoreReport`]). State learned with another model keeps its
//! sessions and counters and restarts the learned heads. A state of an unknown format version, with a bad
//! checksum or with anything that does not fit the live model and catalog is refused with
//! [`Error::State`]; the caller then starts afresh (and says so), never runs on half-read state.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::catalog::{sha256, Catalog};
use crate::error::{Error, Result};
use crate::features::NUM_FEATURES;
use crate::head::{Adapter, Logistic};
use crate::session::{SessionConfig, Sessions};

/// Magic bytes of persisted state.
pub const STATE_MAGIC: &[u8; 8] = b"NXCLSTA\0";
/// Format version of persisted state written by this build.
pub const STATE_VERSION: u16 = 2;
/// Largest persisted state accepted, in bytes.
pub const MAX_STATE_BYTES: usize = 8 << 20;
/// Intent snapshots kept while waiting for their labels.
pub const MAX_PENDING: usize = 32;

/// Counters of what the predictor has seen (nothing here identifies an item or a shopper).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    target_arch = "wasm32",
    derive(tsify::Tsify),
    tsify(rename = "PredictorStats")
)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Events accepted.
    pub accepted: u64,
    /// Events rejected by validation.
    pub rejected: u64,
    /// Double-fired duplicates dropped.
    pub duplicates: u64,
    /// Events for items not in the catalog.
    pub unknown_items: u64,
    /// Sessions started.
    pub sessions: u64,
    /// Timestamps clamped because they were ahead of the page's clock.
    #[serde(default)]
    pub clock_skewed: u64,
}

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
                .all(|x| x.len() == want && x.iter().all(|v| v.is_finite()));
        if ok {
            Ok(())
        } else {
            Err(Error::State(
                "state does not fit this model (sizes or non-finite weights)".into(),
            ))
        }
    }

    /// The format version and checksummed part of state bytes, after every frame check.
    fn framed(bytes: &[u8]) -> Result<(u16, &[u8])> {
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
        if version != STATE_VERSION && version != 1 {
            return err(format!(
                "format version {version}, this build reads 1 and {STATE_VERSION}"
            ));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 32);
        if sha256(body) != sum {
            return err("checksum mismatch (corrupted)".into());
        }
        let n = u32::from_le_bytes(body[42..46].try_into().expect("4 bytes")) as usize;
        if body.len() != 46 + n {
            return err("payload length mismatch".into());
        }
        Ok((version, body))
    }

    /// The item ids a stored state names (format 2; none for format 1), without resolving them: what a
    /// split catalog must look up (fetch the directory buckets of) before [`ShopperState::from_bytes`].
    pub fn item_ids(bytes: &[u8]) -> Result<Vec<String>> {
        let (version, body) = Self::framed(bytes)?;
        if version == 1 {
            return Ok(Vec::new());
        }
        #[derive(Deserialize)]
        struct Items {
            items: Vec<String>,
        }
        let p: Items = serde_json::from_slice(&body[46..])
            .map_err(|e| Error::State(format!("undecodable payload: {e}")))?;
        Ok(p.items)
    }

    /// Encodes the state for `model_sha256`. Events name their items by the catalog's stable item ids
    /// (format 2), so that the bytes stay meaningful under tomorrow's catalog, whatever its order.
    pub fn to_bytes(&self, model_sha256: &[u8; 32], catalog: &Catalog) -> Vec<u8> {
        let mut state = self.clone();
        let mut table: Vec<&str> = Vec::new();
        let mut slot: HashMap<u32, u32> = HashMap::new();
        state.sessions.remap(|row| {
            Some(*slot.entry(row).or_insert_with(|| {
                table.push(catalog.id(row as usize));
                (table.len() - 1) as u32
            }))
        });
        let payload = serde_json::to_vec(&PayloadOut {
            items: table,
            state: &state,
        })
        .expect("state serialises");
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

    /// Decodes state bytes for the model `model_sha256` and the live `catalog`.
    ///
    /// * Items are resolved by id against `catalog`: events of items it no longer has are dropped, the
    ///   others point at their row in *this* catalog (format 2). Format 1 state named catalog rows, which
    ///   cannot be checked against a catalog: its current-session events are dropped, the rest is kept.
    /// * State learned with another model keeps the model-independent part (sessions, counters) and
    ///   takes the learned part (adapter, intent heads, pending intent inputs) from `fresh`: those live in
    ///   the old model's vector space.
    /// * Everything decoded is checked against `catalog` and the model's dimension before it is
    ///   returned; bad bytes are refused with [`Error::State`], never half-used.
    pub fn from_bytes(
        bytes: &[u8],
        model_sha256: &[u8; 32],
        catalog: &Catalog,
        fresh: &ShopperState,
    ) -> Result<Restored> {
        let err = |m: String| Err(Error::State(m));
        let (version, body) = Self::framed(bytes)?;
        let model_changed = &body[10..42] != model_sha256;
        let undecodable = |e: serde_json::Error| Error::State(format!("undecodable payload: {e}"));
        let payload = &body[46..];
        let (mut state, dropped) = if version == 1 {
            let mut state: ShopperState = serde_json::from_slice(payload).map_err(undecodable)?;
            let dropped = state.sessions.remap(|_| None);
            (state, dropped)
        } else {
            let PayloadIn { items, mut state } =
                serde_json::from_slice(payload).map_err(undecodable)?;
            let rows: Vec<Option<u32>> = items
                .iter()
                .map(|id| catalog.index_of(id).map(|i| i as u32))
                .collect();
            let mut bad = None;
            let dropped = state.sessions.remap(|slot| match rows.get(slot as usize) {
                Some(row) => *row,
                None => {
                    bad = Some(slot);
                    None
                }
            });
            if let Some(slot) = bad {
                return err(format!(
                    "an event names item {slot} of a table of {}",
                    items.len()
                ));
            }
            (state, dropped)
        };
        if model_changed {
            state.adapter = fresh.adapter.clone();
            state.purchase_head = fresh.purchase_head.clone();
            state.exit_head = fresh.exit_head.clone();
            state.pending_exit = None;
            state.pending_purchase.clear();
        }
        state.sessions.check(catalog.len()).map_err(Error::State)?;
        state.check(catalog.dim())?;
        let kept = state.sessions.current().len();
        Ok(Restored {
            state,
            report: RestoreReport {
                format_version: version,
                model_changed,
                dropped_events: dropped,
                kept_events: kept,
            },
        })
    }
}

#[derive(Serialize)]
struct PayloadOut<'a> {
    /// Item ids; events' `item` indexes this table.
    items: Vec<&'a str>,
    state: &'a ShopperState,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PayloadIn {
    items: Vec<String>,
    state: ShopperState,
}

/// A decoded state and what restoring it changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Restored {
    /// The state, resolved against the live catalog and model.
    pub state: ShopperState,
    /// What was kept and dropped.
    pub report: RestoreReport,
}

/// What [`ShopperState::from_bytes`] did with stored state (returned to the page by `importState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct RestoreReport {
    /// Format version of the stored bytes.
    pub format_version: u16,
    /// The state was learned with another model: sessions and counters were kept, the adapter and the
    /// intent heads were reset.
    pub model_changed: bool,
    /// Current-session events dropped because their item is not in the live catalog (or, for format 1
    /// state, because their catalog rows cannot be checked).
    pub dropped_events: usize,
    /// Current-session events kept.
    pub kept_events: usize,
}
