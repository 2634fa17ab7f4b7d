//! Model contract v1: the single source of truth for what a nextclick session-encoder ONNX file must look
//! like and how its inputs are encoded. `docs/model-contract.md` is the prose version of this module; the
//! loader in [`crate::model`] enforces it, and the trainer/exporter in `crates/` writes models that satisfy it.

/// Version of the model contract the window encoder (the four inputs below) follows.
pub const CONTRACT_VERSION: u32 = 1;

/// Version of the incremental encoder's contract: one event per call, with the keys and values of the
/// session's earlier events passed in and the new event's returned ([`STEP_INPUT_NAMES`]). A build that
/// implements it still loads version-1 models.
pub const CONTRACT_VERSION_INCREMENTAL: u32 = 2;

/// The contract versions this build loads.
pub const SUPPORTED_CONTRACTS: [u32; 2] = [CONTRACT_VERSION, CONTRACT_VERSION_INCREMENTAL];

/// Name of the input holding the item vectors of the session, `f32 [N, L, D]`.
pub const INPUT_ITEMS: &str = "items";
/// Name of the input holding the event-type ids of the session, `i64 [N, L]` (see [`EventKind::id`]).
pub const INPUT_EVENT_TYPES: &str = "event_types";
/// Name of the input holding the time-gap bucket ids, `i64 [N, L]` (see [`gap_bucket`]).
pub const INPUT_TIME_GAPS: &str = "time_gaps";
/// Name of the input holding the padding mask, `f32 [N, L]`: 1.0 for a real event, 0.0 for padding.
pub const INPUT_MASK: &str = "mask";
/// Name of the single output, `f32 [N, D]`: the session vector at the most recent event.
pub const OUTPUT_SESSION: &str = "session";

/// All inputs in the order the encoder expects them.
pub const INPUT_NAMES: [&str; 4] = [INPUT_ITEMS, INPUT_EVENT_TYPES, INPUT_TIME_GAPS, INPUT_MASK];

/// Contract v2: the new event's item vector, `f32 [N, D]`.
pub const STEP_INPUT_ITEM: &str = "item";
/// Contract v2: the new event's event-type id, `i64 [N]`.
pub const STEP_INPUT_EVENT_TYPE: &str = "event_type";
/// Contract v2: the new event's time-gap bucket id, `i64 [N]`.
pub const STEP_INPUT_TIME_GAP: &str = "time_gap";
/// Contract v2: the new event's position, counted from the session start and capped
/// (`min(index, L − 1)`, [`step_position`]), `i64 [N]`.
pub const STEP_INPUT_POSITION: &str = "position";
/// Contract v2: the cached keys of the session's earlier events, `f32 [N, layers, heads, L − 1, head_dim]`.
pub const STEP_INPUT_PAST_KEYS: &str = "past_keys";
/// Contract v2: the cached values, shaped like [`STEP_INPUT_PAST_KEYS`].
pub const STEP_INPUT_PAST_VALUES: &str = "past_values";
/// Contract v2: which cache slots hold an event, `f32 [N, L − 1]` (1.0 filled, 0.0 empty).
pub const STEP_INPUT_PAST_MASK: &str = "past_mask";
/// Contract v2: the new event's keys for every layer and head, `f32 [N, layers, heads, head_dim]`.
pub const STEP_OUTPUT_KEYS: &str = "keys";
/// Contract v2: the new event's values, shaped like [`STEP_OUTPUT_KEYS`].
pub const STEP_OUTPUT_VALUES: &str = "values";

/// Contract v2's inputs, in order.
pub const STEP_INPUT_NAMES: [&str; 7] = [
    STEP_INPUT_ITEM,
    STEP_INPUT_EVENT_TYPE,
    STEP_INPUT_TIME_GAP,
    STEP_INPUT_POSITION,
    STEP_INPUT_PAST_KEYS,
    STEP_INPUT_PAST_VALUES,
    STEP_INPUT_PAST_MASK,
];
/// Contract v2's outputs, in order.
pub const STEP_OUTPUT_NAMES: [&str; 3] = [OUTPUT_SESSION, STEP_OUTPUT_KEYS, STEP_OUTPUT_VALUES];

/// Contract v2's position id of the event at `index` (0 = the first event of the session) for a model
/// of `max_len` positions: positions count from the session start, so an event keeps its position (and
/// its cached keys and values stay valid) as the session grows; from `L − 1` on they stay at `L − 1`.
pub fn step_position(index: u64, max_len: usize) -> i64 {
    index.min(max_len.saturating_sub(1) as u64) as i64
}

/// Padding id, for both the event-type and the time-gap inputs.
pub const PAD_ID: i64 = 0;

/// Number of time-gap buckets (ids `0..NUM_GAP_BUCKETS`).
pub const NUM_GAP_BUCKETS: usize = 24;

/// Time-gap bucket of "first event of the session, or gap unknown" (ordinal-time data).
pub const GAP_FIRST_OR_UNKNOWN: i64 = 1;

/// Number of event-type ids (`0..NUM_EVENT_TYPES`, 0 being padding).
pub const NUM_EVENT_TYPES: usize = 6;

/// Upper bound on the session length a model may declare.
pub const MAX_SUPPORTED_LEN: usize = 512;
/// Upper bound on the vector dimension a model or catalog may declare.
pub const MAX_SUPPORTED_DIM: usize = 4096;

/// Behavioural event kinds of the contract's vocabulary. The id is what the model sees.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The shopper saw a product (product page or ≥50% visible tile for ≥1 s).
    View,
    /// The shopper clicked a product.
    Click,
    /// The shopper added a product to the cart.
    Cart,
    /// The shopper removed a product from the cart.
    RemoveFromCart,
    /// The shopper bought a product.
    Purchase,
}

impl EventKind {
    /// Every kind, in id order.
    pub const ALL: [EventKind; 5] = [
        EventKind::View,
        EventKind::Click,
        EventKind::Cart,
        EventKind::RemoveFromCart,
        EventKind::Purchase,
    ];

    /// The id fed to the model (`1..=5`; 0 is padding).
    pub fn id(self) -> i64 {
        match self {
            EventKind::View => 1,
            EventKind::Click => 2,
            EventKind::Cart => 3,
            EventKind::RemoveFromCart => 4,
            EventKind::Purchase => 5,
        }
    }

    /// The canonical name (`view`, `click`, `cart`, `remove_from_cart`, `purchase`).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::View => "view",
            EventKind::Click => "click",
            EventKind::Cart => "cart",
            EventKind::RemoveFromCart => "remove_from_cart",
            EventKind::Purchase => "purchase",
        }
    }

    /// Parses a canonical name. Unknown names are `None`: callers must turn that into an error.
    pub fn from_name(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Time-gap bucket of an event that follows the previous event of its session by `gap_seconds`.
///
/// `None` (first event of a session, or a data set whose time is only ordinal) maps to
/// [`GAP_FIRST_OR_UNKNOWN`]; otherwise the bucket is `2 + min(floor(log2(1 + gap)), 21)`, so that 0 s → 2,
/// 1 s → 3, 2–3 s → 4, …, ≥ 2^21 s (24 days) → 23. Negative or non-finite gaps count as 0.
pub fn gap_bucket(gap_seconds: Option<f64>) -> i64 {
    match gap_seconds {
        None => GAP_FIRST_OR_UNKNOWN,
        Some(g) => {
            let g = if g.is_finite() && g > 0.0 { g } else { 0.0 };
            let b = (1.0 + g).log2().floor() as i64;
            2 + b.clamp(0, (NUM_GAP_BUCKETS as i64) - 3)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gap_buckets_cover_the_range() {
        assert_eq!(gap_bucket(None), 1);
        assert_eq!(gap_bucket(Some(0.0)), 2);
        assert_eq!(gap_bucket(Some(-5.0)), 2);
        assert_eq!(gap_bucket(Some(f64::NAN)), 2);
        assert_eq!(gap_bucket(Some(1.0)), 3);
        assert_eq!(gap_bucket(Some(3.0)), 4);
        assert_eq!(gap_bucket(Some(1e12)), 23);
        assert_eq!(gap_bucket(Some(f64::INFINITY)), 2);
        for g in 0..100_000 {
            let b = gap_bucket(Some(g as f64));
            assert!((2..NUM_GAP_BUCKETS as i64).contains(&b));
        }
    }

    #[test]
    fn event_kind_names_round_trip() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::from_name(k.name()), Some(k));
            assert!(k.id() > 0 && (k.id() as usize) < NUM_EVENT_TYPES);
        }
        assert_eq!(EventKind::from_name("hover"), None);
    }
}
