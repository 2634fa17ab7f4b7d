//! Reading nextclick's canonical data layout: a platform folder with `items.csv`
//! (`item_id,title,category,brand,price`) and `events.csv` (`session_id,user_id,timestamp,event_type,item_id`).
//!
//! - [`csv`]: the one CSV reader, with a strict and a tolerant [`csv::Policy`].
//! - [`platform`]: the strict loader of training data (errors name file and line; counted skips).
//! - [`orders`]: a shop's order history (`orders.csv`), what the shop head is learned from.
//! - [`replay`]: the tolerant loader of a target shop for replay (every bad input counted, never fatal).
//! - `shards` (feature `parquet`): the Parquet training shards of `nextclick prepare` — schema, user hash,
//!   writer, manifest, and a streaming reader that verifies each shard before use.
//! - [`feed`]: product feeds (Google Merchant Center XML / TSV, Shopify CSV export, items.csv) → items plus
//!   display metadata, format detected from the content.
//!
//! Event types are read with the core's vocabulary ([`nextclick::event::parse_kind`]: canonical names and
//! their aliases), so training, replay and the page accept the same names.

#![warn(missing_docs)]

pub mod csv;
pub mod feed;
pub mod orders;
pub mod platform;
pub mod replay;
#[cfg(feature = "parquet")]
pub mod shards;
pub mod split;

pub use platform::*;

/// The header of `items.csv`.
pub const ITEMS_HEADER: [&str; 5] = ["item_id", "title", "category", "brand", "price"];
/// The header of `events.csv`.
pub const EVENTS_HEADER: [&str; 5] = [
    "session_id",
    "user_id",
    "timestamp",
    "event_type",
    "item_id",
];
