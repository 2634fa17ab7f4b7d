//! Sharded catalog embedding: the partial embedding files (`.embp`) that `nextclick embed-items --shard
//! i/n` writes on several machines, and the merge (`nextclick merge-embeddings`) that turns the `n` parts
//! back into exactly the bytes of one unsharded `.emb` (see `docs/shop.md`, "Embedding a large catalog on
//! several machines").
//!
//! **The rule.** The canonical item order (the order of `items.csv`) is cut into blocks of
//! [`EMBED_BLOCK`] items; the text model embeds each block on its own (sorted by text length inside the
//! block, then in batches), so a vector depends only on its block, never on what else is embedded in the
//! run. Shard `i` of `n` is the contiguous run of whole blocks `[⌊i·B/n⌋, ⌊(i+1)·B/n⌋)` of the `B`
//! blocks ([`shard_range`]); shards may be empty when `n > B`. The merge is then a concatenation in
//! shard order.
//!
//! **The part file** (little-endian): magic `NXCLEMP\0`, `u32` version 1, the text model's weights
//! SHA-256 (64 lowercase hex bytes), the item list's SHA-256 ([`item_list_sha256`], 64 hex bytes),
//! `u64` item count of the whole list, `u32` block size, `u32` shard `i`, `u32` shard count `n`, `u64`
//! range start, `u64` range end, `u64` payload length, the payload (the range's `.emb` bytes,
//! [`Embeddings::to_bytes`]), then the SHA-256 of everything before it (32 bytes).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use crate::content::Embeddings;

/// Items per embedding block: the unit that is batched on its own and that shard ranges are aligned to.
/// Changing it changes the floats of every embedding (the length sort and batches are per block).
pub const EMBED_BLOCK: usize = 256;

const PART_MAGIC: &[u8; 8] = b"NXCLEMP\0";
const PART_VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 64 + 64 + 8 + 4 + 4 + 4 + 8 + 8 + 8;

/// SHA-256 (lowercase hex) of the whole item list: every (id, text) pair, length-prefixed, in order.
pub fn item_list_sha256(ids: &[String], texts: &[String]) -> String {
    let mut h = Sha256::new();
    h.update(b"nextclick-items-v1\0");
    h.update((ids.len() as u64).to_le_bytes());
    for (id, t) in ids.iter().zip(texts) {
        h.update((id.len() as u64).to_le_bytes());
        h.update(id.as_bytes());
        h.update((t.len() as u64).to_le_bytes());
        h.update(t.as_bytes());
    }
    let out: [u8; 32] = h.finalize().into();
    nextclick::catalog::hex(&out)
}

/// File name stem of the embedding cache entry of an item list (`<key>.emb` in `nextclick-train`'s
/// cache folder): SHA-256 over the text model's weights hash and [`item_list_sha256`], so a merged
/// sharded run can be put where `catalog` / `train` / `embed-items` find it (`merge-embeddings --cache`).
pub fn emb_cache_key(weights_sha256: &str, items_sha256: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"nextclick-emb-v2\0"); // v2: per-block batching (EMBED_BLOCK)
    h.update(weights_sha256.as_bytes());
    h.update(items_sha256.as_bytes());
    let out: [u8; 32] = h.finalize().into();
    nextclick::catalog::hex(&out)
}

/// The item range `[start, end)` of shard `i` of `n` over `total` items, aligned to `block` (see the
/// module docs). Errors when `n == 0`, `i >= n` or `block == 0`.
pub fn shard_range(total: usize, block: usize, i: usize, n: usize) -> Result<(usize, usize)> {
    if n == 0 || i >= n {
        bail!("shard {i}/{n}: need 0 ≤ i < n (shards are numbered from 0)");
    }
    if block == 0 {
        bail!("block size 0");
    }
    let blocks = total.div_ceil(block);
    let b0 = (i as u128 * blocks as u128 / n as u128) as usize;
    let b1 = ((i as u128 + 1) * blocks as u128 / n as u128) as usize;
    Ok(((b0 * block).min(total), (b1 * block).min(total)))
}

/// Parses `i/n` (as in `--shard 2/8`).
pub fn parse_shard(s: &str) -> Result<(usize, usize)> {
    let (a, b) = s
        .split_once('/')
        .with_context(|| format!("--shard {s:?}: expected i/n, e.g. 0/4"))?;
    let i: usize = a
        .trim()
        .parse()
        .with_context(|| format!("--shard {s:?}: {a:?} is not a shard number"))?;
    let n: usize = b
        .trim()
        .parse()
        .with_context(|| format!("--shard {s:?}: {b:?} is not a shard count"))?;
    if n == 0 || i >= n {
        bail!("--shard {s:?}: need 0 ≤ i < n (shards are numbered from 0)");
    }
    Ok((i, n))
}

/// One shard of a catalog's embeddings with the fingerprint the merge checks.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingPart {
    /// SHA-256 (hex) of the text model's weights file.
    pub weights_sha256: String,
    /// [`item_list_sha256`] of the whole item list.
    pub items_sha256: String,
    /// Items in the whole list.
    pub total: usize,
    /// Block size the ranges are aligned to ([`EMBED_BLOCK`] when written by `embed-items`).
    pub block: usize,
    /// This shard's number, `0 ≤ shard < shards`.
    pub shard: usize,
    /// Number of shards.
    pub shards: usize,
    /// First item (index in the whole list).
    pub start: usize,
    /// One past the last item.
    pub end: usize,
    /// The range's ids and vectors.
    pub emb: Embeddings,
}

fn is_hex64(b: &[u8]) -> bool {
    b.len() == 64 && b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

impl EmbeddingPart {
    /// Serialises to the part format (module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let payload = self.emb.to_bytes();
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len() + 32);
        out.extend_from_slice(PART_MAGIC);
        out.extend_from_slice(&PART_VERSION.to_le_bytes());
        out.extend_from_slice(self.weights_sha256.as_bytes());
        out.extend_from_slice(self.items_sha256.as_bytes());
        out.extend_from_slice(&(self.total as u64).to_le_bytes());
        out.extend_from_slice(&(self.block as u32).to_le_bytes());
        out.extend_from_slice(&(self.shard as u32).to_le_bytes());
        out.extend_from_slice(&(self.shards as u32).to_le_bytes());
        out.extend_from_slice(&(self.start as u64).to_le_bytes());
        out.extend_from_slice(&(self.end as u64).to_le_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&payload);
        let sum: [u8; 32] = Sha256::digest(&out).into();
        out.extend_from_slice(&sum);
        out
    }

    /// Parses the part format, checking the checksum, every length and that the range is the one the
    /// block rule gives shard `i` of `n` (a part is self-consistent or an error, never a panic).
    pub fn from_bytes(b: &[u8]) -> Result<EmbeddingPart> {
        if b.len() < 8 || &b[..8] != PART_MAGIC {
            if b.len() >= 8 && &b[..8] == b"NXCLEMB\0" {
                bail!("a whole embedding file (.emb), not a shard of one (.embp)");
            }
            bail!("not a nextclick embedding shard (bad magic)");
        }
        if b.len() < HEADER_LEN + 32 {
            bail!(
                "shard file truncated: {} bytes, the header and checksum alone are {}",
                b.len(),
                HEADER_LEN + 32
            );
        }
        let u32_at = |p: usize| u32::from_le_bytes([b[p], b[p + 1], b[p + 2], b[p + 3]]);
        let u64_at = |p: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[p..p + 8]);
            u64::from_le_bytes(a)
        };
        let version = u32_at(8);
        if version != PART_VERSION {
            bail!("shard file version {version}, this nextclick reads version {PART_VERSION}");
        }
        let payload_len = u64_at(HEADER_LEN - 8);
        let want = (HEADER_LEN as u64)
            .checked_add(payload_len)
            .and_then(|x| x.checked_add(32));
        if want != Some(b.len() as u64) {
            bail!(
                "shard file truncated or corrupt: {} bytes, its header announces {}",
                b.len(),
                want.map_or("more than 2^64".to_string(), |w| w.to_string())
            );
        }
        let body = &b[..b.len() - 32];
        let sum: [u8; 32] = Sha256::digest(body).into();
        if sum[..] != b[b.len() - 32..] {
            bail!("shard file corrupt: checksum mismatch");
        }
        let (w, it) = (&b[12..76], &b[76..140]);
        if !is_hex64(w) || !is_hex64(it) {
            bail!("shard file corrupt: fingerprint is not hex");
        }
        let to_usize = |x: u64, what: &str| {
            usize::try_from(x).with_context(|| format!("shard file: {what} {x} too large"))
        };
        let total = to_usize(u64_at(140), "item count")?;
        let block = u32_at(148) as usize;
        let shard = u32_at(152) as usize;
        let shards = u32_at(156) as usize;
        let start = to_usize(u64_at(160), "range start")?;
        let end = to_usize(u64_at(168), "range end")?;
        let expect = shard_range(total, block, shard, shards).context("shard file")?;
        if (start, end) != expect {
            bail!(
                "shard file corrupt: shard {shard}/{shards} of {total} items has range {start}..{end}, \
                 the block rule gives {}..{}",
                expect.0,
                expect.1
            );
        }
        let emb = Embeddings::from_bytes(&body[HEADER_LEN..]).context("shard payload")?;
        if emb.ids.len() != end - start {
            bail!(
                "shard file corrupt: {} items in the payload, the range {start}..{end} has {}",
                emb.ids.len(),
                end - start
            );
        }
        Ok(EmbeddingPart {
            weights_sha256: String::from_utf8(w.to_vec()).expect("checked hex"),
            items_sha256: String::from_utf8(it.to_vec()).expect("checked hex"),
            total,
            block,
            shard,
            shards,
            start,
            end,
            emb,
        })
    }

    /// Reads a part file; errors name the file.
    pub fn load(path: &Path) -> Result<EmbeddingPart> {
        let b = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        EmbeddingPart::from_bytes(&b).with_context(|| format!("{}", path.display()))
    }
}

/// Merges the `n` parts of one catalog into the unsharded embeddings (the same bytes as one unsharded
/// run). Each part is given with the name errors use (its path). Refuses, naming the file: parts of
/// another item list or text model than the first, a different shard count `n`, block size or
/// dimension, a shard given twice; and names every missing shard.
pub fn merge_parts(parts: Vec<(PathBuf, EmbeddingPart)>) -> Result<Embeddings> {
    let Some((first_path, first)) = parts.first() else {
        bail!("no shard files given");
    };
    let n = first.shards;
    let mut given: BTreeMap<usize, usize> = BTreeMap::new();
    for (k, (path, p)) in parts.iter().enumerate() {
        let f = first_path.display();
        let name = path.display();
        if p.items_sha256 != first.items_sha256 || p.total != first.total {
            bail!(
                "{name}: shard of another item list ({} items, sha256 {}) than {f} ({} items, sha256 {})",
                p.total,
                p.items_sha256,
                first.total,
                first.items_sha256
            );
        }
        if p.weights_sha256 != first.weights_sha256 {
            bail!(
                "{name}: embedded with another text model (weights sha256 {}) than {f} ({})",
                p.weights_sha256,
                first.weights_sha256
            );
        }
        if p.shards != n {
            bail!(
                "{name}: shard {}/{} but {f} is shard {}/{n}: the parts disagree on the shard count",
                p.shard,
                p.shards,
                first.shard
            );
        }
        if p.block != first.block {
            bail!("{name}: block size {} but {f} has {}", p.block, first.block);
        }
        if p.emb.dim != first.emb.dim {
            bail!(
                "{name}: dimension {} but {f} has {}",
                p.emb.dim,
                first.emb.dim
            );
        }
        if let Some(prev) = given.insert(p.shard, k) {
            bail!(
                "{name}: shard {}/{n} given twice (also {})",
                p.shard,
                parts[prev].0.display()
            );
        }
    }
    // at most 20 named; the first missing one is found within parts.len() + 1 steps
    let missing: Vec<String> = (0..n)
        .filter(|i| !given.contains_key(i))
        .take(20)
        .map(|i| format!("{i}/{n}"))
        .collect();
    if !missing.is_empty() {
        bail!(
            "missing shard{} {}{} of the {} items (sha256 {}): given {} of {n}",
            if n - given.len() > 1 { "s" } else { "" },
            missing.join(", "),
            if n - given.len() > missing.len() {
                ", …"
            } else {
                ""
            },
            first.total,
            first.items_sha256,
            parts.len()
        );
    }
    let dim = first.emb.dim;
    let mut ids = Vec::with_capacity(first.total);
    let mut vecs = Vec::with_capacity(first.total * dim);
    for &k in given.values() {
        let (path, p) = &parts[k];
        // ranges come from the block rule (checked on parsing): consecutive, covering 0..total
        if p.start != ids.len() {
            bail!(
                "{}: range {}..{} does not follow item {}",
                path.display(),
                p.start,
                p.end,
                ids.len()
            );
        }
        ids.extend(p.emb.ids.iter().cloned());
        vecs.extend_from_slice(&p.emb.vecs);
    }
    if ids.len() != first.total {
        bail!(
            "the shards hold {} items, the item list has {}",
            ids.len(),
            first.total
        );
    }
    Ok(Embeddings { ids, dim, vecs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_block_aligned_and_cover_the_list() {
        for total in [0usize, 1, 255, 256, 257, 700, 10_000] {
            for n in 1..=7 {
                let mut at = 0;
                for i in 0..n {
                    let (s, e) = shard_range(total, 256, i, n).unwrap();
                    assert_eq!(s, at, "total {total} n {n} i {i}");
                    assert!(s % 256 == 0 || s == total);
                    assert!(e >= s);
                    at = e;
                }
                assert_eq!(at, total);
            }
        }
        assert!(shard_range(10, 256, 3, 3).is_err());
        assert!(shard_range(10, 256, 0, 0).is_err());
    }

    #[test]
    fn parse_shard_accepts_i_of_n_only() {
        assert_eq!(parse_shard("2/8").unwrap(), (2, 8));
        for bad in ["8/8", "1/0", "x/2", "3", "-1/2"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }
}
