//! Events: the untrusted shape that arrives from the page (or a log file), and its validation into the
//! typed [`Event`] the rest of the core works with.

use serde::{Deserialize, Serialize};

use crate::contract::EventKind;
use crate::error::EventError;

/// Longest accepted item id, in bytes (the catalog allows the same).
pub const MAX_ITEM_ID_LEN: usize = crate::catalog::MAX_ID_LEN;
/// Largest unit price accepted (any currency). The core stores prices as `f32` and sums them into the
/// session's cart value: a bound far inside `f32`'s range keeps every feature finite (a price of `1e39`
/// is finite in JS but infinite as `f32`).
pub const MAX_PRICE: f64 = 1e12;
/// Longest accepted event-type string, in bytes.
pub const MAX_TYPE_LEN: usize = 64;
/// Timestamps below this are taken as seconds and converted to milliseconds (1e11 ms = 1973; 1e11 s = 5138).
pub const SECONDS_THRESHOLD: f64 = 1e11;
/// Latest accepted timestamp: year 2200, in milliseconds.
pub const MAX_TIMESTAMP_MS: f64 = 7.258_032e12;

/// An event as it arrives: a plain JS object `{type, itemId, timestamp?, price?}` (unknown fields are
/// ignored). `timestamp` may be milliseconds or seconds since the epoch; missing means "now".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    target_arch = "wasm32",
    derive(tsify::Tsify),
    tsify(rename = "NextclickEvent", missing_as_null)
)]
#[serde(rename_all = "camelCase")]
pub struct RawEvent {
    /// Event type name: `view`, `click`, `cart`, `remove_from_cart`, `purchase`, or an alias that
    /// `parse_kind` accepts (`add_to_cart`, `product_viewed`, …).
    #[serde(rename = "type")]
    #[cfg_attr(target_arch = "wasm32", tsify(type = "EventKind | (string & {})"))]
    pub kind: String,
    /// Catalog item id.
    #[serde(default)]
    pub item_id: String,
    /// Milliseconds (or seconds) since the Unix epoch.
    #[serde(default)]
    pub timestamp: Option<f64>,
    /// Unit price, if the page knows it (otherwise taken from the catalog).
    #[serde(default)]
    pub price: Option<f64>,
}

/// A validated event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// Catalog item id.
    pub item_id: String,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: f64,
    /// Unit price, if known.
    pub price: Option<f64>,
}

/// Maps an event-type name to the contract vocabulary, accepting the canonical names and common aliases
/// (`add_to_cart`, `remove`, `order`, …). Unknown names are an error, never a silent default.
pub fn parse_kind(name: &str) -> Result<EventKind, EventError> {
    if name.len() > MAX_TYPE_LEN {
        return Err(EventError::TooLong {
            field: "type",
            len: name.len(),
            max: MAX_TYPE_LEN,
        });
    }
    let k = match name.trim().to_ascii_lowercase().as_str() {
        "view" | "product_viewed" | "page_view" | "detail" => EventKind::View,
        "click" | "product_clicked" | "select_item" => EventKind::Click,
        "cart" | "add_to_cart" | "addtocart" | "product_added" => EventKind::Cart,
        "remove_from_cart" | "remove" | "removefromcart" | "product_removed" => {
            EventKind::RemoveFromCart
        }
        "purchase" | "order" | "transaction" | "order_completed" => EventKind::Purchase,
        _ => return Err(EventError::UnknownType(name.to_string())),
    };
    Ok(k)
}

/// Normalises a timestamp to milliseconds: seconds are detected and scaled; non-finite, negative and
/// far-future values are rejected.
pub fn normalize_timestamp(ts: f64) -> Result<f64, EventError> {
    if !ts.is_finite() {
        return Err(EventError::BadNumber {
            field: "timestamp",
            detail: "not a finite number".into(),
        });
    }
    if ts < 0.0 {
        return Err(EventError::BadNumber {
            field: "timestamp",
            detail: format!("{ts} is negative"),
        });
    }
    let ms = if ts < SECONDS_THRESHOLD {
        ts * 1000.0
    } else {
        ts
    };
    if ms > MAX_TIMESTAMP_MS {
        return Err(EventError::BadNumber {
            field: "timestamp",
            detail: format!("{ts} is after the year 2200"),
        });
    }
    Ok(ms)
}

impl RawEvent {
    /// Validates the event: known type, non-empty bounded item id, finite non-negative numbers.
    /// `now_ms` fills a missing timestamp.
    pub fn validate(&self, now_ms: f64) -> Result<Event, EventError> {
        let kind = parse_kind(&self.kind)?;
        let id = self.item_id.trim();
        if id.is_empty() {
            return Err(EventError::MissingItem);
        }
        if id.len() > MAX_ITEM_ID_LEN {
            return Err(EventError::TooLong {
                field: "itemId",
                len: id.len(),
                max: MAX_ITEM_ID_LEN,
            });
        }
        let timestamp_ms = normalize_timestamp(self.timestamp.unwrap_or(now_ms))?;
        let price = match self.price {
            None => None,
            Some(p) if p.is_finite() && (0.0..=MAX_PRICE).contains(&p) => Some(p),
            Some(p) => {
                return Err(EventError::BadNumber {
                    field: "price",
                    detail: format!("{p} is not a number in [0, {MAX_PRICE:e}]"),
                })
            }
        };
        Ok(Event {
            kind,
            item_id: id.to_string(),
            timestamp_ms,
            price,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(kind: &str, id: &str) -> RawEvent {
        RawEvent {
            kind: kind.into(),
            item_id: id.into(),
            timestamp: Some(1_700_000_000_000.0),
            price: None,
        }
    }

    #[test]
    fn accepts_canonical_names_and_aliases() {
        assert_eq!(
            raw("view", "a").validate(0.0).unwrap().kind,
            EventKind::View
        );
        assert_eq!(
            raw("Add_To_Cart", "a").validate(0.0).unwrap().kind,
            EventKind::Cart
        );
        assert_eq!(
            raw("order", "a").validate(0.0).unwrap().kind,
            EventKind::Purchase
        );
    }

    #[test]
    fn rejects_bad_events_with_specific_errors() {
        assert_eq!(
            raw("hover", "a").validate(0.0),
            Err(EventError::UnknownType("hover".into()))
        );
        assert_eq!(
            raw("view", "  ").validate(0.0),
            Err(EventError::MissingItem)
        );
        let long = "x".repeat(300);
        assert!(matches!(
            raw("view", &long).validate(0.0),
            Err(EventError::TooLong {
                field: "itemId",
                ..
            })
        ));
        let mut e = raw("view", "a");
        e.timestamp = Some(f64::NAN);
        assert!(matches!(
            e.validate(0.0),
            Err(EventError::BadNumber {
                field: "timestamp",
                ..
            })
        ));
        e.timestamp = Some(-1.0);
        assert!(matches!(
            e.validate(0.0),
            Err(EventError::BadNumber {
                field: "timestamp",
                ..
            })
        ));
        e.timestamp = Some(1e15);
        assert!(matches!(
            e.validate(0.0),
            Err(EventError::BadNumber {
                field: "timestamp",
                ..
            })
        ));
        let mut e = raw("view", "a");
        e.price = Some(1e39);
        assert!(matches!(
            e.validate(0.0),
            Err(EventError::BadNumber { field: "price", .. })
        ));
        e.price = Some(MAX_PRICE);
        assert!(e.validate(0.0).is_ok());
        e.price = Some(f64::INFINITY);
        assert!(matches!(
            e.validate(0.0),
            Err(EventError::BadNumber { field: "price", .. })
        ));
    }

    #[test]
    fn seconds_become_milliseconds_and_missing_time_is_now() {
        let mut e = raw("view", "a");
        e.timestamp = Some(1_700_000_000.0);
        assert_eq!(e.validate(0.0).unwrap().timestamp_ms, 1_700_000_000_000.0);
        e.timestamp = None;
        assert_eq!(
            e.validate(1_234_567_890_123.0).unwrap().timestamp_ms,
            1_234_567_890_123.0
        );
    }
}
