//! A shop's order history, the one thing every shop already holds on its server:
//! `orders.csv` with the header `order_id,customer_id,timestamp,item_id` (one row per ordered item).
//!
//! * `timestamp`: unix seconds or milliseconds (an integer or a decimal), or an ISO-8601 / RFC 3339 date
//!   time (`2026-11-30T14:05:00Z`, `2026-11-30 14:05:00`), what order exports carry.
//! * `customer_id` may be empty (a guest checkout): the order is then its own customer.
//! * Rows of one order share `order_id`; an order's items keep their file order.
//!
//! Bad rows are errors naming the file and line, or, with [`Policy::Tolerant`], counted skips listed in
//! the [`OrdersReport`]; nothing is dropped silently.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Result};

use crate::csv::{open, row_error, Policy};

/// The header of `orders.csv`.
pub const ORDERS_HEADER: [&str; 4] = ["order_id", "customer_id", "timestamp", "item_id"];

/// One customer's purchases, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    /// The customer id (or `order:<order_id>` for a guest checkout).
    pub id: String,
    /// `(unix milliseconds, item id)` of every ordered item, oldest order first.
    pub purchases: Vec<(f64, String)>,
}

/// What reading the orders found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrdersReport {
    /// Rows read.
    pub rows: usize,
    /// Orders.
    pub orders: usize,
    /// Rows skipped (tolerant policy), with their line and reason.
    pub skipped: Vec<(u64, String)>,
}

/// Parses a timestamp of an order export into unix milliseconds.
pub fn parse_timestamp(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Ok(x) = s.parse::<f64>() {
        if !x.is_finite() || x < 0.0 {
            return None;
        }
        // seconds until the year 5138, milliseconds after
        return Some(if x < 1e11 { x * 1000.0 } else { x });
    }
    parse_iso(s)
}

/// `YYYY-MM-DD[T ]HH:MM[:SS[.fff]][Z|±HH:MM]` or `YYYY-MM-DD`, as unix milliseconds.
fn parse_iso(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) && !t.is_empty() {
            t.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let (mut h, mut mi, mut sec, mut frac) = (0, 0, 0, 0.0);
    let mut rest = &s[10..];
    if !rest.is_empty() {
        if !(rest.starts_with('T') || rest.starts_with(' ')) || rest.len() < 6 {
            return None;
        }
        let t = &rest[1..];
        h = t.get(0..2)?.parse().ok()?;
        if t.as_bytes().get(2) != Some(&b':') {
            return None;
        }
        mi = t.get(3..5)?.parse().ok()?;
        rest = &t[5..];
        if let Some(r) = rest.strip_prefix(':') {
            sec = r.get(0..2)?.parse().ok()?;
            rest = &r[2..];
            if let Some(r) = rest.strip_prefix('.') {
                let n = r.bytes().take_while(|c| c.is_ascii_digit()).count();
                frac = format!("0.{}", &r[..n]).parse().ok()?;
                rest = &r[n..];
            }
        }
    }
    let offset_min = match rest {
        "" | "Z" | "z" => 0,
        o if (o.starts_with('+') || o.starts_with('-')) && o.len() == 6 && &o[3..4] == ":" => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (o[1..3].parse::<i64>().ok()? * 60 + o[4..6].parse::<i64>().ok()?)
        }
        _ => return None,
    };
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    // days from the civil date (Howard Hinnant's algorithm)
    let (y2, m2) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    if secs < 0 {
        return None;
    }
    Some((secs as f64 + frac) * 1000.0)
}

/// Reads `orders.csv` into customers (in order of first appearance), each with its purchases oldest first.
pub fn load_orders(path: &Path, policy: Policy) -> Result<(Vec<Customer>, OrdersReport)> {
    let mut r = open(path, &ORDERS_HEADER, policy)?;
    let mut rep = OrdersReport::default();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut customers: Vec<Customer> = Vec::new();
    let mut orders: HashMap<String, usize> = HashMap::new();
    for rec in r.records() {
        let rec = match rec {
            Ok(rec) => rec,
            Err(e) if policy == Policy::Strict => return Err(row_error(path, e)),
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                rep.skipped.push((line, format!("malformed CSV row: {e}")));
                continue;
            }
        };
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let problem = if rec.len() != ORDERS_HEADER.len() {
            Some(format!(
                "{} fields, expected {}",
                rec.len(),
                ORDERS_HEADER.len()
            ))
        } else if rec[0].trim().is_empty() {
            Some("empty order_id".to_string())
        } else if rec[3].trim().is_empty() {
            Some("empty item_id".to_string())
        } else if parse_timestamp(&rec[2]).is_none() {
            Some(format!(
                "timestamp {:?} is neither unix time nor an ISO-8601 date time",
                &rec[2]
            ))
        } else {
            None
        };
        if let Some(p) = problem {
            if policy == Policy::Strict {
                bail!("{}: line {line}: {p}", path.display());
            }
            rep.skipped.push((line, p));
            continue;
        }
        let (order, cust, item) = (rec[0].trim(), rec[1].trim(), rec[3].trim());
        let ts = parse_timestamp(&rec[2]).expect("checked above");
        let cust = if cust.is_empty() {
            format!("order:{order}")
        } else {
            cust.to_string()
        };
        let k = *index.entry(cust.clone()).or_insert_with(|| {
            customers.push(Customer {
                id: cust,
                purchases: Vec::new(),
            });
            customers.len() - 1
        });
        let seen = orders.entry(order.to_string()).or_insert(k);
        if *seen != k {
            let msg = format!(
                "order {order:?} belongs to customer {:?} on an earlier line",
                customers[*seen].id
            );
            if policy == Policy::Strict {
                bail!("{}: line {line}: {msg}", path.display());
            }
            rep.skipped.push((line, msg));
            continue;
        }
        customers[k].purchases.push((ts, item.to_string()));
        rep.rows += 1;
    }
    for c in &mut customers {
        // stable: the items of one order keep their file order
        c.purchases.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    rep.orders = orders.len();
    Ok((customers, rep))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> std::path::PathBuf {
        let p =
            std::env::temp_dir().join(format!("nextclick-orders-{}-{name}", std::process::id()));
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn timestamps_of_order_exports() {
        assert_eq!(parse_timestamp("1700000000"), Some(1.7e12));
        assert_eq!(parse_timestamp("1700000000123"), Some(1_700_000_000_123.0));
        assert_eq!(parse_timestamp("1970-01-02T00:00:00Z"), Some(86_400_000.0));
        assert_eq!(
            parse_timestamp("2026-11-30 14:05:00"),
            parse_timestamp("2026-11-30T14:05:00Z")
        );
        assert_eq!(
            parse_timestamp("2026-11-30T15:05:00+01:00"),
            parse_timestamp("2026-11-30T14:05:00Z")
        );
        assert_eq!(parse_timestamp("2000-03-01"), Some(951_868_800_000.0));
        assert_eq!(
            parse_timestamp("2026-11-30T14:05:00.250Z").unwrap() % 1000.0,
            250.0
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-11-30T25:00",
            "-5",
            "NaN",
            "2026-11-30X",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn groups_by_customer_in_time_order_and_names_bad_lines() {
        let p = file(
            "ok.csv",
            "order_id,customer_id,timestamp,item_id\n\
             o2,alice,2026-11-02T10:00:00Z,b\n\
             o1,alice,2026-11-01T10:00:00Z,a\n\
             o1,alice,2026-11-01T10:00:00Z,c\n\
             o3,,1762000000,d\n\
             o4,bob,1762000000,e\n",
        );
        let (cs, rep) = load_orders(&p, Policy::Strict).unwrap();
        assert_eq!((rep.rows, rep.orders), (5, 4));
        assert_eq!(cs.len(), 3);
        assert_eq!(cs[0].id, "alice");
        let items: Vec<&str> = cs[0].purchases.iter().map(|p| p.1.as_str()).collect();
        assert_eq!(
            items,
            ["a", "c", "b"],
            "oldest order first, an order's items in file order"
        );
        assert_eq!(cs[1].id, "order:o3", "a guest checkout is its own customer");

        let bad = file(
            "bad.csv",
            "order_id,customer_id,timestamp,item_id\no1,a,1762000000,x\no2,a,soon,y\n",
        );
        let e = load_orders(&bad, Policy::Strict).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("soon"), "{e}");
        let (cs, rep) = load_orders(&bad, Policy::Tolerant).unwrap();
        assert_eq!(cs[0].purchases.len(), 1);
        assert_eq!(rep.skipped.len(), 1);
        assert_eq!(rep.skipped[0].0, 3);

        let split = file(
            "split.csv",
            "order_id,customer_id,timestamp,item_id\no1,a,1762000000,x\no1,b,1762000000,y\n",
        );
        let e = load_orders(&split, Policy::Strict).unwrap_err().to_string();
        assert!(e.contains("belongs to customer"), "{e}");
        let hdr = file("hdr.csv", "order,customer,time,item\n");
        assert!(load_orders(&hdr, Policy::Strict)
            .unwrap_err()
            .to_string()
            .contains("header"));
    }
}
