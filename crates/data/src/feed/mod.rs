//! Product feeds → the canonical items plus what the page shows of each (link, image, prices, currency,
//! availability, variant group).
//!
//! | format | [`Format`] | reader | one [`FeedItem`] per |
//! |---|---|---|---|
//! | Google Merchant Center XML: RSS 2.0 (`<rss><channel><item>`) or Atom (`<feed><entry>`), attributes in the `g:` namespace `http://base.google.com/ns/1.0` | `google-xml` | [`google::read_xml`] (quick-xml) | `<item>` / `<entry>` |
//! | Google Merchant Center tab-separated text (header `id`, `title`, …) | `google-tsv` | [`google::read_tsv`] | row |
//! | Shopify product CSV export (header `Handle`, `Title`, …, `Variant SKU`, `Variant Price`, `Image Src`, …) | `shopify` | [`shopify::read`] | `Handle` (its variant rows merged) |
//! | the canonical `items.csv` (`item_id,title,category,brand,price`) | `items` | [`items::read`] | row |
//!
//! The format is detected from the content ([`detect`]: XML root `rss` / `feed`, a tab-separated header
//! with `id` and `title`, a CSV header starting with `Handle`, the canonical header) unless given.
//!
//! **Bad input.** A bad record (a row with the wrong number of fields, no id, no title, an id or text
//! longer than the catalog stores, a price that does not parse) is an error naming the file and the line
//! (XML: the item's index, its line and its id when it has one). With [`ReadOptions::skip_bad`] it is
//! skipped instead and listed in [`Feed::skipped`] (the command prints the count and the list): never a
//! silent drop. A **duplicate id** is always an error. Shopify products whose `Status` is not `active`
//! (drafts, archived) are left out and listed in [`Feed::excluded`]. Text is UTF-8 (any script) and is
//! kept as it is.
//!
//! **Prices.** [`parse_price`] reads `19.90 EUR`, `19,90 EUR`, `EUR 19.90`, `1.234,56 EUR`,
//! `1,234.56 USD` and a bare number. The canonical [`Item::price`] (what the item text and so the
//! embedding sees) is the regular price; a sale price is kept apart in [`FeedItem::sale_price`], and the
//! price the page shows is [`FeedItem::display_price`] (the sale price when there is one). A sale thus
//! changes the catalog's displayed price without re-embedding the item.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::Item;

pub mod google;
pub mod items;
pub mod shopify;

/// The longest id the catalog stores, in bytes (the core's `MAX_ID_LEN`).
pub const MAX_ID_LEN: usize = nextclick::catalog::MAX_ID_LEN;
/// The longest title, link or image URL the catalog stores, in bytes (the core's `MAX_META_LEN`).
pub const MAX_TEXT_LEN: usize = nextclick::catalog::MAX_META_LEN;

/// A feed format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Format {
    /// Google Merchant Center XML (RSS 2.0 or Atom with the `g:` namespace).
    GoogleXml,
    /// Google Merchant Center tab-separated text.
    GoogleTsv,
    /// Shopify product CSV export.
    Shopify,
    /// The canonical items.csv.
    Items,
}

impl Format {
    /// The name used on the command line and in manifests (`google-xml`, `google-tsv`, `shopify`, `items`).
    pub fn name(self) -> &'static str {
        match self {
            Format::GoogleXml => "google-xml",
            Format::GoogleTsv => "google-tsv",
            Format::Shopify => "shopify",
            Format::Items => "items",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One product of a feed: the canonical item (what is embedded) and what the page shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FeedItem {
    /// Id, title, category, brand and regular price.
    pub item: Item,
    /// Product page URL from the feed (empty when the feed has none; the build may apply a template).
    pub link: String,
    /// Image URL (empty when none).
    pub image: String,
    /// Sale price, when the feed gives one.
    pub sale_price: Option<f64>,
    /// ISO 4217 currency code of the prices (empty when the feed does not say).
    pub currency: String,
    /// Availability as the feed spells it (`in_stock`, `out_of_stock`, …; empty when not given).
    pub availability: String,
    /// Variant group (Google `item_group_id`; Shopify: the Handle; empty when none).
    pub group_id: String,
    /// How many variants this item stands for (Shopify: variant rows of its Handle; otherwise 1).
    pub variants: usize,
}

impl FeedItem {
    /// The price the shopper sees: the sale price when there is one, else the regular price.
    pub fn display_price(&self) -> Option<f64> {
        self.sale_price.or(self.item.price)
    }
}

/// A record left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Where it is: `line 12`, or for XML `item 3 (line 40, id "sku-1")`.
    pub at: String,
    /// What was wrong with it.
    pub reason: String,
}

/// A feed read: its items in feed order, and every record left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Feed {
    /// The file read.
    pub path: PathBuf,
    /// Its format (detected or given).
    pub format: Format,
    /// The products, in feed order.
    pub items: Vec<FeedItem>,
    /// Bad records skipped under [`ReadOptions::skip_bad`] (empty otherwise: a bad record is an error).
    pub skipped: Vec<Skipped>,
    /// Records left out by rule, not because they were bad (Shopify: products whose status is not active).
    pub excluded: Vec<Skipped>,
    /// Records read (rows or XML items, before grouping and skipping).
    pub records: usize,
}

impl Feed {
    /// The currencies the prices are in, sorted (one, normally).
    pub fn currencies(&self) -> Vec<String> {
        let mut c: Vec<String> = self
            .items
            .iter()
            .filter(|i| !i.currency.is_empty())
            .map(|i| i.currency.clone())
            .collect();
        c.sort();
        c.dedup();
        c
    }

    /// Human-readable lines: what was read, then one line per skipped or excluded record.
    pub fn report_lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "{}: {} feed, {} records → {} items; skipped {} bad, excluded {}",
            self.path.display(),
            self.format,
            self.records,
            self.items.len(),
            self.skipped.len(),
            self.excluded.len()
        )];
        for s in &self.skipped {
            out.push(format!("  skipped {}: {}", s.at, s.reason));
        }
        for s in &self.excluded {
            out.push(format!("  excluded {}: {}", s.at, s.reason));
        }
        out
    }
}

/// How to read a feed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// The format; `None` detects it from the content ([`detect`]).
    pub format: Option<Format>,
    /// Skip bad records (listed in [`Feed::skipped`]) instead of failing on the first one.
    pub skip_bad: bool,
}

/// Reads a feed file (see the module docs).
pub fn read(path: &Path, opts: ReadOptions) -> Result<Feed> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot open {}", path.display()))?;
    read_bytes(path, &bytes, opts)
}

/// Reads a feed from its bytes; `path` names it in messages.
pub fn read_bytes(path: &Path, bytes: &[u8], opts: ReadOptions) -> Result<Feed> {
    let format = match opts.format {
        Some(f) => f,
        None => {
            detect(bytes).with_context(|| format!("{}: unknown feed format", path.display()))?
        }
    };
    let mut c = Collector::new(path, opts.skip_bad);
    match format {
        Format::GoogleXml => google::read_xml(bytes, &mut c)?,
        Format::GoogleTsv => google::read_tsv(bytes, &mut c)?,
        Format::Shopify => shopify::read(bytes, &mut c)?,
        Format::Items => items::read(bytes, &mut c)?,
    }
    if c.items.is_empty() {
        bail!(
            "{}: no items ({} records read, {} skipped, {} excluded)",
            path.display(),
            c.records,
            c.skipped.len(),
            c.excluded.len()
        );
    }
    Ok(Feed {
        path: path.to_path_buf(),
        format,
        items: c.items,
        skipped: c.skipped,
        excluded: c.excluded,
        records: c.records,
    })
}

/// The format of a feed from its first bytes: an XML root element `rss` or `feed` → Google XML; a first
/// line with tabs whose fields include `id` and `title` → Google TSV; a CSV header whose first field is
/// `Handle` → Shopify; the canonical header → items. Anything else is an error saying what was seen.
pub fn detect(bytes: &[u8]) -> Result<Format> {
    let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let b = &b[start..];
    if b.first() == Some(&b'<') {
        let root = xml_root(b)?;
        return match root.as_str() {
            "rss" | "feed" => Ok(Format::GoogleXml),
            other => bail!("an XML document whose root element is <{other}>, not <rss> or <feed>"),
        };
    }
    let line_end = b.iter().position(|&c| c == b'\n').unwrap_or(b.len());
    let line = String::from_utf8_lossy(&b[..line_end]);
    let line = line.trim_end_matches('\r');
    if line.contains('\t') {
        let fields: Vec<String> = line.split('\t').map(google::column_name).collect();
        if fields.iter().any(|f| f == "id") && fields.iter().any(|f| f == "title") {
            return Ok(Format::GoogleTsv);
        }
        bail!("a tab-separated header without both `id` and `title`: {line:?}");
    }
    let fields: Vec<&str> = line
        .split(',')
        .map(|f| f.trim().trim_matches('"').trim())
        .collect();
    if fields.first() == Some(&"Handle") {
        return Ok(Format::Shopify);
    }
    if fields == crate::ITEMS_HEADER {
        return Ok(Format::Items);
    }
    bail!(
        "first line {:?} is none of: an XML <rss>/<feed>, a Google tab-separated header (id, title, …), a \
         Shopify CSV header (Handle, Title, …), the items.csv header (item_id,title,category,brand,price); \
         pass --format",
        line.chars().take(200).collect::<String>()
    )
}

/// The local name of the root element of an XML document (after the declaration, comments, doctype).
fn xml_root(b: &[u8]) -> Result<String> {
    use quick_xml::events::Event;
    let mut r = quick_xml::Reader::from_reader(b);
    let mut buf = Vec::new();
    loop {
        match r.read_event_into(&mut buf) {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                return Ok(String::from_utf8_lossy(e.local_name().as_ref()).into_owned())
            }
            Ok(Event::Eof) => bail!("an XML document without a root element"),
            Ok(_) => {}
            Err(e) => bail!("not well-formed XML: {e}"),
        }
        buf.clear();
    }
}

/// Parses a feed price: a number with `.` or `,` as the decimal separator and an optional ISO 4217 code
/// before or after it (`19.90 EUR`, `19,90 EUR`, `EUR 19.90`, `1.234,56 EUR`, `1,234.56 USD`, `19.9`).
///
/// With both separators, the last one is the decimal separator. With only one kind: a single `,` or `.`
/// is decimal (`19,90`, `1,5`); repeated ones group thousands (`1.234.567`). Returns the price and the
/// currency (empty when none); an error says what is wrong.
pub fn parse_price(s: &str) -> std::result::Result<(f64, String), String> {
    let s = s.trim();
    let mut number = s;
    let mut currency = String::new();
    if let Some((a, b)) = s.rsplit_once(char::is_whitespace) {
        let (a, b) = (a.trim(), b.trim());
        if is_currency(b) {
            number = a;
            currency = b.to_string();
        } else if is_currency(a) {
            number = b;
            currency = a.to_string();
        } else {
            return Err(format!(
                "price {s:?}: expected a number and a currency code like \"19.90 EUR\""
            ));
        }
    }
    let digits = number.replace([' ', '\u{a0}', '\u{202f}', '\''], "");
    let (commas, dots) = (digits.matches(',').count(), digits.matches('.').count());
    let normal = match (commas, dots) {
        (0, 0) => digits.clone(),
        (_, 0) if commas == 1 => digits.replace(',', "."),
        (_, 0) => digits.replace(',', ""),
        (0, _) if dots == 1 => digits.clone(),
        (0, _) => digits.replace('.', ""),
        _ => {
            let (lc, ld) = (
                digits.rfind(',').unwrap_or(0),
                digits.rfind('.').unwrap_or(0),
            );
            if lc > ld {
                digits.replace('.', "").replace(',', ".")
            } else {
                digits.replace(',', "")
            }
        }
    };
    if normal.is_empty() || !normal.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        return Err(format!("price {s:?} is not a number"));
    }
    match normal.parse::<f64>() {
        Ok(p) if p.is_finite() && p >= 0.0 => Ok((p, currency)),
        _ => Err(format!("price {s:?} is not a finite non-negative number")),
    }
}

fn is_currency(s: &str) -> bool {
    s.len() == 3 && s.bytes().all(|c| c.is_ascii_uppercase())
}

/// Where records go while a feed is read: checks each product, applies the bad-record policy, refuses
/// duplicate ids.
pub struct Collector {
    path: PathBuf,
    skip_bad: bool,
    items: Vec<FeedItem>,
    skipped: Vec<Skipped>,
    excluded: Vec<Skipped>,
    seen: HashMap<String, String>,
    /// Records read so far (rows or XML items).
    pub records: usize,
}

impl Collector {
    /// An empty collector for the file `path`.
    pub fn new(path: &Path, skip_bad: bool) -> Collector {
        Collector {
            path: path.to_path_buf(),
            skip_bad,
            items: Vec::new(),
            skipped: Vec::new(),
            excluded: Vec::new(),
            seen: HashMap::new(),
            records: 0,
        }
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A bad record at `at`: an error naming the file (default), or counted and skipped (`skip_bad`).
    pub fn bad(&mut self, at: String, reason: String) -> Result<()> {
        if !self.skip_bad {
            bail!(
                "{}: {at}: {reason} (pass --skip-bad to skip bad records and list them)",
                self.path.display()
            );
        }
        self.skipped.push(Skipped { at, reason });
        Ok(())
    }

    /// Reads the next CSV row into `rec` and returns its line, or `None` at the end. An unreadable row is
    /// counted as a record and goes through [`Collector::bad`] (an error, or skipped and the next row read).
    pub fn next_row<R: std::io::Read>(
        &mut self,
        r: &mut csv::Reader<R>,
        rec: &mut csv::StringRecord,
    ) -> Result<Option<u64>> {
        loop {
            let before = r.position().line();
            match r.read_record(rec) {
                Ok(false) => return Ok(None),
                Ok(true) => return Ok(Some(rec.position().map(|p| p.line()).unwrap_or(0))),
                Err(e) => {
                    let line = e.position().map(|p| p.line()).unwrap_or(before);
                    self.records += 1;
                    self.bad(format!("line {line}"), format!("unreadable row: {e}"))?;
                }
            }
        }
    }

    /// A record left out by rule (not bad), listed in [`Feed::excluded`].
    pub fn exclude(&mut self, at: String, reason: String) {
        self.excluded.push(Skipped { at, reason });
    }

    /// Adds a product read at `at`: checks it (a bad one goes to [`Collector::bad`]); a duplicate id is
    /// an error whatever the policy.
    pub fn push(&mut self, at: String, mut item: FeedItem, require_title: bool) -> Result<()> {
        if let Err(reason) = check(&mut item, require_title) {
            return self.bad(at, reason);
        }
        if let Some(first) = self.seen.get(&item.item.id) {
            bail!(
                "{}: {at}: duplicate id {:?} (first at {first})",
                self.path.display(),
                item.item.id
            );
        }
        self.seen.insert(item.item.id.clone(), at);
        if item.variants == 0 {
            item.variants = 1;
        }
        self.items.push(item);
        Ok(())
    }
}

/// Trims the text fields and checks what the catalog can store.
fn check(it: &mut FeedItem, require_title: bool) -> std::result::Result<(), String> {
    for s in [
        &mut it.item.id,
        &mut it.item.title,
        &mut it.item.category,
        &mut it.item.brand,
        &mut it.link,
        &mut it.image,
        &mut it.currency,
        &mut it.availability,
        &mut it.group_id,
    ] {
        let t = s.trim();
        if t.len() != s.len() {
            *s = t.to_string();
        }
    }
    if it.item.id.is_empty() {
        return Err("no id".into());
    }
    if it.item.id.len() > MAX_ID_LEN {
        return Err(format!(
            "id is {} bytes long (the catalog stores at most {MAX_ID_LEN})",
            it.item.id.len()
        ));
    }
    if it.item.id.chars().any(char::is_control) {
        return Err(format!("id {:?} contains a control character", it.item.id));
    }
    if require_title && it.item.title.is_empty() {
        return Err(format!("id {:?}: no title", it.item.id));
    }
    for (what, s) in [
        ("title", &it.item.title),
        ("link", &it.link),
        ("image link", &it.image),
    ] {
        if s.len() > MAX_TEXT_LEN {
            return Err(format!(
                "id {:?}: {what} is {} bytes long (the catalog stores at most {MAX_TEXT_LEN})",
                it.item.id,
                s.len()
            ));
        }
    }
    Ok(())
}

/// Writes `items` as the canonical items.csv (`item_id,title,category,brand,price`; the regular price),
/// readable by [`crate::load_items`]. Text is written as it is (UTF-8, quoted where CSV needs it).
pub fn write_items_csv(path: &Path, items: &[FeedItem]) -> Result<()> {
    let mut w = csv::Writer::from_path(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    w.write_record(crate::ITEMS_HEADER)?;
    for it in items {
        let price = it.item.price.map(|p| format!("{p}")).unwrap_or_default();
        w.write_record([
            it.item.id.as_str(),
            &it.item.title,
            &it.item.category,
            &it.item.brand,
            &price,
        ])?;
    }
    w.flush()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Line numbers of increasing byte offsets in one pass (a feed of 100k items is not rescanned per item).
#[derive(Debug, Default)]
pub(crate) struct Lines {
    pos: usize,
    newlines: usize,
}

impl Lines {
    /// The 1-based line of byte offset `pos` (offsets normally increase; a smaller one is recounted).
    pub(crate) fn at(&mut self, bytes: &[u8], pos: usize) -> usize {
        let pos = pos.min(bytes.len());
        if pos < self.pos {
            *self = Lines::default();
        }
        self.newlines += bytes[self.pos..pos].iter().filter(|&&c| c == b'\n').count();
        self.pos = pos;
        1 + self.newlines
    }
}

/// The 1-based line of byte offset `pos` in `bytes`.
pub(crate) fn line_of(bytes: &[u8], pos: usize) -> usize {
    1 + bytes[..pos.min(bytes.len())]
        .iter()
        .filter(|&&c| c == b'\n')
        .count()
}

#[cfg(test)]
mod tests;
