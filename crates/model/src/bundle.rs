//! The deployable folder of a shop (`nextclick shop build`): file hashes and Subresource Integrity
//! strings, the manifest, the generated init module and the HTML snippet, and the item changes between
//! two builds. Nothing here embeds; the build itself is `nextclick_train::shop`.
//!
//! The folder, served at one base URL of the shop's origin:
//!
//! ```text
//! sdk/loader.js, sdk/nextclick.js, … sdk/nextclick.d.ts     the SDK modules (names fixed: they import each other)
//! pkg/nextclick.js, pkg/nextclick_bg.wasm                    the release wasm and its glue
//! <model>.<sha8>.onnx                                        the model        ┐ content-hashed names: a page
//! catalog.<sha8>.bin                                         the catalog      │ cached with yesterday's snippet
//! nextclick-init.<sha8>.js                                   init (URLs, SRI) ┘ keeps fetching yesterday's files
//! manifest.json, snippet.html
//! ```
//!
//! `<sha8>` is the first 8 hex digits of the file's SHA-256. The files of the previous build's manifest
//! are kept (one generation back); older hashed files the build wrote are removed.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha384};

/// Version of the manifest layout ([`Manifest::format`]).
pub const MANIFEST_FORMAT: u32 = 1;
/// The manifest's file name in the folder.
pub const MANIFEST: &str = "manifest.json";
/// The snippet's file name in the folder.
pub const SNIPPET: &str = "snippet.html";

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let d: [u8; 32] = Sha256::digest(bytes).into();
    nextclick::catalog::hex(&d)
}

/// The Subresource Integrity string of `bytes`: `sha384-` and the base64 of its SHA-384.
pub fn sri_sha384(bytes: &[u8]) -> String {
    format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha384::digest(bytes))
    )
}

/// A content-hashed file name: `stem.<first 8 hex digits of the SHA-256>.ext`.
pub fn hashed_name(stem: &str, ext: &str, bytes: &[u8]) -> String {
    format!("{stem}.{}.{ext}", &sha256_hex(bytes)[..8])
}

/// Whether `name` is `stem.<8 hex digits>.ext` (a name [`hashed_name`] gives).
pub fn is_hashed_name(name: &str, stem: &str, ext: &str) -> bool {
    let Some(mid) = name
        .strip_prefix(stem)
        .and_then(|r| r.strip_prefix('.'))
        .and_then(|r| r.strip_suffix(ext))
        .and_then(|r| r.strip_suffix('.'))
    else {
        return false;
    };
    mid.len() == 8 && mid.bytes().all(|c| c.is_ascii_hexdigit())
}

/// One file of the folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the folder, `/`-separated.
    pub path: String,
    /// What it is: `sdk`, `types`, `glue`, `wasm`, `model`, `catalog`, `init`, `snippet`.
    pub role: String,
    /// Size in bytes.
    pub size: u64,
    /// Hex SHA-256.
    pub sha256: String,
    /// Subresource Integrity (`sha384-…`).
    pub integrity: String,
}

impl FileEntry {
    /// The entry of `bytes` written at `path`.
    pub fn of(path: &str, role: &str, bytes: &[u8]) -> FileEntry {
        FileEntry {
            path: path.to_string(),
            role: role.to_string(),
            size: bytes.len() as u64,
            sha256: sha256_hex(bytes),
            integrity: sri_sha384(bytes),
        }
    }
}

/// The model and the catalog, and the binding between them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Binding {
    /// The model file (folder-relative).
    pub model: String,
    /// SHA-256 of the model bytes.
    pub model_sha256: String,
    /// The catalog file (folder-relative).
    pub catalog: String,
    /// The model SHA-256 the catalog names (equal to `model_sha256`: the predictor refuses a mismatch).
    pub catalog_model_sha256: String,
    /// Items in the catalog.
    pub items: usize,
    /// Item vector dimension.
    pub dim: usize,
    /// int8 vectors (else f32).
    pub int8: bool,
    /// The shop head file (folder-relative), learned from the shop's orders (`--orders`), if one ships.
    #[serde(default)]
    pub shop_head: Option<String>,
    /// What the orders gave: the head's held-out figures, or why no head ships.
    #[serde(default)]
    pub shop_head_note: Option<String>,
    /// What the orders gave for `Δf` (`nextclick_model::item_shift`): the shift's held-out figures (the
    /// catalog's vectors are the shifted ones), or why the catalog ships unshifted.
    #[serde(default)]
    pub item_shift_note: Option<String>,
}

/// What the feed held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedSummary {
    /// The feed's file name.
    pub path: String,
    /// SHA-256 of the feed bytes.
    pub sha256: String,
    /// `google-xml`, `google-tsv`, `shopify` or `items`.
    pub format: String,
    /// Records read (rows or XML items).
    pub records: usize,
    /// Items in the catalog.
    pub items: usize,
    /// Bad records skipped (`--skip-bad`), each `at: reason`.
    pub skipped: Vec<String>,
    /// Records left out by rule (Shopify: not active), each `at: reason`.
    pub excluded: Vec<String>,
    /// Currencies of the prices.
    pub currencies: Vec<String>,
}

/// The text embedding step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingSummary {
    /// The text model.
    pub model: String,
    /// SHA-256 of its weights (part of every cache key).
    pub weights_sha256: String,
    /// Items embedded in this build.
    pub embedded: usize,
    /// Items whose embedding came from the cache.
    pub cached: usize,
    /// Seconds spent embedding (loading the text model included), to the millisecond.
    pub seconds: f64,
}

/// Items added, removed, changed and unchanged since the previous build.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    /// Ids new in this build.
    pub added: usize,
    /// Ids of the previous build that are gone.
    pub removed: usize,
    /// Ids in both whose fingerprint differs.
    pub changed: usize,
    /// Ids in both with the same fingerprint.
    pub unchanged: usize,
}

impl std::fmt::Display for Changes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "added {}, removed {}, changed {}, unchanged {}",
            self.added, self.removed, self.changed, self.unchanged
        )
    }
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`].
    pub format: u32,
    /// The nextclick version that built the folder.
    pub nextclick_version: String,
    /// When, RFC 3339 UTC.
    pub created: String,
    /// The URL path the folder is served at (what the snippet's `src`s start with).
    pub base_url: String,
    /// Model, catalog and their binding.
    pub binding: Binding,
    /// The feed.
    pub feed: FeedSummary,
    /// The embedding step.
    pub embedding: EmbeddingSummary,
    /// Changes since the previous build (all added for a first build).
    pub changes: Changes,
    /// Every file of this build (the manifest itself excepted).
    pub files: Vec<FileEntry>,
    /// Hashed files of the previous build kept in the folder (pages cached with its snippet use them).
    pub retained: Vec<String>,
    /// Every item as `[id, fingerprint]`, in catalog order (the next build compares against it).
    pub items: Vec<(String, String)>,
}

impl Manifest {
    /// The entry of the file at `path`.
    pub fn file(&self, path: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.path == path)
    }

    /// The first file with `role`.
    pub fn role(&self, role: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.role == role)
    }
}

/// Counts what changed from `prev` to `now` (`[id, fingerprint]` lists).
pub fn changes(prev: &[(String, String)], now: &[(String, String)]) -> Changes {
    let old: HashMap<&str, &str> = prev.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let mut c = Changes::default();
    let mut seen = 0;
    for (id, fp) in now {
        match old.get(id.as_str()) {
            None => c.added += 1,
            Some(o) => {
                seen += 1;
                if *o == fp.as_str() {
                    c.unchanged += 1
                } else {
                    c.changed += 1
                }
            }
        }
    }
    c.removed = old.len() - seen;
    c
}

/// A short fingerprint (16 hex digits of SHA-256) of an item's fields, each length-prefixed.
pub fn fingerprint(fields: &[&str]) -> String {
    let mut h = Sha256::new();
    for f in fields {
        h.update((f.len() as u64).to_le_bytes());
        h.update(f.as_bytes());
    }
    let d: [u8; 32] = h.finalize().into();
    nextclick::catalog::hex(&d[..8])
}

/// `t` as RFC 3339 UTC with seconds (`2026-12-03T05:50:00Z`).
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // civil from days (H. Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `s` as a JavaScript / JSON string literal.
fn js(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// The init module: calls `nextclick("init", …)` with the model, catalog and glue URLs relative to the
/// module's own URL (the folder can be served at any path) and their SRI hashes and SHA-256 pins.
pub fn init_module(
    binding: &Binding,
    wasm: &FileEntry,
    model: &FileEntry,
    catalog: &FileEntry,
    shop_head: Option<&FileEntry>,
) -> String {
    let (head_url, head_sri) = match shop_head {
        Some(h) => (
            format!("  shopHead: new URL({}, here).href,\n", js(&h.path)),
            format!(", shopHead: {}", js(&h.integrity)),
        ),
        None => (String::new(), String::new()),
    };
    format!(
        "// nextclick init, written by `nextclick shop build` for {catalog_file} ({items} items) and \
         {model_file}.\n\
         // Do not edit: the next build writes a new one. The shop's own script may call\n\
         // nextclick(\"consent\", …), nextclick(\"onPrediction\", …), nextclick(\"predict\", k) — but not \"init\" again.\n\
         const here = new URL(\"./\", import.meta.url);\n\
         if (typeof window.nextclick !== \"function\") {{\n  \
         throw new Error(\"nextclick: load sdk/loader.js before this module (see snippet.html)\");\n\
         }}\n\
         window.nextclick(\"init\", {{\n  \
         model: new URL({model_js}, here).href,\n  \
         catalog: new URL({catalog_js}, here).href,\n\
         {head_url}  \
         glue: new URL(\"pkg/nextclick.js\", here).href,\n  \
         integrity: {{ wasm: {wasm_sri}, model: {model_sri}, catalog: {catalog_sri}{head_sri} }},\n  \
         options: {{ modelSha256: {model_sha}, catalogSha256: {catalog_sha} }},\n\
         }});\n",
        catalog_file = binding.catalog,
        items = binding.items,
        model_file = binding.model,
        model_js = js(&binding.model),
        catalog_js = js(&binding.catalog),
        wasm_sri = js(&wasm.integrity),
        model_sri = js(&model.integrity),
        catalog_sri = js(&catalog.integrity),
        model_sha = js(&model.sha256),
        catalog_sha = js(&catalog.sha256),
    )
}

/// The import map that pins the ES modules the loader imports (optional; an inline script, so a strict
/// CSP must allow it by the `'sha256-…'` hash this returns beside it).
pub fn import_map(base_url: &str, files: &[FileEntry]) -> (String, String) {
    let mut entries = Vec::new();
    for f in files {
        let module = f.path.ends_with(".js")
            && (f.role == "glue"
                || (f.role == "sdk" && f.path != "sdk/loader.js")
                || f.role == "init");
        if module {
            entries.push(format!(
                "{}: {}",
                js(&format!("{base_url}{}", f.path)),
                js(&f.integrity)
            ));
        }
    }
    let text = format!("{{\"integrity\": {{{}}}}}", entries.join(", "));
    let d = Sha256::digest(text.as_bytes());
    let csp = format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(d)
    );
    (text, csp)
}

/// `snippet.html`: the tags to paste into the shop's `<head>` (no inline script), and, commented out, the
/// optional import map with the CSP source that allows it.
pub fn snippet(
    base_url: &str,
    loader: &FileEntry,
    init: &FileEntry,
    files: &[FileEntry],
) -> String {
    let (map, csp) = import_map(base_url, files);
    format!(
        "<!-- nextclick, built by `nextclick shop build`: paste into the <head> of every page, before your own\n     \
         scripts. The folder must be served from the shop's own origin at {base_url} (the runtime's worker and\n     \
         fetches are same-origin). Your scripts use window.nextclick(\"consent\", …), (\"predict\", k), … -->\n\
         <script src=\"{base_url}{loader}\" integrity=\"{loader_sri}\" crossorigin=\"anonymous\"></script>\n\
         <script type=\"module\" src=\"{base_url}{init}\" integrity=\"{init_sri}\" crossorigin=\"anonymous\"></script>\n\
         <!-- Optional, for browsers that check module imports (Chromium 127+, Firefox 138+, Safari 18+): this import\n     \
         map pins the modules the loader imports. It is an inline script: put it *before* the two tags above and\n     \
         allow it in your Content-Security-Policy with script-src {csp}\n\
         <script type=\"importmap\">{map}</script>\n\
         -->\n",
        loader = loader.path,
        loader_sri = loader.integrity,
        init = init.path,
        init_sri = init.integrity,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sri_and_hashes_of_known_bytes() {
        // echo -n abc | openssl dgst -sha384 -binary | base64
        assert_eq!(
            sri_sha384(b"abc"),
            "sha384-ywB1P0WjXou1oD1pmsZQBycsMqsO3tFjGotgWkP/W+2AhgcroefMI1i67KE0yCWn"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let n = hashed_name("catalog", "bin", b"abc");
        assert_eq!(n, "catalog.ba7816bf.bin");
        assert!(is_hashed_name(&n, "catalog", "bin"));
        assert!(!is_hashed_name("catalog.bin", "catalog", "bin"));
        assert!(!is_hashed_name("catalog.ba7816bg.bin", "catalog", "bin"));
        assert!(!is_hashed_name("my.catalog.ba7816bf.bin", "catalog", "bin"));
    }

    #[test]
    fn changes_count_each_kind() {
        let l = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let prev = l(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]);
        let now = l(&[("a", "1"), ("b", "x"), ("c", "3"), ("e", "5")]);
        assert_eq!(
            changes(&prev, &now),
            Changes {
                added: 1,
                removed: 1,
                changed: 1,
                unchanged: 2
            }
        );
        assert_eq!(changes(&[], &now).added, 4);
        assert_ne!(fingerprint(&["ab", "c"]), fingerprint(&["a", "bc"]));
    }

    #[test]
    fn rfc3339_dates() {
        let t = |s: u64| rfc3339(UNIX_EPOCH + std::time::Duration::from_secs(s));
        assert_eq!(t(0), "1970-01-01T00:00:00Z");
        assert_eq!(t(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(t(1_796_276_999), "2026-12-03T05:49:59Z");
    }
}
