//! The canonical `items.csv` (`item_id,title,category,brand,price`) as a feed: the columns map one to one
//! onto [`crate::Item`]; there is no link, image or currency (the build's `--url-template` gives links).
//!
//! Unlike [`crate::load_items`] (the training loader, which counts a bad price and treats it as unknown),
//! a price that is present but does not parse is a bad record here, as in the other feed formats. A title
//! is not required (an item may be known by category and brand only).

use anyhow::{bail, Result};

use super::{parse_price, Collector, FeedItem};
use crate::{Item, ITEMS_HEADER};

/// Reads the canonical items.csv.
pub fn read(bytes: &[u8], c: &mut Collector) -> Result<()> {
    let path = c.path().to_path_buf();
    let (mut r, header) = crate::csv::open_bytes(&path, bytes, b',')?;
    if header != ITEMS_HEADER {
        bail!(
            "{}: line 1: header is {header:?}, expected {ITEMS_HEADER:?}",
            path.display()
        );
    }
    let mut rec = csv::StringRecord::new();
    while let Some(line) = c.next_row(&mut r, &mut rec)? {
        c.records += 1;
        let at = format!("line {line}");
        if rec.len() != ITEMS_HEADER.len() {
            c.bad(
                at,
                format!(
                    "{} fields, the header has {}",
                    rec.len(),
                    ITEMS_HEADER.len()
                ),
            )?;
            continue;
        }
        let price_s = rec[4].trim();
        let price = if price_s.is_empty() {
            None
        } else {
            match parse_price(price_s) {
                Ok((p, _)) => Some(p),
                Err(e) => {
                    c.bad(at, format!("item_id {:?}: {e}", rec[0].trim()))?;
                    continue;
                }
            }
        };
        let item = FeedItem {
            item: Item {
                id: rec[0].to_string(),
                title: rec[1].to_string(),
                category: rec[2].to_string(),
                brand: rec[3].to_string(),
                price,
            },
            variants: 1,
            ..FeedItem::default()
        };
        c.push(at, item, false)?;
    }
    Ok(())
}
