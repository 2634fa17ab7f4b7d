//! The binary catalog: item ids, their vectors (already through the model's item tower), optional display
//! metadata, and the SHA-256 of the model the vectors were built for.
//!
//! Layout of format version 1 (all integers little-endian; see `docs/model-contract.md`):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `NXCLCAT\0` |
//! | 8 | 2 | format version (`1`) |
//! | 10 | 1 | dtype: `0` = f32, `1` = int8 with one f32 scale per item |
//! | 11 | 1 | flags: bit 0 = display metadata present; other bits must be 0 |
//! | 12 | 4 | item count `n` |
//! | 16 | 4 | dimension `d` |
//! | 20 | 32 | SHA-256 of the model's ONNX bytes |
//! | 52 | … | `n` ids: `u16` byte length + UTF-8 |
//! | … | … | f32: `n·d` f32 · int8: `n` f32 scales, then `n·d` i8 |
//! | … | … | if flag 0: `n` × (title, url, image as `u16` length + UTF-8; price as f64, NaN = unknown) |
//! | end − 32 | 32 | SHA-256 of every byte before it |
//!
//! Format version 2 (big shops, [`crate::ivfpq`]) has the same 52-byte header with dtype `2` (IVF-PQ
//! codes) or `3` (IVF-PQ codes + int8 vectors for exact re-scoring), then:
//!
//! | size | field |
//! |---|---|
//! | 4 + 2 + 2 + 4 + 4 | list count `nlist`, sub-spaces `m`, codewords per sub-space `ksub`, default `nprobe`, `rerank` |
//! | `4·nlist·d` | coarse centroids, f32 |
//! | `4·ksub·d` | PQ codebooks, f32, `m × ksub × d/m` |
//! | `4·(nlist + 1)` | list offsets, u32: list `l` is rows `offsets[l]..offsets[l + 1]` |
//! | … | `n` ids as in version 1 (rows grouped by list) |
//! | `n·m` | codes, one byte per sub-space and row |
//! | dtype 3: `4n + n·d` | f32 scales, then i8 values |
//! | … | metadata as in version 1; the trailing SHA-256 |
//!
//! Everything a page needs before the first prediction — header, centroids, codebooks, offsets and ids — is
//! at the front (the *head*); list `l`'s codes are the contiguous bytes `offsets[l]·m..offsets[l+1]·m` of
//! the code section, so lists can later be fetched on demand.
//!
//! [`Catalog::from_bytes`] checks every length before allocating, so a hostile file cannot make it allocate
//! more than the file's own size.

use sha2::{Digest, Sha256};

use crate::contract::MAX_SUPPORTED_DIM;
use crate::error::{Error, Result};
use crate::ivfpq::{IvfPq, Params, Scratch};
use crate::split::{Lookup, Split, FORMAT_VERSION_SPLIT};

/// Magic bytes at the start of every catalog file.
pub const MAGIC: &[u8; 8] = b"NXCLCAT\0";
/// Catalog format version of flat (f32, int8) catalogs.
pub const FORMAT_VERSION: u16 = 1;
/// Catalog format version of IVF-PQ catalogs (the highest this build reads).
pub const FORMAT_VERSION_IVFPQ: u16 = 2;
/// Largest number of items a catalog may hold.
pub const MAX_ITEMS: usize = 4_000_000;
/// Longest item id, in bytes.
pub const MAX_ID_LEN: usize = 256;
/// Longest metadata string (title, url, image), in bytes.
pub const MAX_META_LEN: usize = 4096;
const HEADER_LEN: usize = 52;
const CHECKSUM_LEN: usize = 32;

/// Display metadata of one item (what the frontend shows; never seen by the model).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ItemMeta {
    /// Product title.
    pub title: String,
    /// Product page URL (relative or absolute).
    pub url: String,
    /// Image URL.
    pub image: String,
    /// Price in the shop's currency, if known.
    pub price: Option<f64>,
}

/// How the vectors are stored.
#[derive(Debug, Clone, PartialEq)]
pub enum Vectors {
    /// Plain f32, row-major `n × d`.
    F32(Vec<f32>),
    /// Symmetric int8 with one scale per item: value = `scale[i] · q[i·d + j]`.
    Int8 {
        /// One scale per item.
        scales: Vec<f32>,
        /// Row-major `n × d` quantised values.
        data: Vec<i8>,
    },
    /// IVF-PQ codes (format version 2): approximate search over the nearest lists.
    IvfPq(Box<IvfPq>),
    /// A split catalog (format version 3, [`crate::split`]): the head, and the body chunks fetched so far.
    Split(Box<Split>),
}

/// A validated, loaded catalog.
#[derive(Debug, Clone)]
pub struct Catalog {
    ids: Vec<String>,
    dim: usize,
    vectors: Vectors,
    meta: Option<Vec<ItemMeta>>,
    model_sha256: [u8; 32],
    index: IdIndex,
}

/// Item id → row: open addressing over row numbers (`u32`, half full at most), hashing the id with
/// std's SipHash. 4–8 bytes per item instead of a `HashMap<String, u32>`'s second copy of every id.
#[derive(Debug, Clone)]
struct IdIndex {
    slots: Vec<u32>,
}

impl IdIndex {
    const EMPTY: u32 = u32::MAX;

    fn hash(id: &str) -> usize {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        id.hash(&mut h);
        h.finish() as usize
    }

    /// The index of `ids`, or the first id that repeats an earlier one.
    fn build(ids: &[String]) -> std::result::Result<IdIndex, usize> {
        let cap = (ids.len() * 2).next_power_of_two().max(2);
        let mut slots = vec![Self::EMPTY; cap];
        let mask = cap - 1;
        for (i, id) in ids.iter().enumerate() {
            let mut s = Self::hash(id) & mask;
            loop {
                match slots[s] {
                    Self::EMPTY => {
                        slots[s] = i as u32;
                        break;
                    }
                    j if ids[j as usize] == *id => return Err(i),
                    _ => s = (s + 1) & mask,
                }
            }
        }
        Ok(IdIndex { slots })
    }

    fn get(&self, ids: &[String], id: &str) -> Option<usize> {
        let mask = self.slots.len() - 1;
        let mut s = Self::hash(id) & mask;
        loop {
            match self.slots[s] {
                Self::EMPTY => return None,
                j if ids[j as usize] == id => return Some(j as usize),
                _ => s = (s + 1) & mask,
            }
        }
    }
}

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        if self.buf.len() - self.pos < n {
            return Err(Error::CatalogTruncated {
                what,
                offset: self.pos,
                len: self.buf.len(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16> {
        Ok(u16::from_le_bytes(
            self.take(2, what)?.try_into().expect("2 bytes"),
        ))
    }
    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4, what)?.try_into().expect("4 bytes"),
        ))
    }
    pub(crate) fn f32(&mut self, what: &'static str) -> Result<f32> {
        Ok(f32::from_le_bytes(
            self.take(4, what)?.try_into().expect("4 bytes"),
        ))
    }
    pub(crate) fn f64(&mut self, what: &'static str) -> Result<f64> {
        Ok(f64::from_le_bytes(
            self.take(8, what)?.try_into().expect("8 bytes"),
        ))
    }
    pub(crate) fn string(&mut self, what: &'static str, max: usize) -> Result<String> {
        let len = self.u16(what)? as usize;
        if len > max {
            return Err(Error::CatalogInvalid {
                what,
                detail: format!("{len} bytes long (at most {max})"),
            });
        }
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| Error::CatalogInvalid {
            what,
            detail: "not valid UTF-8".into(),
        })
    }
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
}

/// The part of catalog bytes of length `len` that its trailing SHA-256 covers: all but the last 32
/// bytes (`None` if `len` cannot hold a checksum). What a caller of
/// [`Catalog::from_bytes_with_body_digest`] hashes.
pub fn body_range(len: usize) -> Option<std::ops::Range<usize>> {
    len.checked_sub(CHECKSUM_LEN).map(|n| 0..n)
}

/// Hex encoding of a SHA-256 digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Parses a 64-character hex SHA-256.
pub fn parse_sha256_hex(s: &str) -> Option<[u8; 32]> {
    let s = s.trim();
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

impl Catalog {
    /// Builds a catalog from f32 vectors (row-major `ids.len() × dim`), validating it as the loader would.
    pub fn from_f32(
        ids: Vec<String>,
        dim: usize,
        vectors: Vec<f32>,
        meta: Option<Vec<ItemMeta>>,
        model_sha256: [u8; 32],
    ) -> Result<Catalog> {
        Catalog::new(ids, dim, Vectors::F32(vectors), meta, model_sha256)
    }

    fn new(
        ids: Vec<String>,
        dim: usize,
        vectors: Vectors,
        meta: Option<Vec<ItemMeta>>,
        model_sha256: [u8; 32],
    ) -> Result<Catalog> {
        let n = ids.len();
        if n == 0 || n > MAX_ITEMS {
            return Err(Error::CatalogInvalid {
                what: "item count",
                detail: format!("{n} (must be 1..={MAX_ITEMS})"),
            });
        }
        if dim == 0 || dim > MAX_SUPPORTED_DIM {
            return Err(Error::CatalogInvalid {
                what: "dimension",
                detail: format!("{dim} (must be 1..={MAX_SUPPORTED_DIM})"),
            });
        }
        let (len_ok, finite) = match &vectors {
            Vectors::F32(v) => (v.len() == n * dim, None),
            Vectors::Int8 { scales, data } => {
                (scales.len() == n && data.len() == n * dim, Some(scales))
            }
            Vectors::IvfPq(ix) => {
                if ix.dim != dim {
                    return Err(Error::CatalogInvalid {
                        what: "dimension",
                        detail: format!("index of dimension {} in a {dim}-d catalog", ix.dim),
                    });
                }
                ix.validate(n)?;
                if let Some(i) = ix.first_bad_scale() {
                    return Err(Error::CatalogNonFinite(ids[i].clone()));
                }
                (true, None)
            }
            Vectors::Split(_) => {
                return Err(Error::CatalogInvalid {
                    what: "vectors",
                    detail: "a split catalog is loaded from its head, not assembled".into(),
                })
            }
        };
        if !len_ok {
            return Err(Error::CatalogInvalid {
                what: "vectors",
                detail: "length is not items × dimension".into(),
            });
        }
        if let Some(m) = &meta {
            if m.len() != n {
                return Err(Error::CatalogInvalid {
                    what: "metadata",
                    detail: "one entry per item required".into(),
                });
            }
        }
        for (i, id) in ids.iter().enumerate() {
            if id.is_empty() || id.len() > MAX_ID_LEN {
                return Err(Error::CatalogInvalid {
                    what: "item id",
                    detail: format!("{:?} must be 1..={MAX_ID_LEN} bytes", id),
                });
            }
            let bad = match (&vectors, finite) {
                (Vectors::F32(v), _) => v[i * dim..(i + 1) * dim].iter().any(|x| !x.is_finite()),
                (_, Some(scales)) => !scales[i].is_finite(),
                _ => false,
            };
            if bad {
                return Err(Error::CatalogNonFinite(id.clone()));
            }
        }
        let index = IdIndex::build(&ids).map_err(|i| Error::CatalogDuplicateId(ids[i].clone()))?;
        Ok(Catalog {
            ids,
            dim,
            vectors,
            meta,
            model_sha256,
            index,
        })
    }

    /// Decodes and validates catalog bytes. Never panics; every class of bad input has its own error.
    pub fn from_bytes(bytes: &[u8]) -> Result<Catalog> {
        Catalog::from_bytes_with_body_digest(bytes, None)
    }

    /// [`Catalog::from_bytes`], with the SHA-256 of the checksummed part (every byte but the trailing
    /// 32-byte checksum, see [`body_range`]) already computed by the caller.
    ///
    /// The page computes it with the platform's `crypto.subtle.digest` while the wasm compiles, so the
    /// integrity check costs nothing at load instead of ≈ 100 ms of one-shot SHA-256 in the browser's baseline
    /// wasm tier (20k items; docs/bench.md). The check itself is unchanged: the file's checksum must equal
    /// the digest, else [`Error::CatalogChecksum`]. `None` hashes here. The digest must be of these same
    /// bytes: it stands in for hashing them, it is not a hint.
    pub fn from_bytes_with_body_digest(
        bytes: &[u8],
        body_digest: Option<&[u8; 32]>,
    ) -> Result<Catalog> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(Error::CatalogBadMagic);
        }
        let mut version = FORMAT_VERSION;
        if bytes.len() >= 10 {
            version = u16::from_le_bytes([bytes[8], bytes[9]]);
            if !(FORMAT_VERSION..=FORMAT_VERSION_SPLIT).contains(&version) {
                return Err(Error::CatalogVersion {
                    found: version,
                    supported: FORMAT_VERSION_SPLIT,
                });
            }
        }
        if bytes.len() < HEADER_LEN + CHECKSUM_LEN {
            return Err(Error::CatalogTruncated {
                what: "header",
                offset: bytes.len(),
                len: bytes.len(),
            });
        }
        let (body, sum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
        let mut r = Reader { buf: body, pos: 10 };
        let dtype = r.take(1, "dtype")?[0];
        let flags = r.take(1, "flags")?[0];
        let n = r.u32("item count")? as usize;
        let dim = r.u32("dimension")? as usize;
        let model_sha256: [u8; 32] = r.take(32, "model sha256")?.try_into().expect("32 bytes");
        let ivf = version >= FORMAT_VERSION_IVFPQ;
        if !ivf && dtype > 1 {
            return Err(Error::CatalogInvalid {
                what: "dtype",
                detail: format!("{dtype} (0 = f32, 1 = int8)"),
            });
        }
        if ivf && !(2..=3).contains(&dtype) {
            return Err(Error::CatalogInvalid {
                what: "dtype",
                detail: format!("{dtype} (2 = IVF-PQ, 3 = IVF-PQ + int8 re-scoring vectors)"),
            });
        }
        if flags & !1 != 0 {
            return Err(Error::CatalogInvalid {
                what: "flags",
                detail: format!("unknown bits in {flags:#04x}"),
            });
        }
        if n == 0 || n > MAX_ITEMS {
            return Err(Error::CatalogInvalid {
                what: "item count",
                detail: format!("{n} (must be 1..={MAX_ITEMS})"),
            });
        }
        if dim == 0 || dim > MAX_SUPPORTED_DIM {
            return Err(Error::CatalogInvalid {
                what: "dimension",
                detail: format!("{dim} (must be 1..={MAX_SUPPORTED_DIM})"),
            });
        }
        if version == FORMAT_VERSION_SPLIT {
            // The head alone: its length is checked exactly before anything is allocated.
            let digest = match body_digest {
                Some(d) => *d,
                None => sha256(body),
            };
            if digest != sum {
                return Err(Error::CatalogChecksum);
            }
            let split = Split::read_head(bytes, &mut r, n, dim, dtype, flags & 1 == 1)?;
            return Ok(Catalog {
                ids: Vec::new(),
                dim,
                vectors: Vectors::Split(Box::new(split)),
                meta: None,
                model_sha256,
                index: IdIndex {
                    slots: vec![IdIndex::EMPTY; 2],
                },
            });
        }
        let params = if ivf {
            Some(Params::read(&mut r, n, dim)?)
        } else {
            None
        };
        // Each id takes at least 3 bytes (length + one byte): reject counts the file cannot hold before
        // allocating anything proportional to them. (n ≤ 4M, d ≤ 4096, nlist ≤ 65536: no overflow.)
        let min_needed = match &params {
            None => {
                let elem = if dtype == 0 { 4 } else { 1 };
                n * 3 + n * dim * elem + if dtype == 1 { n * 4 } else { 0 }
            }
            Some(p) => n * 3 + p.head_len(dim) + p.lists_len(n, dim, dtype == 3),
        };
        if min_needed > r.remaining() {
            return Err(Error::CatalogTruncated {
                what: "item table",
                offset: r.pos,
                len: bytes.len(),
            });
        }
        let digest = match body_digest {
            Some(d) => *d,
            None => sha256(body),
        };
        if digest != sum {
            return Err(Error::CatalogChecksum);
        }
        let head = match &params {
            Some(p) => Some(p.read_head(&mut r, dim)?),
            None => None,
        };
        let mut ids = Vec::with_capacity(n);
        for _ in 0..n {
            ids.push(r.string("item id", MAX_ID_LEN)?);
        }
        let vectors = if let (Some(p), Some(head)) = (params, head) {
            Vectors::IvfPq(Box::new(p.read_lists(&mut r, n, dim, dtype == 3, head)?))
        } else if dtype == 0 {
            let raw = r.take(n * dim * 4, "vectors")?;
            Vectors::F32(
                raw.chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().expect("4")))
                    .collect(),
            )
        } else {
            let mut scales = Vec::with_capacity(n);
            for _ in 0..n {
                scales.push(r.f32("scales")?);
            }
            let raw = r.take(n * dim, "vectors")?;
            Vectors::Int8 {
                scales,
                data: raw.iter().map(|&b| b as i8).collect(),
            }
        };
        let meta = if flags & 1 == 1 {
            let mut m = Vec::with_capacity(n.min(r.remaining() / 14));
            for _ in 0..n {
                let title = r.string("title", MAX_META_LEN)?;
                let url = r.string("url", MAX_META_LEN)?;
                let image = r.string("image", MAX_META_LEN)?;
                let price = r.f64("price")?;
                m.push(ItemMeta {
                    title,
                    url,
                    image,
                    price: if price.is_finite() { Some(price) } else { None },
                });
            }
            Some(m)
        } else {
            None
        };
        if r.remaining() != 0 {
            return Err(Error::CatalogInvalid {
                what: "length",
                detail: format!("{} unexpected bytes after the last field", r.remaining()),
            });
        }
        Catalog::new(ids, dim, vectors, meta, model_sha256)
    }

    /// Encodes the catalog: format version 1 (flat), 2 (IVF-PQ), or a split catalog's head (version 3;
    /// its body is written once, by [`crate::split::write`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        if let Vectors::Split(sp) = &self.vectors {
            return sp.head_bytes().to_vec();
        }
        let mut out =
            Vec::with_capacity(HEADER_LEN + self.ids.len() * (self.dim * 4 + 16) + CHECKSUM_LEN);
        out.extend_from_slice(MAGIC);
        let (version, dtype) = match &self.vectors {
            Vectors::F32(_) => (FORMAT_VERSION, 0),
            Vectors::Int8 { .. } => (FORMAT_VERSION, 1),
            Vectors::IvfPq(ix) => (FORMAT_VERSION_IVFPQ, 2 + u8::from(ix.rescore.is_some())),
            Vectors::Split(_) => unreachable!("returned above"),
        };
        out.extend_from_slice(&version.to_le_bytes());
        out.push(dtype);
        out.push(u8::from(self.meta.is_some()));
        out.extend_from_slice(&(self.ids.len() as u32).to_le_bytes());
        out.extend_from_slice(&(self.dim as u32).to_le_bytes());
        out.extend_from_slice(&self.model_sha256);
        if let Vectors::IvfPq(ix) = &self.vectors {
            ix.put_params(&mut out);
            ix.put_head(&mut out);
        }
        let put_str = |out: &mut Vec<u8>, s: &str| {
            out.extend_from_slice(&(s.len() as u16).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        };
        for id in &self.ids {
            put_str(&mut out, id);
        }
        match &self.vectors {
            Vectors::F32(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Vectors::Int8 { scales, data } => {
                scales
                    .iter()
                    .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
                out.extend(data.iter().map(|&q| q as u8));
            }
            Vectors::IvfPq(ix) => ix.put_lists(&mut out),
            Vectors::Split(_) => {}
        }
        if let Some(meta) = &self.meta {
            for m in meta {
                put_str(&mut out, truncate(&m.title, MAX_META_LEN));
                put_str(&mut out, truncate(&m.url, MAX_META_LEN));
                put_str(&mut out, truncate(&m.image, MAX_META_LEN));
                out.extend_from_slice(&m.price.unwrap_or(f64::NAN).to_le_bytes());
            }
        }
        let sum = sha256(&out);
        out.extend_from_slice(&sum);
        out
    }

    /// The same catalog with int8 vectors (symmetric, one scale per item: `max|x| / 127`). A split
    /// catalog is returned as it is (its vectors are the builder's).
    pub fn quantize_int8(&self) -> Catalog {
        if matches!(self.vectors, Vectors::Split(_)) {
            return self.clone();
        }
        let mut scales = Vec::with_capacity(self.ids.len());
        let mut data = Vec::with_capacity(self.ids.len() * self.dim);
        let mut row = vec![0f32; self.dim];
        for i in 0..self.ids.len() {
            self.copy_row(i, &mut row);
            let max = row.iter().fold(0f32, |m, x| m.max(x.abs()));
            let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
            scales.push(scale);
            data.extend(
                row.iter()
                    .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8),
            );
        }
        Catalog {
            vectors: Vectors::Int8 { scales, data },
            ..self.clone()
        }
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        match &self.vectors {
            Vectors::Split(sp) => sp.len(),
            _ => self.ids.len(),
        }
    }
    /// Always false: a catalog holds at least one item.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Vector dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// Item ids in catalog order (empty for a split catalog: its ids are in body chunks).
    pub fn ids(&self) -> &[String] {
        &self.ids
    }
    /// Id of item `i` (for a split catalog: `""` while neither its item block nor its directory bucket
    /// is resident, which the predictor never lets happen for a row it names).
    pub fn id(&self, i: usize) -> &str {
        match &self.vectors {
            Vectors::Split(sp) => sp.id(i).unwrap_or(""),
            _ => &self.ids[i],
        }
    }
    /// Index of an item id (for a split catalog: `None` also while its directory bucket is not
    /// resident; [`Catalog::lookup`] tells the two apart).
    pub fn index_of(&self, id: &str) -> Option<usize> {
        match self.lookup(id) {
            Lookup::Row(i) => Some(i),
            _ => None,
        }
    }
    /// An item id looked up: its row, absent, or (split catalogs) unknown until a chunk is fetched.
    pub fn lookup(&self, id: &str) -> Lookup {
        match &self.vectors {
            Vectors::Split(sp) => sp.lookup(id),
            _ => self
                .index
                .get(&self.ids, id)
                .map_or(Lookup::Absent, Lookup::Row),
        }
    }
    /// Display metadata of item `i`, if the catalog carries metadata (split catalogs: if its item
    /// block is resident).
    pub fn meta(&self, i: usize) -> Option<&ItemMeta> {
        match &self.vectors {
            Vectors::Split(sp) => sp.meta(i),
            _ => self.meta.as_ref().map(|m| &m[i]),
        }
    }
    /// The split catalog, if this is one (format version 3).
    pub fn split(&self) -> Option<&Split> {
        match &self.vectors {
            Vectors::Split(sp) => Some(sp),
            _ => None,
        }
    }
    /// The split catalog, mutably (to add fetched chunks).
    pub fn split_mut(&mut self) -> Option<&mut Split> {
        match &mut self.vectors {
            Vectors::Split(sp) => Some(sp),
            _ => None,
        }
    }
    /// Rows the on-device learner may draw as negatives: every row, or a split catalog's resident ones.
    pub fn pool_len(&self) -> usize {
        match &self.vectors {
            Vectors::Split(sp) => sp.pool_len(),
            _ => self.len(),
        }
    }
    /// Row `j` (`< pool_len()`) of that pool.
    pub fn pool_row(&self, j: usize) -> usize {
        match &self.vectors {
            Vectors::Split(sp) => sp.pool_row(j),
            _ => j,
        }
    }
    /// SHA-256 of the model this catalog was built for.
    pub fn model_sha256(&self) -> &[u8; 32] {
        &self.model_sha256
    }
    /// The storage of the vectors.
    pub fn vectors(&self) -> &Vectors {
        &self.vectors
    }
    /// Is the catalog int8-quantised (format version 1, dtype 1)?
    pub fn is_int8(&self) -> bool {
        matches!(self.vectors, Vectors::Int8 { .. })
    }
    /// The IVF-PQ index, if this is a format-version-2 catalog.
    pub fn ivfpq(&self) -> Option<&IvfPq> {
        match &self.vectors {
            Vectors::IvfPq(ix) => Some(ix),
            _ => None,
        }
    }
    /// Sets an IVF-PQ catalog's lists probed per query and candidates re-scored (see
    /// [`IvfPq::set_search`]); no effect on a flat catalog.
    pub fn set_search(&mut self, nprobe: usize, rerank: usize) {
        match &mut self.vectors {
            Vectors::IvfPq(ix) => ix.set_search(nprobe, rerank),
            Vectors::Split(sp) => sp.set_search(nprobe, rerank),
            _ => {}
        }
    }

    /// Builds an IVF-PQ catalog (rows already grouped by list, `ids` and `meta` in that order),
    /// validating it as the loader would.
    pub fn from_ivfpq(
        ids: Vec<String>,
        index: IvfPq,
        meta: Option<Vec<ItemMeta>>,
        model_sha256: [u8; 32],
    ) -> Result<Catalog> {
        let dim = index.dim;
        Catalog::new(
            ids,
            dim,
            Vectors::IvfPq(Box::new(index)),
            meta,
            model_sha256,
        )
    }

    /// Approximate bytes of memory the loaded catalog holds on wasm32 (4-byte pointers; each heap
    /// string rounded up to dlmalloc's 8-byte chunks plus its header), ids, id index, vectors and
    /// metadata: the figure a page's wasm memory grows by, besides the file's own bytes while loading.
    pub fn wasm32_heap_bytes(&self) -> usize {
        let string = |s: &str| {
            12 + if s.is_empty() {
                0
            } else {
                (s.len() + 4).div_ceil(8) * 8
            }
        };
        let ids: usize = self.ids.iter().map(|s| string(s)).sum();
        let index = self.index.slots.len() * 4;
        let vectors = match &self.vectors {
            Vectors::F32(v) => v.len() * 4,
            Vectors::Int8 { scales, data } => scales.len() * 4 + data.len(),
            Vectors::IvfPq(ix) => ix.encoded_len(),
            Vectors::Split(sp) => sp.wasm32_heap_bytes(),
        };
        let meta = self.meta.as_ref().map_or(0, |m| {
            m.iter()
                .map(|x| 16 + string(&x.title) + string(&x.url) + string(&x.image))
                .sum()
        });
        ids + index + vectors + meta
    }

    /// The best `k` items for `query` (best first, ties to the lower row, finite scores only), leaving
    /// out the rows in `exclude`. Flat catalogs score every item ([`Catalog::score_all`] then
    /// [`crate::predictor::top_k`]); IVF-PQ catalogs search their nearest lists ([`IvfPq::search`]).
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        exclude: &[usize],
        scratch: &mut Scratch,
    ) -> Vec<(usize, f32)> {
        self.search_near(query, k, exclude, &[], scratch)
    }

    /// [`Catalog::search`] that also scores the rows of `near` (the current session's items) and their
    /// neighbours on a partitioned catalog: IVF-PQ probes their lists besides the nearest ones
    /// ([`crate::ivfpq::IvfPq::search_near`]). The exact scans score every row anyway.
    pub fn search_near(
        &self,
        query: &[f32],
        k: usize,
        exclude: &[usize],
        near: &[usize],
        scratch: &mut Scratch,
    ) -> Vec<(usize, f32)> {
        match &self.vectors {
            Vectors::IvfPq(ix) => ix.search_near(query, k, exclude, near, scratch),
            Vectors::Split(sp) => sp.search(query, k, exclude, near, scratch),
            _ => {
                self.score_all(query, &mut scratch.scores);
                for &i in exclude {
                    if let Some(s) = scratch.scores.get_mut(i) {
                        *s = f32::NEG_INFINITY;
                    }
                }
                crate::predictor::top_k(&scratch.scores, k)
            }
        }
    }

    /// Writes the (dequantised) vector of item `i` into `out` (`out.len() == dim`).
    pub fn copy_row(&self, i: usize, out: &mut [f32]) {
        let d = self.dim;
        match &self.vectors {
            Vectors::F32(v) => out.copy_from_slice(&v[i * d..(i + 1) * d]),
            Vectors::Int8 { scales, data } => {
                let s = scales[i];
                for (o, &q) in out.iter_mut().zip(&data[i * d..(i + 1) * d]) {
                    *o = s * q as f32;
                }
            }
            Vectors::IvfPq(ix) => ix.copy_row(i, out),
            Vectors::Split(sp) => sp.copy_row(i, out),
        }
    }

    /// Dot product of `query` (length `dim`) with every item vector, written into `out` (resized to `len`).
    pub fn score_all(&self, query: &[f32], out: &mut Vec<f32>) {
        let d = self.dim;
        out.clear();
        // Four rows at a time: four independent accumulator chains share every load of the query, and
        // each row is still summed in exactly the order of `dot` / `dot_i8` (bit-identical results).
        match &self.vectors {
            Vectors::F32(v) => {
                let mut blocks = v.chunks_exact(4 * d);
                for b in &mut blocks {
                    let (r01, r23) = b.split_at(2 * d);
                    let (r0, r1) = r01.split_at(d);
                    let (r2, r3) = r23.split_at(d);
                    out.extend_from_slice(&dot4([r0, r1, r2, r3], query));
                }
                out.extend(
                    blocks
                        .remainder()
                        .chunks_exact(d)
                        .map(|row| dot(row, query)),
                );
            }
            Vectors::Int8 { scales, data } => {
                let mut blocks = data.chunks_exact(4 * d);
                let mut sc = scales.chunks_exact(4);
                for (b, s) in (&mut blocks).zip(&mut sc) {
                    let (r01, r23) = b.split_at(2 * d);
                    let (r0, r1) = r01.split_at(d);
                    let (r2, r3) = r23.split_at(d);
                    let p = dot4_i8([r0, r1, r2, r3], query);
                    out.extend_from_slice(&[s[0] * p[0], s[1] * p[1], s[2] * p[2], s[3] * p[3]]);
                }
                out.extend(
                    blocks
                        .remainder()
                        .chunks_exact(d)
                        .zip(sc.remainder())
                        .map(|(row, s)| s * dot_i8(row, query)),
                );
            }
            Vectors::IvfPq(ix) => ix.score_all(query, &mut Vec::new(), out),
            Vectors::Split(sp) => {
                // the resident rows; the others cannot be scored yet
                out.resize(sp.len(), f32::NEG_INFINITY);
                let mut row = vec![0f32; d];
                for j in 0..sp.pool_len() {
                    let i = sp.pool_row(j);
                    sp.copy_row(i, &mut row);
                    out[i] = dot(&row, query);
                }
            }
        }
    }
}

/// [`dot`] of four equal-length rows with one query.
fn dot4(rows: [&[f32]; 4], b: &[f32]) -> [f32; 4] {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        simd::dot4(rows, b)
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        rows.map(|r| dot_portable(r, b))
    }
}

/// `dot_i8` of four equal-length int8 rows with one query.
fn dot4_i8(rows: [&[i8]; 4], b: &[f32]) -> [f32; 4] {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        simd::dot4_i8(rows, b)
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        rows.map(|r| dot_i8_portable(r, b))
    }
}

/// Dot product of an int8 row with an f32 query, in four independent lanes like [`dot`] (a sequential
/// `sum()` cannot be vectorised: float addition is not reassociated).
pub(crate) fn dot_i8(a: &[i8], b: &[f32]) -> f32 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        simd::dot_i8(a, b)
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        dot_i8_portable(a, b)
    }
}

#[cfg_attr(
    all(target_arch = "wasm32", target_feature = "simd128"),
    allow(dead_code)
)]
fn dot_i8_portable(a: &[i8], b: &[f32]) -> f32 {
    dot_lanes(a, b)
}

pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Dot product of two equal-length slices, in four independent lanes. On wasm with simd128 the lanes are
/// one `f32x4` (the release profile's opt-level "s" turns LLVM's auto-vectoriser off, so it is spelt out);
/// the lane order is the same, so both give bit-identical results.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        simd::dot(a, b)
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        dot_portable(a, b)
    }
}

#[cfg_attr(
    all(target_arch = "wasm32", target_feature = "simd128"),
    allow(dead_code)
)]
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    dot_lanes(a, b)
}

/// The portable four-lane dot product of `a` (f32 or int8, widened to f32) with `b`: lane `k` sums the
/// products at indices `≡ k (mod 4)`, then the lanes and the tail are added in that order (the order the
/// simd128 kernels follow, so both give bit-identical results).
#[cfg_attr(
    all(target_arch = "wasm32", target_feature = "simd128"),
    allow(dead_code)
)]
fn dot_lanes<T: Copy + Into<f32>>(a: &[T], b: &[f32]) -> f32 {
    let mut acc = [0f32; 4];
    let (ca, ra) = a.split_at(a.len() / 4 * 4);
    let (cb, rb) = b.split_at(ca.len());
    for (x, y) in ca.chunks_exact(4).zip(cb.chunks_exact(4)) {
        for k in 0..4 {
            acc[k] += x[k].into() * y[k];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(&x, y)| x.into() * y).sum();
    acc[0] + acc[1] + acc[2] + acc[3] + tail
}

/// wasm simd128 versions of [`dot`] and `dot_i8`: lane `k` sums the products at indices `≡ k (mod 4)`,
/// exactly like the portable code, then the lanes and the tail are added in the same order.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use core::arch::wasm32::*;

    fn finish(acc: v128, tail: f32) -> f32 {
        f32x4_extract_lane::<0>(acc)
            + f32x4_extract_lane::<1>(acc)
            + f32x4_extract_lane::<2>(acc)
            + f32x4_extract_lane::<3>(acc)
            + tail
    }

    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
        let (ca, ra) = a.split_at(a.len() / 4 * 4);
        let (cb, rb) = b.split_at(ca.len());
        let mut acc = f32x4_splat(0.0);
        for (x, y) in ca.chunks_exact(4).zip(cb.chunks_exact(4)) {
            // SAFETY: both chunks are 4 f32 = 16 bytes; v128_load has no alignment requirement.
            let (x, y) = unsafe {
                (
                    v128_load(x.as_ptr() as *const v128),
                    v128_load(y.as_ptr() as *const v128),
                )
            };
            acc = f32x4_add(acc, f32x4_mul(x, y));
        }
        finish(acc, ra.iter().zip(rb).map(|(x, y)| x * y).sum())
    }

    pub fn dot_i8(a: &[i8], b: &[f32]) -> f32 {
        let (ca, ra) = a.split_at(a.len() / 4 * 4);
        let (cb, rb) = b.split_at(ca.len());
        let mut acc = f32x4_splat(0.0);
        for (x, y) in ca.chunks_exact(4).zip(cb.chunks_exact(4)) {
            // SAFETY: x is 4 bytes (read unaligned as one u32), y is 4 f32 = 16 bytes.
            let (x, y) = unsafe {
                (
                    v128_load32_zero(x.as_ptr() as *const u32),
                    v128_load(y.as_ptr() as *const v128),
                )
            };
            let x = f32x4_convert_i32x4(i32x4_extend_low_i16x8(i16x8_extend_low_i8x16(x)));
            acc = f32x4_add(acc, f32x4_mul(x, y));
        }
        finish(acc, ra.iter().zip(rb).map(|(&x, y)| x as f32 * y).sum())
    }

    /// [`dot`] of four rows at once: one accumulator per row, the query loaded once per step.
    pub fn dot4(rows: [&[f32]; 4], b: &[f32]) -> [f32; 4] {
        let n = rows.iter().fold(b.len(), |m, r| m.min(r.len())) / 4 * 4;
        let mut acc = [f32x4_splat(0.0); 4];
        let mut j = 0;
        while j < n {
            // SAFETY: j + 4 <= n <= the length of the query and of every row; v128_load has no
            // alignment requirement.
            unsafe {
                let y = v128_load(b.as_ptr().add(j) as *const v128);
                for (a, r) in acc.iter_mut().zip(rows) {
                    let x = v128_load(r.as_ptr().add(j) as *const v128);
                    *a = f32x4_add(*a, f32x4_mul(x, y));
                }
            }
            j += 4;
        }
        let mut out = [0f32; 4];
        for k in 0..4 {
            let tail = rows[k][n..].iter().zip(&b[n..]).map(|(x, y)| x * y).sum();
            out[k] = finish(acc[k], tail);
        }
        out
    }

    /// `dot_i8` of four int8 rows at once.
    pub fn dot4_i8(rows: [&[i8]; 4], b: &[f32]) -> [f32; 4] {
        let n = rows.iter().fold(b.len(), |m, r| m.min(r.len())) / 4 * 4;
        let mut acc = [f32x4_splat(0.0); 4];
        let mut j = 0;
        while j < n {
            // SAFETY: as in `dot4`; each row contributes 4 bytes read unaligned as one u32.
            unsafe {
                let y = v128_load(b.as_ptr().add(j) as *const v128);
                for (a, r) in acc.iter_mut().zip(rows) {
                    let x = v128_load32_zero(r.as_ptr().add(j) as *const u32);
                    let x = f32x4_convert_i32x4(i32x4_extend_low_i16x8(i16x8_extend_low_i8x16(x)));
                    *a = f32x4_add(*a, f32x4_mul(x, y));
                }
            }
            j += 4;
        }
        let mut out = [0f32; 4];
        for k in 0..4 {
            let tail = rows[k][n..]
                .iter()
                .zip(&b[n..])
                .map(|(&x, y)| x as f32 * y)
                .sum();
            out[k] = finish(acc[k], tail);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize, dim: usize, meta: bool) -> Catalog {
        let ids = (0..n).map(|i| format!("sku-{i}")).collect();
        let v = (0..n * dim)
            .map(|k| ((k * 7919 % 1000) as f32 / 500.0) - 1.0)
            .collect();
        let meta = meta.then(|| {
            (0..n)
                .map(|i| ItemMeta {
                    title: format!("Product {i} ✓"),
                    url: format!("/p/{i}"),
                    image: String::new(),
                    price: if i % 2 == 0 { Some(9.99) } else { None },
                })
                .collect()
        });
        Catalog::from_f32(ids, dim, v, meta, [7; 32]).unwrap()
    }

    #[test]
    fn round_trips_f32_and_int8_with_and_without_metadata() {
        for meta in [false, true] {
            let c = sample(13, 5, meta);
            let back = Catalog::from_bytes(&c.to_bytes()).unwrap();
            assert_eq!(back.ids(), c.ids());
            assert_eq!(back.vectors(), c.vectors());
            assert_eq!(back.meta(3), c.meta(3));
            let q = c.quantize_int8();
            let back = Catalog::from_bytes(&q.to_bytes()).unwrap();
            assert!(back.is_int8());
            assert_eq!(back.vectors(), q.vectors());
            let mut a = vec![0.0; 5];
            let mut b = vec![0.0; 5];
            c.copy_row(4, &mut a);
            back.copy_row(4, &mut b);
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 0.01, "{x} vs {y}");
            }
        }
    }

    #[test]
    fn every_truncation_is_a_specific_error() {
        let bytes = sample(4, 3, true).to_bytes();
        for cut in 0..bytes.len() {
            let err = Catalog::from_bytes(&bytes[..cut]).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::CatalogBadMagic
                        | Error::CatalogTruncated { .. }
                        | Error::CatalogChecksum
                        | Error::CatalogInvalid { .. }
                ),
                "cut {cut}: {err}"
            );
        }
    }

    #[test]
    fn a_caller_computed_body_digest_stands_in_for_hashing_and_still_catches_corruption() {
        let good = sample(4, 3, true).to_bytes();
        let body = body_range(good.len()).unwrap();
        let digest = sha256(&good[body.clone()]);
        let with = Catalog::from_bytes_with_body_digest(&good, Some(&digest)).unwrap();
        let without = Catalog::from_bytes(&good).unwrap();
        assert_eq!(with.to_bytes(), without.to_bytes());
        // a byte flipped in transit: the digest of what arrived no longer matches the file's checksum
        let mut bad = good.clone();
        let at = bad.len() - 40;
        bad[at] ^= 1;
        let bad_digest = sha256(&bad[body_range(bad.len()).unwrap()]);
        assert_eq!(
            Catalog::from_bytes_with_body_digest(&bad, Some(&bad_digest)).unwrap_err(),
            Error::CatalogChecksum
        );
        // a wrong digest for intact bytes is refused the same way
        assert_eq!(
            Catalog::from_bytes_with_body_digest(&good, Some(&[7; 32])).unwrap_err(),
            Error::CatalogChecksum
        );
        assert_eq!(body_range(31), None);
        assert_eq!(body_range(32), Some(0..0));
    }

    #[test]
    fn detects_bad_magic_version_checksum_and_content() {
        let good = sample(4, 3, false).to_bytes();
        let mut b = good.clone();
        b[0] = b'X';
        assert_eq!(Catalog::from_bytes(&b).unwrap_err(), Error::CatalogBadMagic);
        let mut b = good.clone();
        b[8] = 9;
        assert!(matches!(
            Catalog::from_bytes(&b).unwrap_err(),
            Error::CatalogVersion { found: 9, .. }
        ));
        let mut b = good.clone();
        let last = b.len() - 40;
        b[last] ^= 1;
        assert_eq!(Catalog::from_bytes(&b).unwrap_err(), Error::CatalogChecksum);
        // A huge announced item count is refused before any allocation.
        let mut b = good.clone();
        b[12..16].copy_from_slice(&(3_000_000u32).to_le_bytes());
        assert!(matches!(
            Catalog::from_bytes(&b).unwrap_err(),
            Error::CatalogTruncated { .. }
        ));
        let err = Catalog::from_f32(
            vec!["a".into(), "a".into()],
            1,
            vec![0.0, 1.0],
            None,
            [0; 32],
        )
        .unwrap_err();
        assert_eq!(err, Error::CatalogDuplicateId("a".into()));
        assert!(err.to_string().contains("duplicate item id"));
        let err =
            Catalog::from_f32(vec!["a".into()], 2, vec![f32::NAN, 1.0], None, [0; 32]).unwrap_err();
        assert_eq!(err, Error::CatalogNonFinite("a".into()));
    }

    #[test]
    fn int8_scoring_ranks_like_f32() {
        let c = sample(50, 16, false);
        let q8 = c.quantize_int8();
        let query: Vec<f32> = (0..16).map(|i| (i as f32 * 0.37).sin()).collect();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        c.score_all(&query, &mut a);
        q8.score_all(&query, &mut b);
        let err = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(err < 0.05, "max score error {err}");
        // The f32 winner is within twice the error bound of the int8 winner.
        let best = |s: &[f32]| {
            s.iter()
                .enumerate()
                .max_by(|x, y| x.1.total_cmp(y.1))
                .unwrap()
                .0
        };
        let b_max = b[best(&b)];
        assert!(b[best(&a)] >= b_max - 2.0 * err);
    }

    #[test]
    fn blocked_scoring_is_bit_identical_to_one_row_at_a_time() {
        // 4-row blocks plus a remainder of 3 rows; D = 18 leaves a 2-element tail in every row.
        for (n, dim) in [(23, 18), (4, 16), (3, 5)] {
            let c = sample(n, dim, false);
            let query: Vec<f32> = (0..dim).map(|i| (i as f32 * 0.37).sin()).collect();
            let mut got = Vec::new();
            c.score_all(&query, &mut got);
            let mut row = vec![0f32; dim];
            for (i, g) in got.iter().enumerate() {
                c.copy_row(i, &mut row);
                assert_eq!(g.to_bits(), dot(&row, &query).to_bits(), "f32 row {i}");
            }
            let q8 = c.quantize_int8();
            q8.score_all(&query, &mut got);
            let Vectors::Int8 { scales, data } = q8.vectors() else {
                unreachable!()
            };
            for (i, g) in got.iter().enumerate() {
                let want = scales[i] * dot_i8(&data[i * dim..(i + 1) * dim], &query);
                assert_eq!(g.to_bits(), want.to_bits(), "int8 row {i}");
            }
        }
    }

    #[test]
    fn sha_hex_round_trip() {
        let h = sha256(b"abc");
        assert_eq!(parse_sha256_hex(&hex(&h)), Some(h));
        assert_eq!(parse_sha256_hex("zz"), None);
    }
}
