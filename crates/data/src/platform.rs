//! Loading the canonical platform layout (`items.csv`, `events.csv`; see `shared/data/README.md`) with an
//! explicit bad-input policy:
//!
//! * a malformed CSV row, a wrong header, a duplicate item id, an unknown event type, a non-integer timestamp
//!   or a session whose rows are not contiguous/sorted is an **error** naming the file and line;
//! * a price that is present but not a finite non-negative number is **counted and treated as unknown**;
//! * an item with no text at all (empty title, category and brand) is **counted** and embedded from a
//!   placeholder;
//! * an event whose item id is not in `items.csv` is **counted and skipped**.
//!
//! The counts are returned in [`LoadReport`] and printed by the commands at the end of loading.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use nextclick::contract::gap_bucket;
use nextclick::event::parse_kind;

use crate::csv::{open, row_error, Policy};
use crate::{EVENTS_HEADER, ITEMS_HEADER};

/// One catalog item of `items.csv`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Item {
    /// The platform's item id.
    pub id: String,
    /// Product title (may be empty).
    pub title: String,
    /// Category (path or code; may be empty).
    pub category: String,
    /// Brand (may be empty).
    pub brand: String,
    /// Price, if known and finite.
    pub price: Option<f64>,
}

/// Counts of the tolerated bad input (see the module docs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadReport {
    /// Items whose price field was present but not a finite non-negative number (treated as unknown).
    pub bad_prices: usize,
    /// Items with no text at all (embedded from a placeholder).
    pub empty_items: usize,
    /// Events skipped because their item id is not in the catalog.
    pub unknown_item_events: usize,
    /// Sessions dropped because every event of theirs was skipped.
    pub empty_sessions: usize,
}

impl LoadReport {
    /// One human-readable line per non-zero count (empty when the input was clean).
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.bad_prices > 0 {
            out.push(format!(
                "{} items: price not a finite non-negative number → treated as unknown",
                self.bad_prices
            ));
        }
        if self.empty_items > 0 {
            out.push(format!(
                "{} items: no title, category, brand or price → embedded from the placeholder \"item\"",
                self.empty_items
            ));
        }
        if self.unknown_item_events > 0 {
            out.push(format!(
                "{} events: item id not in items.csv → skipped",
                self.unknown_item_events
            ));
        }
        if self.empty_sessions > 0 {
            out.push(format!(
                "{} sessions: no event left after skipping → dropped",
                self.empty_sessions
            ));
        }
        out
    }

    /// Prints [`LoadReport::lines`] to stderr (or "input clean").
    pub fn print(&self, what: &str) {
        let lines = self.lines();
        if lines.is_empty() {
            eprintln!("{what}: input clean (no row skipped or altered)");
        }
        for l in lines {
            eprintln!("{what}: skip policy: {l}");
        }
    }
}

/// Where the shared data lives: `$NEXTCLICK_DATA`, else `../shared/data` relative to the repo root.
pub fn data_root() -> PathBuf {
    if let Ok(p) = std::env::var("NEXTCLICK_DATA") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

/// Reads `items.csv` (`item_id,title,category,brand,price`).
pub fn load_items(path: &Path, report: &mut LoadReport) -> Result<Vec<Item>> {
    let mut rdr = open(path, &ITEMS_HEADER, Policy::Strict)?;
    let mut items = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| row_error(path, e))?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let id = rec[0].trim().to_string();
        if id.is_empty() {
            bail!("{}: line {line}: empty item_id", path.display());
        }
        if let Some(prev) = seen.insert(id.clone(), line) {
            bail!(
                "{}: line {line}: duplicate item_id {id:?} (first on line {prev})",
                path.display()
            );
        }
        let price_s = rec[4].trim();
        let price = if price_s.is_empty() {
            None
        } else {
            match price_s.parse::<f64>() {
                Ok(p) if p.is_finite() && p >= 0.0 => Some(p),
                _ => {
                    report.bad_prices += 1;
                    None
                }
            }
        };
        let item = Item {
            id,
            title: rec[1].trim().to_string(),
            category: rec[2].trim().to_string(),
            brand: rec[3].trim().to_string(),
            price,
        };
        if item.title.is_empty()
            && item.category.is_empty()
            && item.brand.is_empty()
            && item.price.is_none()
        {
            report.empty_items += 1;
        }
        items.push(item);
    }
    if items.is_empty() {
        bail!("{}: no items", path.display());
    }
    Ok(items)
}

/// A price bucket phrase for the item text (`None` when the price is unknown).
pub fn price_bucket(price: Option<f64>) -> Option<&'static str> {
    let p = price?;
    Some(match p {
        p if p < 5.0 => "under 5",
        p if p < 10.0 => "5 to 10",
        p if p < 20.0 => "10 to 20",
        p if p < 50.0 => "20 to 50",
        p if p < 100.0 => "50 to 100",
        p if p < 200.0 => "100 to 200",
        p if p < 500.0 => "200 to 500",
        p if p < 1000.0 => "500 to 1000",
        _ => "over 1000",
    })
}

/// The text embedded for an item: title, category, brand and price bucket, whichever the platform has.
/// Category codes such as `electronics.smartphone` are spelled out as `electronics smartphone`.
/// ([`TextTemplate::Labelled`], the default; see [`item_text_with`].)
pub fn item_text(item: &Item) -> String {
    item_text_with(item, TextTemplate::Labelled)
}

/// How an item's fields become the one text the text encoder embeds. Items with a title are spelled the
/// same by every template (the title, then the labelled fields: what the source models were trained on);
/// the templates differ for the items of a shop without titles (REES46: category code, brand, price),
/// whose text has to stand in for a title.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum TextTemplate {
    /// `category: electronics smartphone. brand: samsung. price: 200 to 500` (the default).
    #[default]
    Labelled,
    /// `electronics smartphone. samsung. 200 to 500`: the same fields without their labels.
    Plain,
    /// `samsung smartphone. electronics smartphone. price: 200 to 500`: a product-title-like head (brand
    /// and the most specific category word), then the category path and the price band.
    TitleLike,
    /// [`TextTemplate::Labelled`] without the price band.
    NoPrice,
}

/// [`item_text`] with the template `t` for items without a title.
pub fn item_text_with(item: &Item, t: TextTemplate) -> String {
    let mut parts: Vec<String> = Vec::new();
    let path = item.category.replace(['.', '_'], " ");
    let band = price_bucket(item.price);
    if !item.title.is_empty() || t == TextTemplate::Labelled || t == TextTemplate::NoPrice {
        if !item.title.is_empty() {
            parts.push(item.title.clone());
        }
        if !path.is_empty() {
            parts.push(format!("category: {path}"));
        }
        if !item.brand.is_empty() {
            parts.push(format!("brand: {}", item.brand));
        }
        if let Some(b) = band.filter(|_| t != TextTemplate::NoPrice || !item.title.is_empty()) {
            parts.push(format!("price: {b}"));
        }
    } else if t == TextTemplate::Plain {
        parts.extend(
            [path, item.brand.clone()]
                .into_iter()
                .filter(|x| !x.is_empty()),
        );
        parts.extend(band.map(str::to_string));
    } else {
        let leaf = item
            .category
            .rsplit(['.', '_'])
            .find(|w| !w.is_empty())
            .unwrap_or("");
        let head = [item.brand.as_str(), leaf]
            .into_iter()
            .filter(|x| !x.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        parts.extend([head, path].into_iter().filter(|x| !x.is_empty()));
        parts.extend(band.map(|b| format!("price: {b}")));
    }
    if parts.is_empty() {
        return "item".into();
    }
    parts.join(". ")
}

/// One event of a session, already encoded for the model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    /// Index of the item in the loaded item list.
    pub item: u32,
    /// Event-type id (contract v1).
    pub kind: i64,
    /// Time-gap bucket id (contract v1).
    pub gap: i64,
}

/// How `timestamp` is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum TimeMode {
    /// Unix seconds: gaps are bucketed with [`gap_bucket`].
    Unix,
    /// Order only: every event gets the "first or unknown" bucket.
    Ordinal,
    /// Ordinal when every session's timestamps are 0, 1, 2, …; unix seconds otherwise.
    Auto,
}

/// A loaded platform: items, sessions, and what the loader tolerated.
#[derive(Debug, Clone)]
pub struct Platform {
    /// Catalog items (index = item index used in [`Event::item`]).
    pub items: Vec<Item>,
    /// Sessions in file order, each in time order.
    pub sessions: Vec<Vec<Event>>,
    /// Whether timestamps were read as ordinal.
    pub ordinal: bool,
    /// Tolerated bad input.
    pub report: LoadReport,
}

/// Reads `events.csv` (`session_id,user_id,timestamp,event_type,item_id`) against `items`.
pub fn load_events(
    path: &Path,
    items: &[Item],
    mode: TimeMode,
    report: &mut LoadReport,
) -> Result<(Vec<Vec<Event>>, bool)> {
    let index: HashMap<&str, u32> = items
        .iter()
        .enumerate()
        .map(|(i, it)| (it.id.as_str(), i as u32))
        .collect();
    let mut rdr = open(path, &EVENTS_HEADER, Policy::Strict)?;
    // (session, [(timestamp, kind, item)]) in file order
    let mut raw: Vec<Vec<(i64, i64, Option<u32>)>> = Vec::new();
    let mut session_line: HashMap<String, u64> = HashMap::new();
    let mut current: Option<String> = None;
    for rec in rdr.records() {
        let rec = rec.map_err(|e| row_error(path, e))?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let sid = &rec[0];
        if sid.is_empty() {
            bail!("{}: line {line}: empty session_id", path.display());
        }
        let ts: i64 = rec[2].trim().parse().map_err(|_| {
            anyhow::anyhow!(
                "{}: line {line}: timestamp {:?} is not an integer",
                path.display(),
                &rec[2]
            )
        })?;
        // The core's one vocabulary (canonical names and their aliases), as the page and the replay read it.
        let kind = parse_kind(&rec[3])
            .map_err(|e| anyhow::anyhow!("{}: line {line}: {e}", path.display()))?;
        let item = index.get(rec[4].trim()).copied();
        if current.as_deref() != Some(sid) {
            if let Some(first) = session_line.get(sid) {
                bail!("{}: line {line}: session {sid:?} resumes after other sessions (first seen on line {first}); the file must be sorted by session", path.display());
            }
            session_line.insert(sid.to_string(), line);
            current = Some(sid.to_string());
            raw.push(Vec::new());
        }
        let s = raw.last_mut().expect("pushed above");
        if let Some(&(prev, _, _)) = s.last() {
            if ts < prev {
                bail!("{}: line {line}: timestamp {ts} is before the previous event's {prev} in session {sid:?}", path.display());
            }
        }
        s.push((ts, kind.id(), item));
    }
    let ordinal = match mode {
        TimeMode::Ordinal => true,
        TimeMode::Unix => false,
        TimeMode::Auto => raw
            .iter()
            .all(|s| s.iter().enumerate().all(|(i, e)| e.0 == i as i64)),
    };
    let mut sessions = Vec::with_capacity(raw.len());
    for s in raw {
        let mut out = Vec::with_capacity(s.len());
        let mut prev_ts: Option<i64> = None;
        for (ts, kind, item) in s {
            let Some(item) = item else {
                report.unknown_item_events += 1;
                continue;
            };
            let gap = if ordinal {
                gap_bucket(None)
            } else {
                gap_bucket(prev_ts.map(|p| (ts - p) as f64))
            };
            prev_ts = Some(ts);
            out.push(Event { item, kind, gap });
        }
        if out.is_empty() {
            report.empty_sessions += 1;
        } else {
            sessions.push(out);
        }
    }
    Ok((sessions, ordinal))
}

/// Loads `<dir>/items.csv` and `<dir>/events.csv`.
pub fn load_platform(dir: &Path, mode: TimeMode) -> Result<Platform> {
    let mut report = LoadReport::default();
    let items = load_items(&dir.join("items.csv"), &mut report)?;
    let (sessions, ordinal) = load_events(&dir.join("events.csv"), &items, mode, &mut report)?;
    Ok(Platform {
        items,
        sessions,
        ordinal,
        report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_spell_title_less_items_and_leave_titled_ones() {
        let phone = Item {
            id: "1".into(),
            title: String::new(),
            category: "electronics.smartphone".into(),
            brand: "samsung".into(),
            price: Some(409.02),
        };
        let t = |x| item_text_with(&phone, x);
        assert_eq!(
            t(TextTemplate::Labelled),
            "category: electronics smartphone. brand: samsung. price: 200 to 500"
        );
        assert_eq!(t(TextTemplate::Labelled), item_text(&phone));
        assert_eq!(
            t(TextTemplate::Plain),
            "electronics smartphone. samsung. 200 to 500"
        );
        assert_eq!(
            t(TextTemplate::TitleLike),
            "samsung smartphone. electronics smartphone. price: 200 to 500"
        );
        assert_eq!(
            t(TextTemplate::NoPrice),
            "category: electronics smartphone. brand: samsung"
        );
        let bare = Item {
            brand: String::new(),
            category: "appliances.kitchen.hood".into(),
            price: None,
            ..phone.clone()
        };
        assert_eq!(
            item_text_with(&bare, TextTemplate::TitleLike),
            "hood. appliances kitchen hood"
        );
        let empty = Item {
            category: String::new(),
            ..bare.clone()
        };
        for x in [
            TextTemplate::Plain,
            TextTemplate::TitleLike,
            TextTemplate::NoPrice,
        ] {
            assert_eq!(item_text_with(&empty, x), "item");
        }
        let titled = Item {
            title: "Galaxy A50".into(),
            ..phone
        };
        for x in [
            TextTemplate::Plain,
            TextTemplate::TitleLike,
            TextTemplate::NoPrice,
        ] {
            assert_eq!(item_text_with(&titled, x), item_text(&titled), "{x:?}");
        }
    }

    fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    fn tmp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("nextclick-data-{}-{name}", std::process::id()))
    }

    #[test]
    fn bad_rows_are_errors_with_file_and_line() {
        let d = tmp("bad");
        let p = write(
            &d,
            "items.csv",
            "item_id,title,category,brand,price\na,A,,,1\nb,B,,\n",
        );
        let e = load_items(&p, &mut LoadReport::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("items.csv") && e.contains("line 3"), "{e}");
        let p = write(
            &d,
            "items.csv",
            "item_id,title,category,brand,price\na,A,,,1\na,B,,,2\n",
        );
        let e = load_items(&p, &mut LoadReport::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3") && e.contains("duplicate"), "{e}");
        let items = vec![Item {
            id: "a".into(),
            title: "A".into(),
            category: String::new(),
            brand: String::new(),
            price: None,
        }];
        let p = write(
            &d,
            "events.csv",
            "session_id,user_id,timestamp,event_type,item_id\ns,u,0,view,a\ns,u,1,hover,a\n",
        );
        let e = load_events(&p, &items, TimeMode::Auto, &mut LoadReport::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("events.csv") && e.contains("line 3") && e.contains("hover"),
            "{e}"
        );
        let p = write(
            &d,
            "events.csv",
            "session_id,user_id,timestamp,event_type,item_id\ns,u,x,view,a\n",
        );
        let e = load_events(&p, &items, TimeMode::Auto, &mut LoadReport::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("timestamp"), "{e}");
        let p = write(&d, "events.csv", "session_id,user_id,timestamp,event_type,item_id\ns,u,0,view,a\nt,u,0,view,a\ns,u,5,view,a\n");
        let e = load_events(&p, &items, TimeMode::Auto, &mut LoadReport::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 4") && e.contains("sorted"), "{e}");
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn tolerated_input_is_counted() {
        let d = tmp("tol");
        write(&d, "items.csv", "item_id,title,category,brand,price\na,,electronics.phone,acme,NaN\nb,,,,\nc,C,,,12.5\n");
        write(
            &d,
            "events.csv",
            "session_id,user_id,timestamp,event_type,item_id\ns,u,100,view,a\ns,u,103,cart,zzz\ns,u,110,purchase,c\nt,u,5,view,zzz\n",
        );
        let p = load_platform(&d, TimeMode::Auto).unwrap();
        assert_eq!(
            p.report,
            LoadReport {
                bad_prices: 1,
                empty_items: 1,
                unknown_item_events: 2,
                empty_sessions: 1
            }
        );
        assert!(!p.ordinal);
        assert_eq!(p.sessions.len(), 1);
        let s = &p.sessions[0];
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].item, s[0].kind, s[0].gap), (0, 1, 1));
        assert_eq!(
            (s[1].item, s[1].kind, s[1].gap),
            (2, 5, gap_bucket(Some(10.0)))
        );
        assert_eq!(
            item_text(&p.items[0]),
            "category: electronics phone. brand: acme"
        );
        assert_eq!(item_text(&p.items[1]), "item");
        assert_eq!(item_text(&p.items[2]), "C. price: 10 to 20");
        assert_eq!(p.report.lines().len(), 4);
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn ordinal_time_is_detected() {
        let d = tmp("ord");
        write(
            &d,
            "items.csv",
            "item_id,title,category,brand,price\na,A,,,\nb,B,,,\n",
        );
        write(
            &d,
            "events.csv",
            "session_id,user_id,timestamp,event_type,item_id\nu,u,0,purchase,a\nu,u,1,purchase,b\n",
        );
        let p = load_platform(&d, TimeMode::Auto).unwrap();
        assert!(p.ordinal);
        assert!(p.sessions[0].iter().all(|e| e.gap == 1));
        std::fs::remove_dir_all(&d).ok();
    }
}
