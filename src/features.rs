//! Hand-made session features, computed on the device from the current session and the recent past.
//! They feed the intent heads (with the model's session vector) and are shown to the page on request.
//! Every feature is a finite number of order 1 (log-scaled counts and durations).

use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::contract::EventKind;
use crate::session::Sessions;

/// Names of the features, in [`SessionFeatures::to_vec`] order.
pub const FEATURE_NAMES: [&str; NUM_FEATURES] = [
    "log_events",
    "log_views",
    "log_clicks",
    "log_carts",
    "log_removes",
    "log_purchases",
    "log_session_age_s",
    "log_since_last_s",
    "log_mean_dwell_s",
    "log_mean_price",
    "log_cart_value",
    "distinct_item_ratio",
    "item_spread",
    "log_past_sessions",
    "past_purchase_rate",
];

/// Number of hand-made features.
pub const NUM_FEATURES: usize = 15;

/// The feature values of one moment of a session.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct SessionFeatures {
    /// Events in the session (all, including those no longer buffered).
    pub events: u32,
    /// Views in the buffered session.
    pub views: u32,
    /// Clicks.
    pub clicks: u32,
    /// Add-to-carts.
    pub carts: u32,
    /// Removes from cart.
    pub removes: u32,
    /// Purchases.
    pub purchases: u32,
    /// Seconds from the first event to `now`.
    pub session_age_s: f64,
    /// Seconds since the most recent event (recency; the dwell on the current item so far).
    pub since_last_s: f64,
    /// Mean seconds between consecutive events (dwell).
    pub mean_dwell_s: f64,
    /// Mean price of the items interacted with (0 if unknown).
    pub mean_price: f64,
    /// Value of the cart: added minus removed, at unit prices (≥ 0).
    pub cart_value: f64,
    /// Distinct items / events, in (0, 1].
    pub distinct_item_ratio: f64,
    /// Spread of the item vectors: 1 − ‖mean of unit item vectors‖ (0: one kind of item; → 1: diverse).
    /// A category-free proxy for category diversity.
    pub item_spread: f64,
    /// Past sessions remembered on this device.
    pub past_sessions: u32,
    /// Share of past sessions with a purchase.
    pub past_purchase_rate: f64,
}

impl SessionFeatures {
    /// Computes the features at time `now_ms` (use the last event's time when replaying logs).
    pub fn compute(sessions: &Sessions, catalog: &Catalog, now_ms: f64) -> SessionFeatures {
        let cur = sessions.current();
        let count = |k: EventKind| cur.iter().filter(|e| e.kind == k).count() as u32;
        let first = cur.front().map(|e| e.ts_ms).unwrap_or(now_ms);
        let last = cur.back().map(|e| e.ts_ms).unwrap_or(now_ms);
        let dwell = if cur.len() > 1 {
            (last - first) / 1000.0 / (cur.len() - 1) as f64
        } else {
            0.0
        };
        let prices: Vec<f64> = cur.iter().filter_map(|e| e.price.map(f64::from)).collect();
        let mean_price = if prices.is_empty() {
            0.0
        } else {
            prices.iter().sum::<f64>() / prices.len() as f64
        };
        let mut cart_value = 0.0;
        for e in cur {
            let p = e.price.map(f64::from).unwrap_or(0.0);
            match e.kind {
                EventKind::Cart => cart_value += p,
                EventKind::RemoveFromCart => cart_value -= p,
                EventKind::Purchase => cart_value = 0.0,
                _ => {}
            }
        }
        let mut distinct: Vec<u32> = cur.iter().map(|e| e.item).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let d = catalog.dim();
        let mut mean = vec![0f32; d];
        let mut row = vec![0f32; d];
        for e in cur {
            catalog.copy_row(e.item as usize, &mut row);
            let n = row.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            mean.iter_mut().zip(&row).for_each(|(m, x)| *m += x / n);
        }
        let spread = if cur.is_empty() {
            0.0
        } else {
            1.0 - (mean.iter().map(|x| x * x).sum::<f32>().sqrt() / cur.len() as f32) as f64
        };
        let past = sessions.past();
        let purchased = past.iter().filter(|s| s.purchased).count();
        SessionFeatures {
            events: sessions.current_count(),
            views: count(EventKind::View),
            clicks: count(EventKind::Click),
            carts: count(EventKind::Cart),
            removes: count(EventKind::RemoveFromCart),
            purchases: count(EventKind::Purchase),
            session_age_s: ((now_ms - first) / 1000.0).max(0.0),
            since_last_s: ((now_ms - last) / 1000.0).max(0.0),
            mean_dwell_s: dwell.max(0.0),
            mean_price,
            cart_value: cart_value.max(0.0),
            distinct_item_ratio: if cur.is_empty() {
                0.0
            } else {
                distinct.len() as f64 / cur.len() as f64
            },
            item_spread: spread.clamp(0.0, 1.0),
            past_sessions: past.len() as u32,
            past_purchase_rate: if past.is_empty() {
                0.0
            } else {
                purchased as f64 / past.len() as f64
            },
        }
    }

    /// The model-ready vector (log-scaled), in [`FEATURE_NAMES`] order.
    pub fn to_vec(&self) -> [f32; NUM_FEATURES] {
        let l = |x: f64| (x.max(0.0)).ln_1p() as f32;
        [
            l(self.events as f64),
            l(self.views as f64),
            l(self.clicks as f64),
            l(self.carts as f64),
            l(self.removes as f64),
            l(self.purchases as f64),
            l(self.session_age_s),
            l(self.since_last_s),
            l(self.mean_dwell_s),
            l(self.mean_price),
            l(self.cart_value),
            self.distinct_item_ratio as f32,
            self.item_spread as f32,
            l(self.past_sessions as f64),
            self.past_purchase_rate as f32,
        ]
    }
}
