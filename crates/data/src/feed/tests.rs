//! Feed readers on small feeds written by the tests themselves.

use super::*;

fn feed(name: &str, text: &str, opts: ReadOptions) -> Result<Feed> {
    read_bytes(Path::new(name), text.as_bytes(), opts)
}

fn ok(name: &str, text: &str) -> Feed {
    feed(name, text, ReadOptions::default()).unwrap_or_else(|e| panic!("{e:#}"))
}

fn err(name: &str, text: &str) -> String {
    format!(
        "{:#}",
        feed(name, text, ReadOptions::default()).unwrap_err()
    )
}

fn skipping(name: &str, text: &str) -> Feed {
    feed(
        name,
        text,
        ReadOptions {
            format: None,
            skip_bad: true,
        },
    )
    .unwrap_or_else(|e| panic!("{e:#}"))
}

const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:g="http://base.google.com/ns/1.0">
<channel>
  <title>Shop</title>
  <link>https://shop.example</link>
  <item>
    <g:id>SKU-1</g:id>
    <title>Wanderschuh „Alpen“ für Damen – Größe 38</title>
    <description><![CDATA[<p>Leicht & wasserdicht</p>]]></description>
    <link>https://shop.example/p/sku-1?a=1&amp;b=2</link>
    <g:image_link>https://shop.example/i/1.jpg</g:image_link>
    <g:price>129,90 EUR</g:price>
    <g:sale_price>99.90 EUR</g:sale_price>
    <g:brand>Bergfreund</g:brand>
    <g:google_product_category>187</g:google_product_category>
    <g:product_type>Schuhe &gt; Wanderschuhe</g:product_type>
    <g:availability>in stock</g:availability>
    <g:item_group_id>ALPEN</g:item_group_id>
    <g:shipping><g:country>DE</g:country><g:price>4.95 EUR</g:price></g:shipping>
  </item>
  <item>
    <g:id>SKU-2</g:id>
    <g:title>抹茶 茶碗 &#x2014; 手作り</g:title>
    <title>ignored: g:title wins</title>
    <g:price>3 500 JPY</g:price>
    <g:google_product_category>Home &amp; Garden &gt; Kitchen</g:google_product_category>
    <g:availability>out_of_stock</g:availability>
  </item>
</channel>
</rss>
"#;

#[test]
fn rss_reads_g_attributes_prices_and_non_english_text() {
    let f = ok("feed.xml", RSS);
    assert_eq!(f.format, Format::GoogleXml);
    assert_eq!(f.records, 2);
    let a = &f.items[0];
    assert_eq!(a.item.id, "SKU-1");
    assert_eq!(a.item.title, "Wanderschuh „Alpen“ für Damen – Größe 38");
    assert_eq!(
        a.item.category, "Schuhe > Wanderschuhe",
        "product_type first"
    );
    assert_eq!(a.item.brand, "Bergfreund");
    assert_eq!(
        a.item.price,
        Some(129.9),
        "the regular price, not g:shipping's"
    );
    assert_eq!(a.sale_price, Some(99.9));
    assert_eq!(a.display_price(), Some(99.9));
    assert_eq!(a.currency, "EUR");
    assert_eq!(a.link, "https://shop.example/p/sku-1?a=1&b=2");
    assert_eq!(a.image, "https://shop.example/i/1.jpg");
    assert_eq!(a.availability, "in_stock");
    assert_eq!(a.group_id, "ALPEN");
    let b = &f.items[1];
    assert_eq!(b.item.title, "抹茶 茶碗 — 手作り");
    assert_eq!(b.item.category, "Home & Garden > Kitchen");
    assert_eq!(b.item.price, Some(3500.0));
    assert_eq!(b.currency, "JPY");
    assert_eq!(f.currencies(), vec!["EUR", "JPY"]);
}

#[test]
fn atom_with_another_prefix_and_link_href() {
    let atom = r#"<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:gg="http://base.google.com/ns/1.0">
  <title>Boutique</title>
  <entry>
    <gg:id>fr-1</gg:id>
    <title>Pull en laine mérinos, coloris bleu nuit</title>
    <link href="https://boutique.example/pull-bleu" rel="alternate"/>
    <gg:price>59.00 EUR</gg:price>
    <gg:brand>Maison Éclair</gg:brand>
    <gg:google_product_category>Vêtements &gt; Pulls</gg:google_product_category>
    <x:id xmlns:x="urn:other">not-an-id</x:id>
  </entry>
</feed>"#;
    let f = ok("feed.atom", atom);
    assert_eq!(f.format, Format::GoogleXml);
    let a = &f.items[0];
    assert_eq!(a.item.id, "fr-1");
    assert_eq!(a.item.title, "Pull en laine mérinos, coloris bleu nuit");
    assert_eq!(a.link, "https://boutique.example/pull-bleu");
    assert_eq!(a.item.brand, "Maison Éclair");
    assert_eq!(a.item.category, "Vêtements > Pulls");
    assert_eq!(a.item.price, Some(59.0));
}

#[test]
fn xml_errors_name_file_line_item_and_id() {
    // not well-formed: an error naming the line, whatever the policy
    let bad = "<rss xmlns:g=\"http://base.google.com/ns/1.0\"><channel>\n<item><g:id>a</g:id>\n<title>x</titel>\n</item></channel></rss>";
    let e = err("broken.xml", bad);
    assert!(e.contains("broken.xml: line 3: not well-formed XML"), "{e}");
    let e = format!(
        "{:#}",
        feed(
            "broken.xml",
            bad,
            ReadOptions {
                format: None,
                skip_bad: true
            }
        )
        .unwrap_err()
    );
    assert!(e.contains("not well-formed"), "{e}");
    // an HTML entity is not XML
    let e = err(
        "ent.xml",
        "<rss><channel><item><g:id xmlns:g=\"http://base.google.com/ns/1.0\">a</g:id><title>caf&eacute;</title></item></channel></rss>",
    );
    assert!(e.contains("unknown entity &eacute;"), "{e}");
    // a record without an id or a bad price: the item's index, line and id
    let two = r#"<rss xmlns:g="http://base.google.com/ns/1.0"><channel>
<item><title>no id here</title></item>
<item><g:id>b</g:id><title>B</title><g:price>cheap</g:price></item>
<item><g:id>c</g:id><title>C</title><g:price>1.00 USD</g:price></item>
</channel></rss>"#;
    let e = err("two.xml", two);
    assert!(e.contains("two.xml: item 1 (line 2): no id"), "{e}");
    assert!(e.contains("--skip-bad"), "{e}");
    let f = skipping("two.xml", two);
    assert_eq!(f.items.len(), 1);
    assert_eq!(f.items[0].item.id, "c");
    assert_eq!(f.skipped.len(), 2);
    assert_eq!(f.skipped[0].at, "item 1 (line 2)");
    assert_eq!(f.skipped[1].at, "item 2 (line 3, id \"b\")");
    assert!(
        f.skipped[1].reason.contains("\"cheap\" is not a number"),
        "{:?}",
        f.skipped
    );
    let lines = f.report_lines();
    assert!(
        lines[0].contains("3 records → 1 items; skipped 2 bad"),
        "{lines:?}"
    );
    assert_eq!(lines.len(), 3);
    // another encoding is refused, not misread
    let e = err(
        "latin1.xml",
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss><channel></channel></rss>",
    );
    assert!(e.contains("encoded in iso-8859-1"), "{e}");
}

#[test]
fn duplicate_ids_are_errors_even_when_skipping() {
    let rss = r#"<rss xmlns:g="http://base.google.com/ns/1.0"><channel>
<item><g:id>a</g:id><title>A</title></item>
<item><g:id>a</g:id><title>A again</title></item>
</channel></rss>"#;
    let tsv = "id\ttitle\na\tA\na\tA again\n";
    let shop = "Handle,Title,Variant Price\na,A,1\na,A again,2\n";
    let items = "item_id,title,category,brand,price\na,A,,,\na,B,,,\n";
    for (name, text, at) in [
        (
            "d.xml",
            rss,
            "item 2 (line 3, id \"a\"): duplicate id \"a\" (first at item 1 (line 2, id \"a\"))",
        ),
        ("d.tsv", tsv, "line 3: duplicate id \"a\" (first at line 2)"),
        ("d.csv", shop, "line 3: duplicate id"),
        (
            "i.csv",
            items,
            "line 3: duplicate id \"a\" (first at line 2)",
        ),
    ] {
        for skip_bad in [false, true] {
            let e = format!(
                "{:#}",
                feed(
                    name,
                    text,
                    ReadOptions {
                        format: None,
                        skip_bad
                    }
                )
                .unwrap_err()
            );
            assert!(e.contains(&format!("{name}: {at}")), "{e}");
        }
    }
}

#[test]
fn tsv_maps_columns_and_names_bad_lines() {
    let tsv = "id\ttitle\tdescription\tlink\timage_link\tprice\tsale_price\tbrand\tgoogle_product_category\tproduct_type\tavailability\titem_group_id\n\
        t-1\tKaffeebecher 'Morgen' aus Steinzeug\tx\thttps://s.example/t-1\thttps://s.example/t-1.jpg\t19,90 EUR\t\tTöpferei\tHome & Garden\t\tin stock\tG1\n\
        \n\
        t-2\tカップ\tx\t\t\t1.234,50 EUR\t999,00 EUR\t\t\tKüche > Tassen\tpreorder\t\n\
        t-3\ttoo few fields\n\
        t-4\tBad price\tx\t\t\tabc EUR\t\t\t\t\t\t\n";
    let e = err("shop.tsv", tsv);
    assert!(
        e.contains("shop.tsv: line 5: 2 fields, the header has 12"),
        "{e}"
    );
    let f = skipping("shop.tsv", tsv);
    assert_eq!(f.format, Format::GoogleTsv);
    assert_eq!(f.records, 4, "blank lines are not records");
    assert_eq!(f.items.len(), 2);
    let a = &f.items[0];
    assert_eq!(a.item.title, "Kaffeebecher 'Morgen' aus Steinzeug");
    assert_eq!(a.item.price, Some(19.9));
    assert_eq!(
        a.item.category, "Home & Garden",
        "google_product_category when no product_type"
    );
    assert_eq!(a.item.brand, "Töpferei");
    assert_eq!(a.availability, "in_stock");
    assert_eq!(a.group_id, "G1");
    let b = &f.items[1];
    assert_eq!(b.item.title, "カップ");
    assert_eq!(b.item.price, Some(1234.5));
    assert_eq!(b.sale_price, Some(999.0));
    assert_eq!(b.item.category, "Küche > Tassen");
    assert_eq!(
        f.skipped.iter().map(|s| s.at.as_str()).collect::<Vec<_>>(),
        vec!["line 5", "line 6"]
    );
    // headers as Google also accepts them: `g:` prefixes, spaces, capitals
    let f = ok("h.tsv", "g:id\tTitle\tImage Link\nx\tX\thttps://i/x.png\n");
    assert_eq!(f.items[0].image, "https://i/x.png");
    // a missing title is a bad record
    let e = err("t.tsv", "id\ttitle\nx\t\n");
    assert!(e.contains("t.tsv: line 2: id \"x\": no title"), "{e}");
}

const SHOPIFY: &str = "\u{feff}Handle,Title,Body (HTML),Vendor,Product Category,Type,Tags,Published,Option1 Name,Option1 Value,Variant SKU,Variant Inventory Tracker,Variant Inventory Qty,Variant Inventory Policy,Variant Price,Variant Compare At Price,Image Src,Image Position,Variant Image,Status
trail-shoe,Trail Shoe,\"<p>Grippy, light</p>\",Peakline,Apparel > Shoes,Shoes,\"run, trail\",true,Size,40,TS-40,shopify,0,deny,89.00,,https://cdn.example/ts-2.jpg,2,,active
trail-shoe,,,,,,,,,41,TS-41,shopify,3,deny,79.00,99.00,https://cdn.example/ts-1.jpg,1,,
trail-shoe,,,,,,,,,42,TS-42,shopify,0,deny,89.00,,,,,
trail-shoe,,,,,,,,,,,,,,,,https://cdn.example/ts-3.jpg,3,,
thé-vert,Thé vert « Sencha » 100 g,,Maison du Thé,,,,true,Title,Default Title,,,,,12.50,,,,https://cdn.example/the.jpg,active
old-mug,Old Mug,,Peakline,,Mugs,,true,Title,Default Title,OM-1,shopify,0,deny,5.00,,,,,archived
sold-out,Sold Out Cap,,Peakline,,Caps,,true,Title,Default Title,SC-1,shopify,0,deny,15.00,,,,,active
";

#[test]
fn shopify_groups_variants_one_item_per_handle() {
    let f = ok("products_export.csv", SHOPIFY);
    assert_eq!(f.format, Format::Shopify);
    assert_eq!(f.records, 7);
    let ids: Vec<&str> = f.items.iter().map(|i| i.item.id.as_str()).collect();
    assert_eq!(ids, vec!["trail-shoe", "thé-vert", "sold-out"]);
    let s = &f.items[0];
    assert_eq!(s.item.title, "Trail Shoe");
    assert_eq!(s.item.brand, "Peakline");
    assert_eq!(s.item.category, "Shoes", "Type first");
    assert_eq!(s.variants, 3, "three variant rows, one image-only row");
    assert_eq!(
        s.item.price,
        Some(99.0),
        "cheapest variant's compare-at price"
    );
    assert_eq!(s.sale_price, Some(79.0), "…and its selling price");
    assert_eq!(s.image, "https://cdn.example/ts-1.jpg", "image position 1");
    assert_eq!(s.link, "/products/trail-shoe");
    assert_eq!(s.availability, "in_stock");
    assert_eq!(s.group_id, "trail-shoe");
    let t = &f.items[1];
    assert_eq!(t.item.title, "Thé vert « Sencha » 100 g");
    assert_eq!(t.item.price, Some(12.5));
    assert_eq!(t.sale_price, None);
    assert_eq!(
        t.image, "https://cdn.example/the.jpg",
        "the variant image when no Image Src"
    );
    assert_eq!(t.availability, "", "not tracked");
    assert_eq!(f.items[2].availability, "out_of_stock");
    assert_eq!(f.excluded.len(), 1);
    assert_eq!(f.excluded[0].at, "line 7");
    assert!(
        f.excluded[0].reason.contains("archived"),
        "{:?}",
        f.excluded
    );
    assert!(f.skipped.is_empty());
}

#[test]
fn shopify_bad_rows_are_errors_or_listed_skips() {
    let csv = "Handle,Title,Vendor,Type,Variant SKU,Variant Price
a,Product A,V,T,A-1,10.00
a,,,,A-2,ten
orphan,,,,O-1,3.00
b,Product B,V,T,B-1,oops
b,,,,B-2,4.00
c,Product C,V,T,C-1,1.00
";
    let e = err("export.csv", csv);
    assert!(
        e.contains(
            "export.csv: line 3: Handle \"a\": Variant Price: price \"ten\" is not a number"
        ),
        "{e}"
    );
    let f = skipping("export.csv", csv);
    let ids: Vec<&str> = f.items.iter().map(|i| i.item.id.as_str()).collect();
    assert_eq!(ids, vec!["a", "c"]);
    assert_eq!(
        f.items[0].variants, 1,
        "the bad variant row is skipped, the product stays"
    );
    let at: Vec<&str> = f.skipped.iter().map(|s| s.at.as_str()).collect();
    assert_eq!(at, vec!["line 3", "line 4", "line 5", "line 6"]);
    assert!(f.skipped[1]
        .reason
        .contains("no row before it gives that product's Title"));
    assert!(f.skipped[3]
        .reason
        .contains("whose first row (line 5) was skipped"));
}

#[test]
fn items_csv_reads_and_refuses_bad_prices() {
    let f = ok(
        "items.csv",
        "item_id,title,category,brand,price\nj1,日本茶 セット,food.tea,伊藤園,1200\nj2,,toys,,\n",
    );
    assert_eq!(f.format, Format::Items);
    assert_eq!(f.items[0].item.title, "日本茶 セット");
    assert_eq!(f.items[0].item.price, Some(1200.0));
    assert_eq!(
        f.items[1].item.title, "",
        "a title is optional in items.csv"
    );
    let e = err(
        "items.csv",
        "item_id,title,category,brand,price\nj1,x,,,-3\n",
    );
    assert!(
        e.contains("items.csv: line 2: item_id \"j1\": price \"-3\""),
        "{e}"
    );
}

#[test]
fn detection_and_its_error() {
    assert_eq!(detect(RSS.as_bytes()).unwrap(), Format::GoogleXml);
    assert_eq!(
        detect(b"  <!-- c --><feed xmlns=\"http://www.w3.org/2005/Atom\"/>").unwrap(),
        Format::GoogleXml
    );
    assert_eq!(detect(b"id\ttitle\tprice\n").unwrap(), Format::GoogleTsv);
    assert_eq!(detect(SHOPIFY.as_bytes()).unwrap(), Format::Shopify);
    assert_eq!(
        detect(b"item_id,title,category,brand,price\r\n").unwrap(),
        Format::Items
    );
    let e = format!("{:#}", detect(b"sku;name;price\n").unwrap_err());
    assert!(e.contains("pass --format"), "{e}");
    let e = format!("{:#}", detect(b"<html><body/></html>").unwrap_err());
    assert!(e.contains("root element is <html>"), "{e}");
    let e = err("x.txt", "sku;name\n");
    assert!(e.contains("x.txt: unknown feed format"), "{e}");
    // an explicit format overrides detection
    let e = format!(
        "{:#}",
        feed(
            "f.tsv",
            "id\ttitle\nx\tX\n",
            ReadOptions {
                format: Some(Format::Shopify),
                skip_bad: false
            }
        )
        .unwrap_err()
    );
    assert!(e.contains("needs the columns Handle and Title"), "{e}");
}

#[test]
fn prices_in_the_forms_feeds_use() {
    let p = |s: &str| parse_price(s).unwrap();
    assert_eq!(p("19.90 EUR"), (19.9, "EUR".into()));
    assert_eq!(p("19,90 EUR"), (19.9, "EUR".into()));
    assert_eq!(p("EUR 19.90"), (19.9, "EUR".into()));
    assert_eq!(p("1.234,56 EUR"), (1234.56, "EUR".into()));
    assert_eq!(p("1,234.56 USD"), (1234.56, "USD".into()));
    assert_eq!(p("1 234,56 EUR"), (1234.56, "EUR".into()));
    assert_eq!(p("1.234.567 JPY"), (1234567.0, "JPY".into()));
    assert_eq!(p("7"), (7.0, String::new()));
    for bad in [
        "",
        "abc",
        "19.90 euro",
        "-1 EUR",
        "1e3 USD",
        "NaN",
        "12.5.3,1 EUR USD",
    ] {
        assert!(parse_price(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn limits_of_the_catalog_are_bad_records() {
    let long = "x".repeat(MAX_ID_LEN + 1);
    let e = err("l.tsv", &format!("id\ttitle\n{long}\tX\n"));
    assert!(e.contains("l.tsv: line 2: id is 257 bytes long"), "{e}");
    let e = err(
        "l.tsv",
        &format!("id\ttitle\na\t{}\n", "t".repeat(MAX_TEXT_LEN + 1)),
    );
    assert!(e.contains("title is 4097 bytes long"), "{e}");
}

#[test]
fn non_english_items_round_trip_through_items_csv() {
    let f = ok("feed.xml", RSS);
    let mut sh = ok("products_export.csv", SHOPIFY);
    let mut all = f.items.clone();
    all.append(&mut sh.items);
    let p = std::env::temp_dir().join(format!("nextclick-feed-rt-{}.csv", std::process::id()));
    write_items_csv(&p, &all).unwrap();
    let mut rep = crate::LoadReport::default();
    let back = crate::load_items(&p, &mut rep).unwrap();
    assert_eq!(rep, crate::LoadReport::default());
    assert_eq!(back, all.iter().map(|i| i.item.clone()).collect::<Vec<_>>());
    let again = read(&p, ReadOptions::default()).unwrap();
    assert_eq!(again.format, Format::Items);
    assert_eq!(again.items[1].item.title, "抹茶 茶碗 — 手作り");
    std::fs::remove_file(&p).ok();
}

#[test]
fn a_large_xml_feed_is_read_in_one_pass() {
    // 50,000 items (~6 MB): line numbers are counted incrementally, not rescanned per item
    let mut s = String::from("<rss xmlns:g=\"http://base.google.com/ns/1.0\"><channel>\n");
    for i in 0..50_000 {
        s.push_str(&format!(
            "<item><g:id>i{i}</g:id><title>Item {i}</title><g:price>{}.50 EUR</g:price></item>\n",
            i % 100
        ));
    }
    s.push_str("</channel></rss>\n");
    let t = std::time::Instant::now();
    let f = ok("big.xml", &s);
    assert_eq!(f.items.len(), 50_000);
    assert_eq!(f.items[49_999].item.title, "Item 49999");
    eprintln!("50,000-item RSS read in {:.2} s", t.elapsed().as_secs_f64());
    // and the line of a bad record near the end is still exact
    let bad = s.replace("<g:id>i49990</g:id>", "");
    let e = err("big.xml", &bad);
    assert!(e.contains("big.xml: item 49991 (line 49992): no id"), "{e}");
}
