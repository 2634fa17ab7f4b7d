//! `nextclick demo-catalog`: the demo shop's products, generated deterministically (no external data).
//!
//! Writes `items.csv` in the canonical layout (`item_id,title,category,brand,price`) that
//! `nextclick catalog` turns into a binary catalog for a content model. For models without an item tower
//! (the reference fixture) `--hash-catalog-for` writes a stand-in catalog whose vectors are hashed from
//! category, brand and product type — a temporary path until the default model exists.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use nextclick::catalog::{Catalog, ItemMeta};
use nextclick::model::Encoder;

/// One generated product.
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    /// `p-0001` …
    pub id: String,
    /// Display name, e.g. "Northpeak Trail Running Shoe Pro".
    pub title: String,
    /// Category slug, e.g. `running`.
    pub category: String,
    /// Brand name.
    pub brand: String,
    /// Product type within the category (drives the hashed vectors and the image).
    pub kind: String,
    /// Price in EUR, two decimals.
    pub price: f64,
}

/// A category of the demo shop: slug, display name, product types, brands, price range.
struct Category {
    slug: &'static str,
    kinds: &'static [&'static str],
    brands: &'static [&'static str],
    price: (f64, f64),
}

const CATEGORIES: &[Category] = &[
    Category {
        slug: "running",
        kinds: &[
            "Trail Running Shoe",
            "Road Running Shoe",
            "Running Jacket",
            "Running Tights",
            "Hydration Vest",
        ],
        brands: &["Northpeak", "Stride", "Vantor", "Kestrel"],
        price: (29.0, 189.0),
    },
    Category {
        slug: "cycling",
        kinds: &[
            "Cycling Helmet",
            "Bike Light Set",
            "Cycling Jersey",
            "Bike Lock",
            "Saddle Bag",
        ],
        brands: &["Veloce", "Ridgeline", "Spokeworks"],
        price: (14.0, 249.0),
    },
    Category {
        slug: "camping",
        kinds: &[
            "Two-Person Tent",
            "Sleeping Bag",
            "Camping Stove",
            "Headlamp",
            "Trekking Poles",
        ],
        brands: &["Northpeak", "Basecamp", "Fjellro"],
        price: (19.0, 429.0),
    },
    Category {
        slug: "kitchen",
        kinds: &[
            "Chef's Knife",
            "Cast Iron Pan",
            "Espresso Maker",
            "Cutting Board",
            "Stand Mixer",
        ],
        brands: &["Kova", "Hearth & Co", "Mesa"],
        price: (12.0, 499.0),
    },
    Category {
        slug: "coffee",
        kinds: &[
            "Burr Grinder",
            "Pour-Over Dripper",
            "Coffee Beans 1kg",
            "Milk Frother",
            "Travel Mug",
        ],
        brands: &["Mesa", "Roastery 9", "Kova"],
        price: (9.0, 329.0),
    },
    Category {
        slug: "audio",
        kinds: &[
            "Wireless Headphones",
            "Bluetooth Speaker",
            "Earbuds",
            "Turntable",
            "Soundbar",
        ],
        brands: &["Sonara", "Pulse", "Klangwerk"],
        price: (24.0, 599.0),
    },
    Category {
        slug: "computing",
        kinds: &[
            "Mechanical Keyboard",
            "Wireless Mouse",
            "USB-C Hub",
            "27\" Monitor",
            "Laptop Stand",
        ],
        brands: &["Bitforge", "Pulse", "Lumen"],
        price: (15.0, 459.0),
    },
    Category {
        slug: "home",
        kinds: &[
            "Table Lamp",
            "Linen Duvet Cover",
            "Wool Throw",
            "Scented Candle",
            "Storage Basket",
        ],
        brands: &["Lumen", "Hearth & Co", "Nordhus"],
        price: (8.0, 219.0),
    },
    Category {
        slug: "garden",
        kinds: &[
            "Pruning Shears",
            "Garden Hose",
            "Raised Bed Kit",
            "Watering Can",
            "Seed Collection",
        ],
        brands: &["Greenrow", "Basecamp", "Nordhus"],
        price: (6.0, 179.0),
    },
    Category {
        slug: "toys",
        kinds: &[
            "Wooden Train Set",
            "Building Blocks",
            "Puzzle 1000 pcs",
            "Plush Bear",
            "Board Game",
        ],
        brands: &["Tumble", "Brightbox", "Kestrel"],
        price: (7.0, 89.0),
    },
];

const VARIANTS: &[&str] = &[
    "", "Pro", "Lite", "Plus", "Max", "Classic", "Mini", "Eco", "X", "Sport", "Studio", "Original",
];
const COLOURS: &[&str] = &[
    "", "Black", "Sand", "Forest", "Slate", "Red", "Ocean", "White", "Amber",
];

/// The category slugs, in shop order.
pub fn category_slugs() -> Vec<&'static str> {
    CATEGORIES.iter().map(|c| c.slug).collect()
}

/// Display name of a category slug (`coffee` → `Coffee`).
pub fn category_name(slug: &str) -> String {
    let mut c = slug.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// splitmix64: tiny, deterministic, good enough for generated demo data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Generates `n` products (deterministic for a given `seed`; titles are unique).
pub fn generate(n: usize, seed: u64) -> Vec<Product> {
    let mut rng = Rng(seed);
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let c = &CATEGORIES[out.len() % CATEGORIES.len()];
        let kind = c.kinds[rng.below(c.kinds.len())];
        let brand = c.brands[rng.below(c.brands.len())];
        let variant = VARIANTS[rng.below(VARIANTS.len())];
        let colour = COLOURS[rng.below(COLOURS.len())];
        let mut title = format!("{brand} {kind}");
        for extra in [variant, colour] {
            if !extra.is_empty() {
                title.push(' ');
                title.push_str(extra);
            }
        }
        if !seen.insert(title.clone()) {
            // keep titles unique: add a model number
            title = format!("{title} {}", 100 + rng.below(900));
            if !seen.insert(title.clone()) {
                continue;
            }
        }
        // log-uniform price in the category's range, rounded to .99 / .49
        let (lo, hi) = c.price;
        let p = (lo.ln() + rng.unit() * (hi.ln() - lo.ln())).exp();
        let price = p.floor() + if rng.below(2) == 0 { 0.99 } else { 0.49 };
        out.push(Product {
            id: format!("p-{:04}", out.len() + 1),
            title,
            category: c.slug.to_string(),
            brand: brand.to_string(),
            kind: kind.to_string(),
            price: (price * 100.0).round() / 100.0,
        });
    }
    out
}

/// Writes the products as a canonical `items.csv`.
pub fn write_items_csv(products: &[Product], path: &Path) -> Result<()> {
    let mut w =
        csv::Writer::from_path(path).with_context(|| format!("cannot write {}", path.display()))?;
    w.write_record(["item_id", "title", "category", "brand", "price"])?;
    for p in products {
        w.write_record([
            p.id.as_str(),
            &p.title,
            &p.category,
            &p.brand,
            &format!("{:.2}", p.price),
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// Reads a canonical `items.csv` (as written by [`write_items_csv`]; the product type is recovered from
/// the title where possible). Used by the demo server to render pages.
pub fn read_items_csv(path: &Path) -> Result<Vec<Product>> {
    let mut r =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.with_context(|| format!("{}: bad row", path.display()))?;
        let get = |i: usize| rec.get(i).unwrap_or("").trim().to_string();
        let (category, title) = (get(2), get(1));
        let kind = CATEGORIES
            .iter()
            .find(|c| c.slug == category)
            .and_then(|c| c.kinds.iter().find(|k| title.contains(*k)))
            .map(|k| k.to_string())
            .unwrap_or_default();
        out.push(Product {
            id: get(0),
            title,
            category,
            brand: get(3),
            kind,
            price: get(4).parse().unwrap_or(0.0),
        });
    }
    Ok(out)
}

/// A unit vector in `dim` dimensions derived from `key` (deterministic).
fn hashed_unit(key: &str, dim: usize) -> Vec<f32> {
    let h = nextclick::catalog::sha256(key.as_bytes());
    let mut rng = Rng(u64::from_le_bytes(h[..8].try_into().expect("8 bytes")));
    // Box–Muller normals, normalised
    let mut v: Vec<f32> = (0..dim)
        .map(|_| {
            let (u1, u2) = (rng.unit().max(1e-12), rng.unit());
            ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
        })
        .collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    v.iter_mut().for_each(|x| *x /= n);
    v
}

/// Stand-in catalog for a model without an item tower: each item's vector is a weighted sum of hashed
/// directions for its category, product type and brand, plus a small item-specific part, so related
/// products are close. Metadata: title, `url_template` (`{id}` → id), `/img/<id>.svg`, price.
pub fn hash_catalog(products: &[Product], onnx: &[u8], url_template: &str) -> Result<Catalog> {
    let enc = Encoder::from_bytes(onnx).map_err(|e| anyhow::anyhow!("model: {e}"))?;
    let dim = enc.shape().dim;
    let mut vecs = Vec::with_capacity(products.len() * dim);
    for p in products {
        let parts = [
            (hashed_unit(&format!("cat:{}", p.category), dim), 1.0f32),
            (hashed_unit(&format!("kind:{}", p.kind), dim), 0.8),
            (hashed_unit(&format!("brand:{}", p.brand), dim), 0.4),
            (hashed_unit(&format!("item:{}", p.id), dim), 0.3),
        ];
        let mut v = vec![0f32; dim];
        for (u, w) in &parts {
            v.iter_mut().zip(u).for_each(|(a, b)| *a += w * b);
        }
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
        vecs.extend(v.iter().map(|x| x / n * 3.0));
    }
    let meta = products
        .iter()
        .map(|p| ItemMeta {
            title: p.title.clone(),
            url: url_template.replace("{id}", &p.id),
            image: format!("/img/{}.svg", p.id),
            price: Some(p.price),
        })
        .collect();
    Ok(Catalog::from_f32(
        products.iter().map(|p| p.id.clone()).collect(),
        dim,
        vecs,
        Some(meta),
        *enc.sha256(),
    )?)
}

/// Arguments of `demo-catalog`.
#[derive(Debug, clap::Args)]
pub struct DemoCatalogArgs {
    /// Number of products.
    #[arg(long, default_value_t = 2000)]
    pub count: usize,
    /// Generator seed.
    #[arg(long, default_value_t = 6)]
    pub seed: u64,
    /// Output items.csv.
    #[arg(long, default_value = "www/demo/products.csv")]
    pub out: PathBuf,
    /// Also write a hashed stand-in catalog for this tower-less ONNX (temporary; see module docs).
    #[arg(long)]
    pub hash_catalog_for: Option<PathBuf>,
    /// Where the stand-in catalog goes.
    #[arg(long, default_value = "www/demo/catalog.bin")]
    pub catalog_out: PathBuf,
    /// Product-page URL template of the catalog metadata.
    #[arg(long, default_value = "/p/{id}")]
    pub url: String,
    /// Store the stand-in catalog's vectors as int8 (one scale per item).
    #[arg(long)]
    pub int8: bool,
}

/// Runs `demo-catalog`.
pub fn run(a: DemoCatalogArgs) -> Result<()> {
    let products = generate(a.count, a.seed);
    if let Some(dir) = a.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    write_items_csv(&products, &a.out)?;
    eprintln!("wrote {} ({} products)", a.out.display(), products.len());
    if let Some(model) = &a.hash_catalog_for {
        let onnx =
            std::fs::read(model).with_context(|| format!("cannot read {}", model.display()))?;
        let cat = hash_catalog(&products, &onnx, &a.url)?;
        let bytes = if a.int8 { cat.quantize_int8() } else { cat }.to_bytes();
        std::fs::write(&a.catalog_out, &bytes)
            .with_context(|| format!("cannot write {}", a.catalog_out.display()))?;
        eprintln!(
            "wrote {} (hashed stand-in catalog, {} bytes)",
            a.catalog_out.display(),
            bytes.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_unique_and_round_trips() {
        let a = generate(300, 6);
        assert_eq!(a, generate(300, 6));
        let titles: std::collections::HashSet<_> = a.iter().map(|p| &p.title).collect();
        assert_eq!(titles.len(), a.len());
        assert!(a.iter().all(|p| p.price > 0.0 && !p.kind.is_empty()));
        let dir = std::env::temp_dir().join(format!("nextclick-demo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("items.csv");
        write_items_csv(&a, &path).unwrap();
        assert_eq!(read_items_csv(&path).unwrap(), a);
        std::fs::remove_dir_all(&dir).ok();
    }
}
