//! Google Merchant Center feeds: XML (RSS 2.0 and Atom, attributes in the `g:` namespace
//! [`G_NS`]) and tab-separated text.
//!
//! | feed attribute | [`FeedItem`] field |
//! |---|---|
//! | `id` | `item.id` |
//! | `title` | `item.title` |
//! | `product_type` (else `google_product_category` unless it is a numeric category id) | `item.category` |
//! | `brand` | `item.brand` |
//! | `price` (`19.90 EUR`, `19,90 EUR`) | `item.price` and `currency` |
//! | `sale_price` | `sale_price` (the displayed price; the embedding keeps the regular one) |
//! | `link` (Atom: `<link href=…>`) | `link` |
//! | `image_link` | `image` |
//! | `availability` | `availability` (lower case, spaces → `_`) |
//! | `item_group_id` | `group_id` |
//!
//! In XML an attribute is a direct child of `<item>` / `<entry>` in the `g:` namespace, without a
//! namespace, or (Atom) in the Atom namespace; where both `g:title` and `title` are given the `g:` one is
//! taken. Nested elements (`g:shipping` with its own `g:price`, …) and other namespaces are ignored.
//! Each Google item is one [`FeedItem`] (variants share an `item_group_id` and stay separate items, as
//! the page shows them). Required: `id` and `title`. The XML must be UTF-8 (a declaration naming another
//! encoding is an error).

use std::collections::HashMap;

use anyhow::{bail, Result};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use super::{line_of, parse_price, Collector, FeedItem, Lines};
use crate::Item;

/// The Google Merchant Center namespace (`xmlns:g`).
pub const G_NS: &[u8] = b"http://base.google.com/ns/1.0";
/// The Atom 1.0 namespace.
pub const ATOM_NS: &[u8] = b"http://www.w3.org/2005/Atom";

/// The attribute name of a TSV header cell: trimmed, lower case, without a `g:` prefix, spaces as `_`
/// (`Image Link` → `image_link`).
pub fn column_name(s: &str) -> String {
    let s = s.trim().trim_matches('"').trim().to_lowercase();
    let s = s.strip_prefix("g:").unwrap_or(&s);
    s.replace(' ', "_")
}

/// A product from its attributes (`get("price")` → the text of that attribute, if given).
fn item_of<'a>(get: impl Fn(&str) -> Option<&'a str>) -> std::result::Result<FeedItem, String> {
    let text = |k: &str| get(k).map(str::trim).unwrap_or("").to_string();
    let id = text("id");
    let mut out = FeedItem {
        item: Item {
            id: id.clone(),
            title: text("title"),
            category: String::new(),
            brand: text("brand"),
            price: None,
        },
        link: text("link"),
        image: text("image_link"),
        availability: text("availability").to_lowercase().replace(' ', "_"),
        group_id: text("item_group_id"),
        variants: 1,
        ..FeedItem::default()
    };
    let product_type = text("product_type");
    let gpc = text("google_product_category");
    out.item.category = if !product_type.is_empty() {
        product_type
    } else if gpc.bytes().all(|c| c.is_ascii_digit()) {
        String::new()
    } else {
        gpc
    };
    let who = if id.is_empty() {
        String::new()
    } else {
        format!("id {id:?}: ")
    };
    let price = text("price");
    if !price.is_empty() {
        let (p, cur) = parse_price(&price).map_err(|e| format!("{who}{e}"))?;
        out.item.price = Some(p);
        out.currency = cur;
    }
    let sale = text("sale_price");
    if !sale.is_empty() {
        let (p, cur) = parse_price(&sale).map_err(|e| format!("{who}sale_{e}"))?;
        if !cur.is_empty() && !out.currency.is_empty() && cur != out.currency {
            return Err(format!(
                "{who}sale_price is in {cur} but price in {}",
                out.currency
            ));
        }
        if out.currency.is_empty() {
            out.currency = cur;
        }
        out.sale_price = Some(p);
    }
    Ok(out)
}

/// Reads Google Merchant Center tab-separated text.
pub fn read_tsv(bytes: &[u8], c: &mut Collector) -> Result<()> {
    let path = c.path().to_path_buf();
    let (mut r, header) = crate::csv::open_bytes(&path, bytes, b'\t')?;
    let cols: Vec<String> = header.iter().map(|h| column_name(h)).collect();
    for need in ["id", "title"] {
        if !cols.iter().any(|c| c == need) {
            bail!(
                "{}: line 1: the header has no `{need}` column (header: {header:?})",
                path.display()
            );
        }
    }
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, name) in cols.iter().enumerate() {
        index.entry(name.as_str()).or_insert(i);
    }
    let mut rec = csv::StringRecord::new();
    while let Some(line) = c.next_row(&mut r, &mut rec)? {
        if rec.iter().all(|f| f.trim().is_empty()) {
            continue; // blank line
        }
        c.records += 1;
        let at = format!("line {line}");
        if rec.len() != cols.len() {
            c.bad(
                at,
                format!(
                    "{} fields, the header has {} (a tab missing or extra?)",
                    rec.len(),
                    cols.len()
                ),
            )?;
            continue;
        }
        match item_of(|k| index.get(k).map(|&i| &rec[i])) {
            Ok(item) => c.push(at, item, true)?,
            Err(reason) => c.bad(at, reason)?,
        }
    }
    Ok(())
}

/// The element's namespace as far as the feed is concerned.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ns {
    Google,
    Plain,
    Other,
}

fn ns_of(r: &ResolveResult) -> Ns {
    match r {
        ResolveResult::Bound(ns) if ns.as_ref() == G_NS => Ns::Google,
        ResolveResult::Bound(ns) if ns.as_ref() == ATOM_NS => Ns::Plain,
        ResolveResult::Unbound => Ns::Plain,
        _ => Ns::Other,
    }
}

/// One `<item>` / `<entry>` being read.
struct Record {
    index: usize,
    line: usize,
    depth: usize,
    /// attribute → (text, from the g: namespace)
    fields: HashMap<String, (String, bool)>,
    /// the direct child being read: (name, g: namespace, text so far)
    current: Option<(String, bool, String)>,
}

impl Record {
    fn set(&mut self, name: String, google: bool, text: String) {
        match self.fields.get(&name) {
            // g: wins over the plain element; otherwise the first one given
            Some((old, old_g)) if *old_g || !google => {
                if old.trim().is_empty() && !text.trim().is_empty() && *old_g == google {
                    self.fields.insert(name, (text, google));
                }
            }
            _ => {
                self.fields.insert(name, (text, google));
            }
        }
    }

    fn at(&self) -> String {
        match self.fields.get("id").map(|(s, _)| s.trim()) {
            Some(id) if !id.is_empty() => {
                format!("item {} (line {}, id {id:?})", self.index, self.line)
            }
            _ => format!("item {} (line {})", self.index, self.line),
        }
    }
}

fn href_of(e: &BytesStart) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == b"href")
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(|v| v.into_owned())
        })
}

/// Reads a Google Merchant Center XML feed (RSS 2.0 `<item>`s or Atom `<entry>`s).
pub fn read_xml(bytes: &[u8], c: &mut Collector) -> Result<()> {
    let path = c.path().to_path_buf();
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut r = NsReader::from_reader(bytes);
    let mut buf = Vec::new();
    let mut depth = 0usize;
    let mut rec: Option<Record> = None;
    let mut index = 0usize;
    let mut root: Option<String> = None;
    let mut lines = Lines::default();
    let fail = |pos: usize, rec: &Option<Record>, e: String| -> anyhow::Error {
        let inside = rec
            .as_ref()
            .map(|x| format!(" (inside {})", x.at()))
            .unwrap_or_default();
        anyhow::anyhow!(
            "{}: line {}: not well-formed XML{inside}: {e}",
            path.display(),
            line_of(bytes, pos)
        )
    };
    loop {
        let pos = r.buffer_position() as usize;
        let (res, ev) = match r.read_resolved_event_into(&mut buf) {
            Ok((res, ev)) => (ns_of(&res), ev.into_owned()),
            Err(e) => return Err(fail(r.error_position() as usize, &rec, e.to_string())),
        };
        buf.clear();
        match ev {
            Event::Decl(d) => {
                if let Some(Ok(enc)) = d.encoding() {
                    let enc = String::from_utf8_lossy(&enc).to_lowercase();
                    if enc != "utf-8" && enc != "utf8" {
                        bail!(
                            "{}: line 1: the feed is encoded in {enc}; only UTF-8 is read (convert it, e.g. \
                             `iconv -f {enc} -t utf-8`)",
                            path.display()
                        );
                    }
                }
            }
            Event::Start(ref e) | Event::Empty(ref e) if rec.is_none() => {
                let empty = matches!(ev, Event::Empty(_));
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if root.is_none() {
                    if name != "rss" && name != "feed" {
                        bail!(
                            "{}: line {}: root element <{name}>, expected <rss> (RSS 2.0) or <feed> (Atom)",
                            path.display(),
                            line_of(bytes, pos)
                        );
                    }
                    root = Some(name.clone());
                }
                let is_record = res != Ns::Other
                    && ((name == "item" && root.as_deref() == Some("rss"))
                        || (name == "entry" && root.as_deref() == Some("feed")));
                if is_record {
                    index += 1;
                    c.records += 1;
                    let record = Record {
                        index,
                        line: lines.at(bytes, pos),
                        depth,
                        fields: HashMap::new(),
                        current: None,
                    };
                    if empty {
                        let at = record.at();
                        c.bad(at, "empty item (no id, no title)".into())?;
                        continue;
                    }
                    rec = Some(record);
                }
                if !empty {
                    depth += 1;
                }
            }
            Event::Start(e) => {
                let x = rec.as_mut().expect("inside a record");
                if depth == x.depth + 1 && x.current.is_none() && res != Ns::Other {
                    let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                    let mut text = String::new();
                    if name == "link" {
                        if let Some(h) = href_of(&e) {
                            text = h;
                        }
                    }
                    x.current = Some((name, res == Ns::Google, text));
                }
                depth += 1;
            }
            Event::Empty(e) => {
                let x = rec.as_mut().expect("inside a record");
                if depth == x.depth + 1 && res != Ns::Other {
                    let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                    let text = if name == "link" {
                        href_of(&e).unwrap_or_default()
                    } else {
                        String::new()
                    };
                    x.set(name, res == Ns::Google, text);
                }
            }
            Event::Text(t) => {
                if let Some(x) = rec.as_mut() {
                    if let Some((_, _, s)) = x.current.as_mut().filter(|_| depth == x.depth + 2) {
                        match t.xml10_content() {
                            Ok(v) => s.push_str(&v),
                            Err(e) => return Err(fail(pos, &rec, e.to_string())),
                        }
                    }
                }
            }
            Event::CData(t) => {
                if let Some(x) = rec.as_mut() {
                    if let Some((_, _, s)) = x.current.as_mut().filter(|_| depth == x.depth + 2) {
                        match t.xml10_content() {
                            Ok(v) => s.push_str(&v),
                            Err(e) => return Err(fail(pos, &rec, e.to_string())),
                        }
                    }
                }
            }
            Event::GeneralRef(g) => {
                let resolved = match g.resolve_char_ref() {
                    Ok(Some(ch)) => ch.to_string(),
                    Ok(None) => {
                        let name = String::from_utf8_lossy(&g).into_owned();
                        match quick_xml::escape::resolve_predefined_entity(&name) {
                            Some(s) => s.to_string(),
                            None => {
                                return Err(fail(
                                    pos,
                                    &rec,
                                    format!(
                                        "unknown entity &{name}; (XML knows &amp; &lt; &gt; &quot; &apos; and \
                                         numeric references; HTML entities must be written as &#…; or as \
                                         the character itself)"
                                    ),
                                ))
                            }
                        }
                    }
                    Err(e) => return Err(fail(pos, &rec, e.to_string())),
                };
                if let Some(x) = rec.as_mut() {
                    if let Some((_, _, s)) = x.current.as_mut().filter(|_| depth == x.depth + 2) {
                        s.push_str(&resolved);
                    }
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                let mut done = false;
                if let Some(x) = rec.as_mut() {
                    if depth == x.depth + 1 {
                        if let Some((name, g, text)) = x.current.take() {
                            x.set(name, g, text);
                        }
                    } else if depth == x.depth {
                        done = true;
                    }
                }
                if done {
                    let x = rec.take().expect("a record");
                    let at = x.at();
                    let fields = x.fields;
                    match item_of(|k| fields.get(k).map(|(s, _)| s.as_str())) {
                        Ok(item) => c.push(at, item, true)?,
                        Err(reason) => c.bad(at, reason)?,
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(x) = rec {
        bail!(
            "{}: not well-formed XML: the file ends inside {}",
            path.display(),
            x.at()
        );
    }
    if root.is_none() {
        bail!("{}: an XML document without a root element", path.display());
    }
    Ok(())
}
