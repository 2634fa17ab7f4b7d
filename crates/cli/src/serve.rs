//! `nextclick serve`: a small static file server for the demo shop and local testing.
//!
//! * static files under `--root` with correct MIME types (`application/wasm`, `text/javascript`, …);
//! * a strict Content-Security-Policy on every response (no inline script, no `eval`; only
//!   `'wasm-unsafe-eval'` so WebAssembly can compile) and `X-Content-Type-Options: nosniff`;
//! * no directory traversal: `..`, dot-files, backslashes and NUL are refused, and the resolved path must
//!   stay inside the root after symlinks are resolved;
//! * binds `127.0.0.1` by default and prints the URL;
//! * when `<root>/demo/products.csv` and `<root>/demo/layout.html` exist, renders the demo shop's pages
//!   (`/`, `/c/<category>[/<page>]`, `/p/<id>`) and product images (`/img/<id>.svg`) from them, so the
//!   ~2,000 product pages are not committed as files;
//! * `--models <dir>` is mounted read-only at `/models/` (flat: file names only).
//!
//! One thread per connection, `Connection: close`; GET and HEAD only. This is a development server,
//! not a production one.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::demo::{self, Product};

/// The Content-Security-Policy sent with every response: no inline script at all (not even speculation
/// rules: the demo's prefetch rules come from [`SPECULATION_RULES`], a same-origin file).
pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
worker-src 'self'; connect-src 'self'; img-src 'self'; style-src 'self'; font-src 'self'; object-src 'none'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Where the demo's speculation rules live under the root (a document rule: Chromium prefetches the links
/// marked `data-nc-prefetch`). When the file exists, every HTML response names it in a
/// `Speculation-Rules` header; browsers without speculation rules ignore the header.
pub const SPECULATION_RULES: &str = "demo/prefetch.speculationrules";

/// Largest request head accepted, in bytes.
const MAX_HEAD: usize = 16 * 1024;
/// Products per category page.
const PAGE_SIZE: usize = 48;

/// Arguments of `serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Folder to serve.
    #[arg(long, default_value = "www")]
    pub root: PathBuf,
    /// Address to bind (loopback by default; anything else exposes the server to the network).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port (0 = any free port; the URL printed says which).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Folder mounted at /models/ (model, card and catalog files).
    #[arg(long, default_value = "models")]
    pub models: PathBuf,
    /// Folder mounted at /sdk/: the npm package's SDK modules (the demo's pages load `/sdk/loader.js`,
    /// which finds the wasm at `/pkg/`, under the root). Served only if it exists.
    #[arg(long, default_value = "packages/nextclick/sdk")]
    pub sdk: PathBuf,
}

/// The demo shop's data, loaded once at start.
struct Shop {
    products: Vec<Product>,
    by_id: BTreeMap<String, usize>,
    layout: String,
}

struct State {
    root: PathBuf,
    models: Option<PathBuf>,
    sdk: Option<PathBuf>,
    shop: Option<Shop>,
}

/// A bound server, ready to [`run`](Server::run).
pub struct Server {
    listener: TcpListener,
    state: Arc<State>,
}

impl Server {
    /// Binds the address and loads the demo shop (if present under the root).
    pub fn bind(a: &ServeArgs) -> Result<Server> {
        let root = a
            .root
            .canonicalize()
            .with_context(|| format!("root {} does not exist", a.root.display()))?;
        let models = a.models.canonicalize().ok().filter(|p| p.is_dir());
        let sdk = a.sdk.canonicalize().ok().filter(|p| p.is_dir());
        let items = root.join("demo/products.csv");
        let layout = root.join("demo/layout.html");
        let shop = if items.is_file() && layout.is_file() {
            let products = demo::read_items_csv(&items)?;
            let by_id = products
                .iter()
                .enumerate()
                .map(|(i, p)| (p.id.clone(), i))
                .collect();
            Some(Shop {
                products,
                by_id,
                layout: std::fs::read_to_string(&layout)?,
            })
        } else {
            None
        };
        let listener = TcpListener::bind((a.host.as_str(), a.port))
            .with_context(|| format!("cannot bind {}:{}", a.host, a.port))?;
        Ok(Server {
            listener,
            state: Arc::new(State {
                root,
                models,
                sdk,
                shop,
            }),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves forever, one thread per connection.
    pub fn run(self) -> Result<()> {
        for conn in self.listener.incoming() {
            let Ok(stream) = conn else { continue };
            let state = Arc::clone(&self.state);
            std::thread::spawn(move || {
                let _ = handle(stream, &state);
            });
        }
        Ok(())
    }
}

/// Runs `serve`: binds, prints the URL, serves until killed.
pub fn run(a: ServeArgs) -> Result<()> {
    let server = Server::bind(&a)?;
    let addr = server.addr()?;
    if !addr.ip().is_loopback() {
        eprintln!(
            "nextclick serve: warning: {} is not a loopback address; the server is reachable from the network",
            addr.ip()
        );
    }
    let shop = server
        .state
        .shop
        .as_ref()
        .map(|s| s.products.len())
        .unwrap_or(0);
    println!(
        "nextclick serve: {} on http://{addr}/ ({shop} demo products)",
        server.state.root.display()
    );
    std::io::stdout().flush()?;
    server.run()
}

/// One response.
struct Response {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    /// `Content-Range` of a 206 / 416 answer to a Range request.
    content_range: Option<String>,
}

impl Response {
    fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            content_type,
            body: body.into(),
            content_range: None,
        }
    }

    /// This 200 response cut to the single byte range `spec` asks for (`bytes=a-b`, `bytes=a-`,
    /// `bytes=-n`): 206 with the part, 416 when it is outside the body. Other answers, and range specs
    /// this server does not read (several ranges), are left whole, as RFC 9110 allows.
    fn ranged(self, spec: Option<&str>) -> Response {
        let Some(spec) = spec else { return self };
        if self.status != 200 {
            return self;
        }
        let len = self.body.len();
        let Some(r) = spec.trim().strip_prefix("bytes=") else {
            return self;
        };
        if r.contains(',') {
            return self;
        }
        let Some((a, b)) = r.split_once('-') else {
            return self;
        };
        let (a, b) = (a.trim(), b.trim());
        let range = match (a.parse::<usize>(), b.parse::<usize>()) {
            (Ok(a), Ok(b)) if a <= b => Some((a, b.min(len.saturating_sub(1)))),
            (Ok(a), Err(_)) if b.is_empty() => Some((a, len.saturating_sub(1))),
            (Err(_), Ok(n)) if a.is_empty() && n > 0 => {
                Some((len.saturating_sub(n), len.saturating_sub(1)))
            }
            _ => return self,
        };
        match range {
            Some((a, b)) if a < len && a <= b => Response {
                status: 206,
                content_range: Some(format!("bytes {a}-{b}/{len}")),
                body: self.body[a..=b].to_vec(),
                ..self
            },
            _ => Response {
                content_range: Some(format!("bytes */{len}")),
                ..Response::error(416)
            },
        }
    }
    fn error(status: u16) -> Response {
        Response::new(
            status,
            "text/plain; charset=utf-8",
            format!("{status} {}\n", reason(status)),
        )
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        416 => "Range Not Satisfiable",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Internal Server Error",
    }
}

fn handle(stream: TcpStream, state: &State) -> Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut head = Vec::new();
    // read the request head, line by line, up to MAX_HEAD bytes
    let response_and_method = loop {
        let mut line = Vec::new();
        let n = reader
            .by_ref()
            .take((MAX_HEAD - head.len()) as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&line);
        if head.len() > MAX_HEAD {
            break (Response::error(431), String::new());
        }
        if line == b"\r\n" || line == b"\n" {
            let text = String::from_utf8_lossy(&head);
            let mut parts = text.lines().next().unwrap_or("").split_whitespace();
            let (method, target) = (
                parts.next().unwrap_or("").to_string(),
                parts.next().unwrap_or(""),
            );
            let range = text.lines().skip(1).find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("range")
                    .then(|| v.trim().to_string())
            });
            let resp = match method.as_str() {
                "GET" | "HEAD" => route(target, state).ranged(range.as_deref()),
                _ => Response::error(405),
            };
            break (resp, method);
        }
    };
    let (resp, method) = response_and_method;
    let rules =
        resp.content_type.starts_with("text/html") && state.root.join(SPECULATION_RULES).is_file();
    write_response(stream, &resp, method == "HEAD", rules)
}

fn write_response(
    mut stream: TcpStream,
    r: &Response,
    head_only: bool,
    speculation_rules: bool,
) -> Result<()> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nContent-Security-Policy: {CSP}\r\n\
X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\nCross-Origin-Opener-Policy: same-origin\r\n\
Cross-Origin-Resource-Policy: same-origin\r\nPermissions-Policy: interest-cohort=(), browsing-topics=()\r\n\
Cache-Control: no-cache\r\nConnection: close\r\n",
        r.status,
        reason(r.status),
        r.content_type,
        r.body.len()
    );
    if r.status == 405 {
        out.push_str("Allow: GET, HEAD\r\n");
    }
    if r.status == 200 || r.status == 206 {
        out.push_str("Accept-Ranges: bytes\r\n");
    }
    if let Some(cr) = &r.content_range {
        out.push_str(&format!("Content-Range: {cr}\r\n"));
    }
    if speculation_rules {
        out.push_str(&format!("Speculation-Rules: \"/{SPECULATION_RULES}\"\r\n"));
    }
    out.push_str("\r\n");
    stream.write_all(out.as_bytes())?;
    if !head_only {
        stream.write_all(&r.body)?;
    }
    stream.flush()?;
    Ok(())
}

/// MIME type of a file name (by extension).
pub fn mime(path: &str) -> &'static str {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "speculationrules" => "application/speculationrules+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "txt" | "md" | "ts" => "text/plain; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Decodes `%XX` escapes; `None` for malformed escapes or non-UTF-8 results.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The safe path segments of a request target, or `None` if the path must be refused.
fn segments(target: &str) -> Option<Vec<String>> {
    let path = target.split(['?', '#']).next()?;
    if !path.starts_with('/') {
        return None;
    }
    let decoded = percent_decode(path)?;
    if decoded.contains(['\\', '\0']) {
        return None;
    }
    let segs: Vec<String> = decoded
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if segs.iter().any(|s| s.starts_with('.') || s.contains(':')) {
        return None; // `..`, `.`, dot-files (.git, .env) and drive letters
    }
    Some(segs)
}

fn route(target: &str, state: &State) -> Response {
    let Some(segs) = segments(target) else {
        return Response::error(400);
    };
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    if let Some(shop) = &state.shop {
        match s.as_slice() {
            [] => return shop.home(),
            ["c", cat] => return shop.category(cat, 1),
            ["c", cat, page] => {
                return page
                    .parse()
                    .map(|p| shop.category(cat, p))
                    .unwrap_or(Response::error(404))
            }
            ["p", id] => return shop.product(id),
            ["img", file] if file.ends_with(".svg") => {
                return shop.image(file.trim_end_matches(".svg"))
            }
            _ => {}
        }
    }
    if let (Some(models), ["models", file]) = (&state.models, s.as_slice()) {
        return file_response(models, &[file.to_string()]);
    }
    if let (Some(sdk), ["sdk", rest @ ..]) = (&state.sdk, s.as_slice()) {
        if !rest.is_empty() {
            return file_response(sdk, &segs[1..]);
        }
    }
    file_response(&state.root, &segs)
}

/// Serves `root/segs…` (or its `index.html`), refusing anything that resolves outside `root`.
fn file_response(root: &Path, segs: &[String]) -> Response {
    let mut p = root.to_path_buf();
    p.extend(segs);
    let Ok(mut real) = p.canonicalize() else {
        return Response::error(404);
    };
    if !real.starts_with(root) {
        return Response::error(404);
    }
    if real.is_dir() {
        real.push("index.html");
    }
    match std::fs::read(&real) {
        Ok(body) => Response::new(200, mime(&real.to_string_lossy()), body),
        Err(_) => Response::error(404),
    }
}

/// HTML-escapes text for element content and double-quoted attributes.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn price(p: f64) -> String {
    format!("€{p:.2}")
}

impl Shop {
    fn page(&self, title: &str, kind: &str, main: &str) -> Response {
        let nav: String = demo::category_slugs()
            .iter()
            .map(|c| format!("<a href=\"/c/{c}\">{}</a>", esc(&demo::category_name(c))))
            .collect();
        let html = self
            .layout
            .replace("{{title}}", &esc(title))
            .replace("{{page}}", kind)
            .replace("{{nav}}", &nav)
            .replace("{{main}}", main);
        Response::new(200, "text/html; charset=utf-8", html)
    }

    fn card(p: &Product) -> String {
        format!(
            "<a class=\"card\" href=\"/p/{id}\" data-nextclick-item=\"{id}\"><img src=\"/img/{id}.svg\" alt=\"\" \
width=\"160\" height=\"120\" loading=\"lazy\"><span class=\"card-title\">{t}</span><span class=\"card-price\">{pr}</span></a>",
            id = esc(&p.id),
            t = esc(&p.title),
            pr = price(p.price)
        )
    }

    fn grid<'a>(items: impl Iterator<Item = &'a Product>) -> String {
        format!(
            "<div class=\"grid\">{}</div>",
            items.map(Shop::card).collect::<String>()
        )
    }

    fn home(&self) -> Response {
        let cats: String = demo::category_slugs()
            .iter()
            .map(|c| {
                format!(
                    "<li><a href=\"/c/{c}\">{}</a></li>",
                    esc(&demo::category_name(c))
                )
            })
            .collect();
        // a deterministic "featured" selection: two per category
        let featured = Shop::grid(self.products.iter().step_by(97).take(20));
        let main = format!(
            "<section class=\"hero\"><h1>Nextclick Outfitters</h1><p>A demo shop with {} generated products. \
Browse around: the strip below predicts what you may click next, computed in this page — nothing is sent \
anywhere.</p></section><nav class=\"categories\"><h2>Categories</h2><ul>{cats}</ul></nav><h2>Featured</h2>{featured}",
            self.products.len()
        );
        self.page("Nextclick Outfitters", "home", &main)
    }

    fn category(&self, slug: &str, page: usize) -> Response {
        let items: Vec<&Product> = self
            .products
            .iter()
            .filter(|p| p.category == slug)
            .collect();
        let pages = items.len().div_ceil(PAGE_SIZE);
        if items.is_empty() || page == 0 || page > pages {
            return Response::error(404);
        }
        let name = demo::category_name(slug);
        let grid = Shop::grid(
            items
                .iter()
                .copied()
                .skip((page - 1) * PAGE_SIZE)
                .take(PAGE_SIZE),
        );
        let pager: String = (1..=pages)
            .map(|n| {
                if n == page {
                    format!("<span aria-current=\"page\">{n}</span>")
                } else {
                    format!("<a href=\"/c/{slug}/{n}\">{n}</a>")
                }
            })
            .collect();
        let main = format!(
            "<h1 data-nextclick-category=\"{s}\">{n}</h1><p>{count} products</p>{grid}<nav class=\"pager\">{pager}</nav>",
            s = esc(slug),
            n = esc(&name),
            count = items.len()
        );
        self.page(&format!("{name} — Nextclick Outfitters"), "category", &main)
    }

    fn product(&self, id: &str) -> Response {
        let Some(&i) = self.by_id.get(id) else {
            return Response::error(404);
        };
        let p = &self.products[i];
        // related: same product type first, then same category, excluding the product itself
        let mut related: Vec<&Product> = self
            .products
            .iter()
            .filter(|q| q.kind == p.kind && q.id != p.id)
            .take(6)
            .collect();
        related.extend(
            self.products
                .iter()
                .filter(|q| q.category == p.category && q.kind != p.kind)
                .take(12 - related.len()),
        );
        let main = format!(
            "<article class=\"product\" data-nextclick-product=\"{id}\" data-price=\"{raw:.2}\"><img src=\"/img/{id}.svg\" alt=\"\" width=\"320\" height=\"240\"><div class=\"product-info\">\
<p class=\"crumbs\"><a href=\"/c/{cat}\">{catname}</a></p><h1>{t}</h1><p class=\"brand\">{b}</p><p class=\"price\">{pr}</p>\
<button type=\"button\" class=\"add-to-cart\" data-item=\"{id}\">Add to cart</button> \
<button type=\"button\" class=\"buy-now\" data-item=\"{id}\">Buy now</button></div></article>\
<h2>You might also like</h2>{grid}",
            id = esc(&p.id),
            raw = p.price,
            cat = esc(&p.category),
            catname = esc(&demo::category_name(&p.category)),
            t = esc(&p.title),
            b = esc(&p.brand),
            pr = price(p.price),
            grid = Shop::grid(related.into_iter())
        );
        self.page(
            &format!("{} — Nextclick Outfitters", p.title),
            "product",
            &main,
        )
    }

    fn image(&self, id: &str) -> Response {
        let Some(&i) = self.by_id.get(id) else {
            return Response::error(404);
        };
        Response::new(200, "image/svg+xml", product_svg(&self.products[i]))
    }
}

/// A simple generated product image: a category-coloured tile with the product type's initials.
pub fn product_svg(p: &Product) -> String {
    let h = nextclick::catalog::sha256(p.category.as_bytes());
    let hue = u16::from_le_bytes([h[0], h[1]]) % 360;
    let k = nextclick::catalog::sha256(p.id.as_bytes());
    let hue2 = (hue + 20 + (k[0] as u16 % 40)) % 360;
    let initials: String = p
        .kind
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(3)
        .collect();
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 160 120\" width=\"160\" height=\"120\">\
<defs><linearGradient id=\"g\" x1=\"0\" y1=\"0\" x2=\"1\" y2=\"1\"><stop offset=\"0\" stop-color=\"hsl({hue},55%,62%)\"/>\
<stop offset=\"1\" stop-color=\"hsl({hue2},60%,38%)\"/></linearGradient></defs><rect width=\"160\" height=\"120\" rx=\"10\" fill=\"url(#g)\"/>\
<circle cx=\"{cx}\" cy=\"{cy}\" r=\"{r}\" fill=\"#fff\" fill-opacity=\".18\"/>\
<text x=\"80\" y=\"70\" font-family=\"sans-serif\" font-size=\"34\" font-weight=\"700\" fill=\"#fff\" text-anchor=\"middle\">{i}</text>\
<text x=\"80\" y=\"104\" font-family=\"sans-serif\" font-size=\"11\" fill=\"#fff\" fill-opacity=\".85\" text-anchor=\"middle\">{b}</text></svg>",
        cx = 30 + k[1] as u32 % 100,
        cy = 20 + k[2] as u32 % 60,
        r = 18 + k[3] as u32 % 30,
        i = esc(&initials),
        b = esc(&p.brand)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(addr: SocketAddr, req: &str) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn serves_files_with_mime_and_headers_and_refuses_traversal() {
        let dir = std::env::temp_dir().join(format!("nextclick-serve-{}", std::process::id()));
        let root = dir.join("www");
        std::fs::create_dir_all(root.join("pkg")).unwrap();
        std::fs::write(root.join("pkg/a.wasm"), b"\0asm").unwrap();
        std::fs::write(root.join("a.js"), b"export {}").unwrap();
        std::fs::write(root.join("index.html"), b"<p>hi</p>").unwrap();
        std::fs::write(dir.join("secret.txt"), b"secret").unwrap();
        std::fs::write(root.join(".env"), b"secret").unwrap();
        let sdk = dir.join("sdk");
        std::fs::create_dir_all(&sdk).unwrap();
        std::fs::write(sdk.join("loader.js"), b"/* loader */").unwrap();
        let args = ServeArgs {
            root: root.clone(),
            host: "127.0.0.1".into(),
            port: 0,
            models: dir.join("none"),
            sdk: sdk.clone(),
        };
        let server = Server::bind(&args).unwrap();
        let addr = server.addr().unwrap();
        std::thread::spawn(move || server.run());

        // single byte ranges (a split catalog's chunks): 206 with Content-Range; outside the body 416
        let r = get(addr, "GET /a.js HTTP/1.1\r\nRange: bytes=2-4\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 206 "), "{r}");
        assert!(
            r.contains("Content-Range: bytes 2-4/9\r\n") && r.ends_with("\r\n\r\npor"),
            "{r}"
        );
        let r = get(addr, "GET /a.js HTTP/1.1\r\nrange: bytes=-3\r\n\r\n");
        assert!(r.ends_with("\r\n\r\n {}"), "{r}");
        let r = get(addr, "GET /a.js HTTP/1.1\r\nRange: bytes=9-12\r\n\r\n");
        assert!(
            r.starts_with("HTTP/1.1 416 ") && r.contains("Content-Range: bytes */9\r\n"),
            "{r}"
        );
        let r = get(addr, "GET /a.js HTTP/1.1\r\n\r\n");
        assert!(
            r.starts_with("HTTP/1.1 200 ") && r.contains("Accept-Ranges: bytes\r\n"),
            "{r}"
        );
        let r = get(addr, "GET /a.js HTTP/1.1\r\nRange: bytes=0-1,4-5\r\n\r\n");
        assert!(
            r.starts_with("HTTP/1.1 200 "),
            "several ranges: the whole file, {r}"
        );

        let r = get(addr, "GET /pkg/a.wasm HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        assert!(r.contains("Content-Type: application/wasm\r\n"));
        assert!(r.contains("X-Content-Type-Options: nosniff\r\n"));
        assert!(r.contains(
            "Content-Security-Policy: default-src 'self'; script-src 'self' 'wasm-unsafe-eval'"
        ));
        assert!(
            get(addr, "GET /a.js?v=1 HTTP/1.1\r\n\r\n").contains("Content-Type: text/javascript")
        );
        let page = get(addr, "GET / HTTP/1.1\r\n\r\n");
        assert!(page.ends_with("<p>hi</p>"));
        assert!(!page.contains("inline-speculation-rules"), "{page}");
        assert!(
            !page.contains("Speculation-Rules:"),
            "no rules file, no header: {page}"
        );
        // the SDK folder is mounted at /sdk/ (outside the root), confined like the root
        let r = get(addr, "GET /sdk/loader.js HTTP/1.1\r\n\r\n");
        assert!(
            r.starts_with("HTTP/1.1 200") && r.ends_with("/* loader */"),
            "{r}"
        );
        assert!(r.contains("Content-Type: text/javascript"), "{r}");
        for bad in [
            "/sdk/../secret.txt",
            "/sdk/..%2fsecret.txt",
            "/../secret.txt",
            "/%2e%2e/secret.txt",
            "/pkg/..%2f..%2fsecret.txt",
            "/.env",
            "/a%00.js",
            "/..\\secret.txt",
        ] {
            let r = get(addr, &format!("GET {bad} HTTP/1.1\r\n\r\n"));
            assert!(
                !r.contains("secret") || r.starts_with("HTTP/1.1 4"),
                "{bad}: {r}"
            );
            assert!(
                r.starts_with("HTTP/1.1 400") || r.starts_with("HTTP/1.1 404"),
                "{bad}: {r}"
            );
        }
        assert!(
            get(addr, "POST /a.js HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
                .starts_with("HTTP/1.1 405")
        );
        // with the rules file: HTML pages name it, other responses do not; it is served as speculation rules
        std::fs::create_dir_all(root.join("demo")).unwrap();
        std::fs::write(root.join(SPECULATION_RULES), b"{}").unwrap();
        let page = get(addr, "GET / HTTP/1.1\r\n\r\n");
        assert!(
            page.contains("Speculation-Rules: \"/demo/prefetch.speculationrules\"\r\n"),
            "{page}"
        );
        assert!(!get(addr, "GET /a.js HTTP/1.1\r\n\r\n").contains("Speculation-Rules"));
        assert!(
            get(addr, &format!("GET /{SPECULATION_RULES} HTTP/1.1\r\n\r\n"))
                .contains("Content-Type: application/speculationrules+json\r\n")
        );
        let head = get(addr, "HEAD /a.js HTTP/1.1\r\n\r\n");
        assert!(head.starts_with("HTTP/1.1 200") && head.ends_with("\r\n\r\n"));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn renders_the_demo_shop_from_items_csv() {
        let dir = std::env::temp_dir().join(format!("nextclick-shop-{}", std::process::id()));
        let root = dir.join("www");
        std::fs::create_dir_all(root.join("demo")).unwrap();
        let products = demo::generate(120, 6);
        demo::write_items_csv(&products, &root.join("demo/products.csv")).unwrap();
        std::fs::write(
            root.join("demo/layout.html"),
            "<title>{{title}}</title><body data-page=\"{{page}}\">{{nav}}<main>{{main}}</main>",
        )
        .unwrap();
        let args = ServeArgs {
            root,
            host: "127.0.0.1".into(),
            port: 0,
            models: dir.join("none"),
            sdk: dir.join("none"),
        };
        let server = Server::bind(&args).unwrap();
        let addr = server.addr().unwrap();
        std::thread::spawn(move || server.run());

        let home = get(addr, "GET / HTTP/1.1\r\n\r\n");
        assert!(
            home.starts_with("HTTP/1.1 200") && home.contains("data-page=\"home\""),
            "{home}"
        );
        assert!(home.contains("href=\"/c/running\""));
        let cat = get(addr, "GET /c/running HTTP/1.1\r\n\r\n");
        assert!(
            cat.contains("data-nextclick-item=\"p-0001\"") && cat.contains("12 products"),
            "{cat}"
        );
        let p = &products[3];
        let page = get(addr, &format!("GET /p/{} HTTP/1.1\r\n\r\n", p.id));
        assert!(page.contains(&format!("data-nextclick-product=\"{}\"", p.id)));
        assert!(
            page.contains(&esc(&p.title)),
            "titles are escaped (Hearth &amp; Co)"
        );
        let svg = get(addr, "GET /img/p-0001.svg HTTP/1.1\r\n\r\n");
        assert!(svg.contains("Content-Type: image/svg+xml") && svg.contains("<svg"));
        for missing in [
            "/p/p-9999",
            "/c/running/9",
            "/c/running/0",
            "/c/nope",
            "/img/p-9999.svg",
        ] {
            assert!(
                get(addr, &format!("GET {missing} HTTP/1.1\r\n\r\n")).starts_with("HTTP/1.1 404"),
                "{missing}"
            );
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
