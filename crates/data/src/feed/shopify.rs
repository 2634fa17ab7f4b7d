//! Shopify's product CSV export (Products → Export): one row per variant or extra image; the rows of a
//! `Handle` are one product.
//!
//! A product's first row carries its `Title`; its continuation rows (more variants, more images) have
//! an empty `Title` and the same `Handle`. Shoppers see one product page per Handle with a variant
//! picker, so **one [`FeedItem`] per Handle**:
//!
//! | Shopify column | [`FeedItem`] field |
//! |---|---|
//! | `Handle` | `item.id` (unique and stable per product, the `/products/<handle>` of its URL; variant SKUs can be empty or shared, so they are not ids) and `group_id` |
//! | `Title` (first row) | `item.title` |
//! | `Vendor` | `item.brand` |
//! | `Type` (else `Product Category`) | `item.category` |
//! | `Variant Price` of the cheapest variant | `item.price`, or `sale_price` when that variant's `Variant Compare At Price` is higher (then that is `item.price`) |
//! | `Image Src` with the lowest `Image Position` (else the first `Variant Image`) | `image` |
//! | — | `link` = `/products/<Handle>` (relative; `--url-template` overrides it) |
//! | `Variant Inventory Tracker` / `Qty` / `Policy` | `availability`: `in_stock` when a variant has stock or sells out of stock (`continue`), `out_of_stock` when every tracked variant is at 0 with `deny`, empty when not tracked |
//! | number of variant rows | `variants` |
//!
//! The export has no currency (prices are in the shop's currency): `currency` is empty. Products whose
//! `Status` is not `active` (or, in exports without `Status`, whose `Published` is `false`) are left out
//! and listed in [`super::Feed::excluded`]. Required columns: `Handle`, `Title`; every other one is used
//! when present. Continuation rows may come anywhere after their product's first row.

use std::collections::HashMap;

use anyhow::{bail, Result};

use super::{parse_price, Collector, FeedItem};
use crate::Item;

#[derive(Default)]
struct Variant {
    price: Option<f64>,
    compare_at: Option<f64>,
    tracked: bool,
    qty: Option<f64>,
    continue_selling: bool,
}

struct Product {
    line: u64,
    handle: String,
    title: String,
    vendor: String,
    category: String,
    active: Result<(), String>,
    variants: Vec<Variant>,
    images: Vec<(u64, String)>,
    variant_image: String,
}

/// Reads a Shopify product CSV export.
pub fn read(bytes: &[u8], c: &mut Collector) -> Result<()> {
    let path = c.path().to_path_buf();
    let (mut r, header) = crate::csv::open_bytes(&path, bytes, b',')?;
    let col = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(h_handle), Some(h_title)) = (col("Handle"), col("Title")) else {
        bail!(
            "{}: line 1: a Shopify export needs the columns Handle and Title (header: {header:?})",
            path.display()
        );
    };
    let h_vendor = col("Vendor");
    let h_type = col("Type");
    let h_pcat = col("Product Category");
    let h_status = col("Status");
    let h_published = col("Published");
    let h_sku = col("Variant SKU");
    let h_opt1 = col("Option1 Value");
    let h_price = col("Variant Price");
    let h_compare = col("Variant Compare At Price");
    let h_tracker = col("Variant Inventory Tracker");
    let h_qty = col("Variant Inventory Qty");
    let h_policy = col("Variant Inventory Policy");
    let h_img = col("Image Src");
    let h_img_pos = col("Image Position");
    let h_var_img = col("Variant Image");

    let mut products: Vec<Product> = Vec::new();
    let mut by_handle: HashMap<String, usize> = HashMap::new();
    let mut bad_first: HashMap<String, u64> = HashMap::new();
    let mut rec = csv::StringRecord::new();
    while let Some(line) = c.next_row(&mut r, &mut rec)? {
        if rec.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        c.records += 1;
        let at = format!("line {line}");
        if rec.len() != header.len() {
            c.bad(
                at,
                format!("{} fields, the header has {}", rec.len(), header.len()),
            )?;
            continue;
        }
        let get = |i: Option<usize>| i.map(|i| rec[i].trim()).unwrap_or("");
        let handle = get(Some(h_handle)).to_string();
        if handle.is_empty() {
            c.bad(at, "no Handle".into())?;
            continue;
        }
        let title = get(Some(h_title));
        let idx = if !title.is_empty() {
            if let Some(&first) = by_handle.get(&handle) {
                bail!(
                    "{}: {at}: duplicate id: a second product row (with a Title) for Handle {handle:?} \
                     (first on line {})",
                    path.display(),
                    products[first].line
                );
            }
            let status = get(h_status).to_lowercase();
            let published = get(h_published).to_lowercase();
            let active = if h_status.is_some() && !status.is_empty() && status != "active" {
                Err(format!("Handle {handle:?}: Status {status}"))
            } else if h_status.is_none() && published == "false" {
                Err(format!("Handle {handle:?}: Published false"))
            } else {
                Ok(())
            };
            let category = match get(h_type) {
                "" => get(h_pcat),
                t => t,
            };
            products.push(Product {
                line,
                handle: handle.clone(),
                title: title.to_string(),
                vendor: get(h_vendor).to_string(),
                category: category.to_string(),
                active,
                variants: Vec::new(),
                images: Vec::new(),
                variant_image: String::new(),
            });
            by_handle.insert(handle.clone(), products.len() - 1);
            products.len() - 1
        } else if let Some(&i) = by_handle.get(&handle) {
            i
        } else if let Some(first) = bad_first.get(&handle) {
            let reason = format!(
                "continuation row of Handle {handle:?}, whose first row (line {first}) was skipped"
            );
            c.bad(at, reason)?;
            continue;
        } else {
            c.bad(
                at,
                format!(
                    "continuation row (empty Title) of Handle {handle:?}, but no row before it gives that \
                     product's Title"
                ),
            )?;
            continue;
        };
        let p = &mut products[idx];
        let img = get(h_img);
        if !img.is_empty() {
            let pos = get(h_img_pos).parse::<u64>().unwrap_or(u64::MAX);
            p.images.push((pos, img.to_string()));
        }
        let vimg = get(h_var_img);
        if p.variant_image.is_empty() && !vimg.is_empty() {
            p.variant_image = vimg.to_string();
        }
        let price_s = get(h_price);
        let is_variant = !price_s.is_empty() || !get(h_sku).is_empty() || !get(h_opt1).is_empty();
        if !is_variant {
            continue; // an image row
        }
        let mut v = Variant::default();
        let mut err = None;
        for (s, dst, what) in [
            (price_s, &mut v.price, "Variant Price"),
            (
                get(h_compare),
                &mut v.compare_at,
                "Variant Compare At Price",
            ),
        ] {
            if s.is_empty() {
                continue;
            }
            match parse_price(s) {
                Ok((x, _)) => *dst = Some(x),
                Err(e) => err = Some(format!("Handle {handle:?}: {what}: {e}")),
            }
        }
        v.tracked = !get(h_tracker).is_empty();
        let qty = get(h_qty);
        if !qty.is_empty() {
            match qty.parse::<f64>() {
                Ok(q) if q.is_finite() => v.qty = Some(q),
                _ => {
                    err = Some(format!(
                        "Handle {handle:?}: Variant Inventory Qty {qty:?} is not a number"
                    ))
                }
            }
        }
        v.continue_selling = get(h_policy).eq_ignore_ascii_case("continue");
        if let Some(reason) = err {
            if !title.is_empty() {
                // the product row itself is bad: the product goes, and so do its continuation rows
                let p = products.pop().expect("just pushed");
                by_handle.remove(&p.handle);
                bad_first.insert(p.handle, line);
            }
            c.bad(at, reason)?;
            continue;
        }
        products[idx].variants.push(v);
    }
    for p in products {
        let at = format!("line {}", p.line);
        if let Err(reason) = p.active {
            c.exclude(at, reason);
            continue;
        }
        let cheapest = p
            .variants
            .iter()
            .filter(|v| v.price.is_some())
            .min_by(|a, b| a.price.partial_cmp(&b.price).expect("finite prices"));
        let (price, sale_price) = match cheapest {
            Some(v) => match (v.price, v.compare_at) {
                (Some(now), Some(was)) if was > now => (Some(was), Some(now)),
                (now, _) => (now, None),
            },
            None => (None, None),
        };
        let tracked: Vec<&Variant> = p.variants.iter().filter(|v| v.tracked).collect();
        let availability = if tracked.is_empty() {
            ""
        } else if p
            .variants
            .iter()
            .any(|v| !v.tracked || v.continue_selling || v.qty.unwrap_or(0.0) > 0.0)
        {
            "in_stock"
        } else {
            "out_of_stock"
        };
        let image = p
            .images
            .iter()
            .min_by_key(|(pos, _)| *pos)
            .map(|(_, s)| s.clone())
            .unwrap_or(p.variant_image);
        let item = FeedItem {
            item: Item {
                id: p.handle.clone(),
                title: p.title,
                category: p.category,
                brand: p.vendor,
                price,
            },
            link: format!("/products/{}", p.handle),
            image,
            sale_price,
            currency: String::new(),
            availability: availability.to_string(),
            group_id: p.handle,
            variants: p.variants.len().max(1),
        };
        c.push(at, item, true)?;
    }
    Ok(())
}
