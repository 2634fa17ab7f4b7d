//! `nextclick demo-catalog`: the demo shop's products, generated deterministically (no external data).
//!
//! Writes `items.csv` in the canonical layout (`item_id,title,category,brand,price`) that
//! `nextclick catalog` turns into a binary catalog for a content model (`make demo-data`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use nextclick_data::csv::{open, row_error, Policy};
use nextclick_data::ITEMS_HEADER;

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
    let mut r = open(path, &ITEMS_HEADER, Policy::Strict)?;
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| row_error(path, e))?;
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
}

/// Runs `demo-catalog`.
pub fn run(a: DemoCatalogArgs) -> Result<()> {
    let products = generate(a.count, a.seed);
    if let Some(dir) = a.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    write_items_csv(&products, &a.out)?;
    eprintln!("wrote {} ({} products)", a.out.display(), products.len());
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
