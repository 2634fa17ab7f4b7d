//! Catalog format version 3, the *split* catalog: an IVF-PQ catalog ([`crate::ivfpq`]) cut into a small
//! **head** the page downloads first and a **body** of chunks it fetches on demand (HTTP Range requests
//! on one static file), for shops whose catalog is too big to download whole (100k–1M items).
//!
//! The head (its own file, checked by its trailing SHA-256 like every catalog, and by SRI in the page):
//!
//! | size | field |
//! |---|---|
//! | 52 | the common header: magic, version `3`, dtype `2` (PQ codes) or `3` (+ int8 vectors), flags (bit 0: display metadata), `n`, `d`, model SHA-256 |
//! | 16 | IVF-PQ parameters as in version 2: `nlist`, `m`, `ksub`, `nprobe`, `rerank` |
//! | 4 + 4 + 8 | directory buckets `B`, rows per item block `R`, body length |
//! | … | centroids, codebooks, list offsets as in version 2 |
//! | `44·nlist` | one chunk reference per list: body offset (u64), length (u32), SHA-256 |
//! | `44·B` | one chunk reference per directory bucket |
//! | 32 | SHA-256 of every byte before it |
//!
//! Body chunks, each checked against the SHA-256 its reference names before any byte of it is used:
//! - **list `l`** (`rows = offsets[l+1] − offsets[l]`): `rows·m` codes; dtype 3: `rows` f32 scales and
//!   `rows·d` i8 values; then one chunk reference per *item block* of the list (`⌈rows / R⌉`).
//! - **item block `j` of list `l`** (rows `offsets[l] + j·R ..`, at most `R`): per row its id (a u16
//!   length, then UTF-8) and, with metadata, title, url, image (likewise) and price (f64, NaN = unknown).
//!   Only the blocks of items shown or remembered are fetched.
//! - **directory bucket `b`**: a u32 count, then `(id, row u32)` pairs sorted by id, every id with
//!   `fnv1a64(id) mod B = b`: how an item id the page names (an event) finds its row.
//!
//! Integrity: the head is trusted through its checksum (and the page's SRI); every chunk through the
//! head's (or its list's) SHA-256 of it. A chunk that fails is refused with [`Error::CatalogChunk`] and
//! never used. What is resident is bounded ([`Limits`]): least recently used lists, blocks and buckets are
//! dropped, except what the current session refers to (its items' lists and ids are pinned), so nothing
//! grows with the shopper's browsing and no row ever names another item.

use std::collections::BTreeMap;

use crate::catalog::{sha256, ItemMeta, Reader, MAX_ID_LEN, MAX_META_LEN};
use crate::error::{Error, Result};
use crate::ivfpq::{IvfPq, ListStore, Params, Scratch};

/// Catalog format version of split catalogs.
pub const FORMAT_VERSION_SPLIT: u16 = 3;
/// Largest number of directory buckets.
pub const MAX_BUCKETS: usize = 65_536;
/// Largest number of rows per item block.
pub const MAX_BLOCK_ROWS: usize = 4_096;
/// Bytes of one chunk reference.
const REF_LEN: usize = 44;
/// Bytes of the version-3 fields after the version-2 parameters.
const EXTRA_LEN: usize = 16;
/// Largest directory bucket accepted, in bytes.
const MAX_BUCKET_BYTES: usize = 64 << 20;

/// Where a chunk is in the body, and the SHA-256 it must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkRef {
    /// Byte offset in the body.
    pub offset: u64,
    /// Length in bytes.
    pub len: u32,
    /// SHA-256 of the chunk's bytes.
    pub sha256: [u8; 32],
}

/// The kinds of body chunk.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum ChunkKind {
    /// An inverted list's codes (and int8 vectors).
    List,
    /// An item block: ids and display metadata of up to `R` rows of one list.
    Items,
    /// A directory bucket: item id → row.
    Directory,
}

/// A chunk the page should fetch: `bytes=offset-(offset+length−1)` of the body file, then hand the bytes
/// to `Predictor.addChunk(request, bytes)`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChunkRequest {
    /// What the chunk holds.
    pub kind: ChunkKind,
    /// The list (lists and item blocks; 0 for a directory bucket).
    pub list: u32,
    /// The item block within the list, or the directory bucket (0 for a list).
    pub index: u32,
    /// Byte offset in the body file.
    pub offset: u64,
    /// Length in bytes.
    pub length: u32,
}

/// How much of the body a split catalog keeps in memory (least recently used first out; the current
/// session's lists are never dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of resident lists (codes, int8 vectors, block tables).
    pub list_bytes: usize,
    /// Resident item blocks.
    pub blocks: usize,
    /// Resident directory buckets.
    pub buckets: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            list_bytes: 24 << 20,
            blocks: 256,
            buckets: 128,
        }
    }
}

/// An item id looked up in a split catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// The item's row.
    Row(usize),
    /// Not in the catalog (its directory bucket is resident and does not name it).
    Absent,
    /// Unknown yet: its directory bucket has not been fetched.
    Unresolved(usize),
}

#[derive(Debug, Clone)]
struct ListData {
    codes: Vec<u8>,
    scales: Vec<f32>,
    int8: Vec<i8>,
    blocks: Vec<ChunkRef>,
    used: u64,
}

impl ListData {
    fn bytes(&self) -> usize {
        self.codes.len() + 4 * self.scales.len() + self.int8.len() + REF_LEN * self.blocks.len()
    }
}

#[derive(Debug, Clone)]
struct Block {
    ids: Vec<String>,
    meta: Vec<ItemMeta>,
    used: u64,
}

#[derive(Debug, Clone)]
struct Bucket {
    entries: Vec<(String, u32)>,
    used: u64,
}

/// A loaded split catalog: the head, and the body chunks fetched so far.
#[derive(Debug, Clone)]
pub struct Split {
    /// The geometry (centroids, codebooks, offsets, search parameters); its `codes` are empty.
    geo: IvfPq,
    n: usize,
    rescore: bool,
    has_meta: bool,
    block_rows: usize,
    body_len: u64,
    list_refs: Vec<ChunkRef>,
    bucket_refs: Vec<ChunkRef>,
    lists: Vec<Option<ListData>>,
    blocks: BTreeMap<(u32, u32), Block>,
    buckets: BTreeMap<u32, Bucket>,
    /// Ids of the rows the current session refers to (kept when their bucket or block is dropped).
    pinned: Vec<(u32, String)>,
    /// Cumulative rows of the resident lists, for sampling negatives: `(rows so far, list)`.
    pool: Vec<(u32, u32)>,
    limits: Limits,
    clock: u64,
    /// Tick at which the current operation started ([`Split::begin`]).
    epoch: u64,
    head: Vec<u8>,
}

fn invalid(what: &'static str, detail: String) -> Error {
    Error::CatalogInvalid { what, detail }
}

fn chunk_err(req: &ChunkRequest, detail: impl Into<String>) -> Error {
    Error::CatalogChunk {
        kind: req.kind,
        list: req.list,
        index: req.index,
        detail: detail.into(),
    }
}

/// The directory bucket of an item id among `buckets`: FNV-1a (64-bit) of its UTF-8 bytes, mod `buckets`
/// (stable across platforms and versions: the builder and the page must agree).
pub fn bucket_of(id: &str, buckets: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % buckets.max(1) as u64) as usize
}

/// Drops the least recently used entries of `map` (by `used`) while it holds more than `cap` (at least
/// one), never one used since `epoch` (the operation in progress).
fn drop_lru<K: Ord + Copy, V>(
    map: &mut BTreeMap<K, V>,
    cap: usize,
    epoch: u64,
    used: impl Fn(&V) -> u64,
) {
    while map.len() > cap.max(1) {
        let Some(k) = map
            .iter()
            .filter(|(_, v)| used(v) < epoch)
            .min_by_key(|(_, v)| used(v))
            .map(|(k, _)| *k)
        else {
            break;
        };
        map.remove(&k);
    }
}

fn read_ref(r: &mut Reader<'_>, what: &'static str) -> Result<ChunkRef> {
    let lo = r.u32(what)? as u64;
    let hi = r.u32(what)? as u64;
    let len = r.u32(what)?;
    let sha256 = r.take(32, what)?.try_into().expect("32 bytes");
    Ok(ChunkRef {
        offset: lo | hi << 32,
        len,
        sha256,
    })
}

fn put_ref(out: &mut Vec<u8>, c: &ChunkRef) {
    out.extend_from_slice(&c.offset.to_le_bytes());
    out.extend_from_slice(&c.len.to_le_bytes());
    out.extend_from_slice(&c.sha256);
}

fn put_str(out: &mut Vec<u8>, s: &str, max: usize) {
    let s = crate::catalog::truncate(s, max);
    out.extend_from_slice(&(s.len() as u16).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

impl Split {
    /// Decodes a split catalog's head (`body` is every byte but the trailing 32-byte checksum, already
    /// checked by the caller; the reader stands after the 52-byte common header). Allocates nothing the
    /// head's own length does not cover.
    pub(crate) fn read_head(
        head: &[u8],
        r: &mut Reader<'_>,
        n: usize,
        dim: usize,
        dtype: u8,
        has_meta: bool,
    ) -> Result<Split> {
        let params = Params::read(r, n, dim)?;
        let nbuckets = r.u32("directory buckets")? as usize;
        let block_rows = r.u32("item block rows")? as usize;
        let lo = r.u32("body length")? as u64;
        let body_len = lo | (r.u32("body length")? as u64) << 32;
        if nbuckets == 0 || nbuckets > MAX_BUCKETS {
            return Err(invalid(
                "directory buckets",
                format!("{nbuckets} (must be 1..={MAX_BUCKETS})"),
            ));
        }
        if block_rows == 0 || block_rows > MAX_BLOCK_ROWS {
            return Err(invalid(
                "item block rows",
                format!("{block_rows} (must be 1..={MAX_BLOCK_ROWS})"),
            ));
        }
        let need = params.head_len(dim) + REF_LEN * (params.nlist + nbuckets);
        if need != r.remaining() {
            return Err(invalid(
                "head length",
                format!(
                    "{} bytes after the parameters, {need} expected",
                    r.remaining()
                ),
            ));
        }
        let geometry = params.read_head(r, dim)?;
        let nlist = params.nlist;
        let mut list_refs = Vec::with_capacity(nlist);
        for _ in 0..nlist {
            list_refs.push(read_ref(r, "list table")?);
        }
        let mut bucket_refs = Vec::with_capacity(nbuckets);
        for _ in 0..nbuckets {
            bucket_refs.push(read_ref(r, "directory table")?);
        }
        let rescore = dtype == 3;
        let (centroids, codebooks, offsets) = geometry;
        let geo = IvfPq {
            dim,
            subspaces: params.subspaces,
            ksub: params.ksub,
            centroids,
            codebooks,
            offsets,
            codes: Vec::new(),
            rescore: None,
            nprobe: params.nprobe,
            rerank: params.rerank,
        };
        geo.validate_geometry(n)?;
        let m = geo.subspaces;
        for (l, c) in list_refs.iter().enumerate() {
            let rows = (geo.offsets[l + 1] - geo.offsets[l]) as usize;
            let want = rows * m
                + if rescore { rows * (4 + dim) } else { 0 }
                + REF_LEN * rows.div_ceil(block_rows);
            if c.len as usize != want {
                return Err(invalid(
                    "list table",
                    format!(
                        "list {l} is {} bytes, {want} expected for {rows} rows",
                        c.len
                    ),
                ));
            }
        }
        for (what, refs) in [
            ("list table", &list_refs),
            ("directory table", &bucket_refs),
        ] {
            if let Some((i, _)) = refs.iter().enumerate().find(|(_, c)| {
                c.offset
                    .checked_add(c.len as u64)
                    .is_none_or(|e| e > body_len)
            }) {
                return Err(invalid(
                    what,
                    format!("chunk {i} ends past the body ({body_len} bytes)"),
                ));
            }
        }
        if let Some(b) = bucket_refs
            .iter()
            .position(|c| c.len < 4 || c.len as usize > MAX_BUCKET_BYTES)
        {
            return Err(invalid(
                "directory table",
                format!("bucket {b} has an impossible length"),
            ));
        }
        Ok(Split {
            geo,
            n,
            rescore,
            has_meta,
            block_rows,
            body_len,
            list_refs,
            bucket_refs,
            lists: vec![None; nlist],
            blocks: BTreeMap::new(),
            buckets: BTreeMap::new(),
            pinned: Vec::new(),
            pool: Vec::new(),
            limits: Limits::default(),
            clock: 0,
            epoch: 0,
            head: head.to_vec(),
        })
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Always false: a catalog holds at least one item.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The head's bytes (what `Catalog::to_bytes` gives back for a split catalog).
    pub fn head_bytes(&self) -> &[u8] {
        &self.head
    }

    /// Length of the body file the head describes.
    pub fn body_len(&self) -> u64 {
        self.body_len
    }

    /// The IVF geometry (centroids, codebooks, offsets and search parameters; no codes).
    pub fn geometry(&self) -> &IvfPq {
        &self.geo
    }

    /// Does the catalog carry display metadata?
    pub fn has_meta(&self) -> bool {
        self.has_meta
    }

    /// Sets the memory bounds (applied at the next chunk added).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Sets the lists probed per query and the candidates re-scored.
    pub fn set_search(&mut self, nprobe: usize, rerank: usize) {
        self.geo.set_search(nprobe, rerank);
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// Starts an operation (a query, resolving ids): what it touches or adds from now on is not dropped
    /// until the next one starts, so that an operation needing more than the limits still completes (the
    /// bound is then one operation's chunks plus the pinned ones).
    pub fn begin(&mut self) {
        self.epoch = self.tick();
    }

    /// The request for list `l`.
    pub fn list_request(&self, l: usize) -> ChunkRequest {
        let c = &self.list_refs[l];
        ChunkRequest {
            kind: ChunkKind::List,
            list: l as u32,
            index: 0,
            offset: c.offset,
            length: c.len,
        }
    }

    /// Is list `l` resident?
    pub fn has_list(&self, l: usize) -> bool {
        self.lists.get(l).is_some_and(Option::is_some)
    }

    /// Resident lists, item blocks and directory buckets.
    pub fn resident(&self) -> (usize, usize, usize) {
        (
            self.lists.iter().filter(|l| l.is_some()).count(),
            self.blocks.len(),
            self.buckets.len(),
        )
    }

    /// The list holding row `i`.
    pub fn list_of(&self, i: usize) -> usize {
        self.geo.list_of(i)
    }

    fn block_of(&self, i: usize) -> (usize, usize, usize) {
        let l = self.geo.list_of(i);
        let r = i - self.geo.offsets[l] as usize;
        (l, r / self.block_rows, r % self.block_rows)
    }

    /// Looks an item id up: its row, absent, or not known until its directory bucket is fetched.
    pub fn lookup(&self, id: &str) -> Lookup {
        if let Some((row, _)) = self.pinned.iter().find(|(_, p)| p == id) {
            return Lookup::Row(*row as usize);
        }
        let b = bucket_of(id, self.bucket_refs.len());
        match self.buckets.get(&(b as u32)) {
            None => Lookup::Unresolved(b),
            Some(bucket) => match bucket.entries.binary_search_by(|(e, _)| e.as_str().cmp(id)) {
                Ok(k) => Lookup::Row(bucket.entries[k].1 as usize),
                Err(_) => Lookup::Absent,
            },
        }
    }

    /// The id of row `i`, if known (its item block resident, or the row pinned or in a resident bucket
    /// it was looked up in).
    pub fn id(&self, i: usize) -> Option<&str> {
        if i >= self.n {
            return None;
        }
        if let Some((_, id)) = self.pinned.iter().find(|(r, _)| *r as usize == i) {
            return Some(id);
        }
        let (l, j, r) = self.block_of(i);
        self.blocks
            .get(&(l as u32, j as u32))
            .and_then(|b| b.ids.get(r))
            .map(String::as_str)
    }

    /// The display metadata of row `i`, if its item block is resident.
    pub fn meta(&self, i: usize) -> Option<&ItemMeta> {
        if !self.has_meta || i >= self.n {
            return None;
        }
        let (l, j, r) = self.block_of(i);
        self.blocks
            .get(&(l as u32, j as u32))
            .and_then(|b| b.meta.get(r))
    }

    /// The chunks still needed to name `ids`: directory buckets of ids not resolved yet, then the lists
    /// of the resolved rows that are not resident (the session's item vectors). Sorted, no repeats.
    pub fn requests_for_ids<'a>(
        &mut self,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Vec<ChunkRequest> {
        self.begin();
        let now = self.clock;
        let mut out = Vec::new();
        for id in ids {
            if let Some(b) = self
                .buckets
                .get_mut(&(bucket_of(id, self.bucket_refs.len()) as u32))
            {
                b.used = now;
            }
            match self.lookup(id) {
                Lookup::Row(i) => {
                    let l = self.list_of(i);
                    match &mut self.lists[l] {
                        Some(list) => list.used = now,
                        None => out.push(self.list_request(l)),
                    }
                }
                Lookup::Absent => {}
                Lookup::Unresolved(b) => {
                    let c = &self.bucket_refs[b];
                    out.push(ChunkRequest {
                        kind: ChunkKind::Directory,
                        list: 0,
                        index: b as u32,
                        offset: c.offset,
                        length: c.len,
                    });
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The lists a top-`k` query scans that are not resident (the resident ones are marked used); `near`
    /// as in [`Split::search`].
    pub fn requests_for_query(
        &mut self,
        q: &[f32],
        k: usize,
        excluded: usize,
        near: &[usize],
        scratch: &mut Scratch,
    ) -> Vec<ChunkRequest> {
        self.begin();
        let probed = self
            .geo
            .lists_for(q, k, excluded, self.rescore, near, scratch);
        self.touch_lists(&probed);
        let mut out: Vec<ChunkRequest> = probed
            .into_iter()
            .filter(|&l| !self.has_list(l))
            .map(|l| self.list_request(l))
            .collect();
        out.sort_unstable();
        out
    }

    /// The item blocks needed to show `rows` (ids and metadata) that are not resident. A row whose list
    /// is not resident is skipped (its block table is in the list).
    pub fn requests_for_rows(&self, rows: impl IntoIterator<Item = usize>) -> Vec<ChunkRequest> {
        let mut out = Vec::new();
        for i in rows {
            if i >= self.n {
                continue;
            }
            let (l, j, _) = self.block_of(i);
            if self.blocks.contains_key(&(l as u32, j as u32)) {
                continue;
            }
            if let Some(list) = &self.lists[l] {
                let c = &list.blocks[j];
                out.push(ChunkRequest {
                    kind: ChunkKind::Items,
                    list: l as u32,
                    index: j as u32,
                    offset: c.offset,
                    length: c.len,
                });
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Marks the lists, blocks and buckets `rows` touch as just used (so a query's lists outlive older ones).
    pub fn touch_rows(&mut self, rows: &[usize]) {
        let now = self.tick();
        for &i in rows {
            if i >= self.n {
                continue;
            }
            let (l, j, _) = self.block_of(i);
            if let Some(list) = &mut self.lists[l] {
                list.used = now;
            }
            if let Some(b) = self.blocks.get_mut(&(l as u32, j as u32)) {
                b.used = now;
            }
        }
    }

    /// Marks lists as just used.
    pub fn touch_lists(&mut self, lists: &[usize]) {
        let now = self.tick();
        for &l in lists {
            if let Some(Some(list)) = self.lists.get_mut(l) {
                list.used = now;
            }
        }
    }

    /// The chunk reference `req` must match (offset, length and the SHA-256 it is checked against).
    fn reference(&self, req: &ChunkRequest) -> Result<ChunkRef> {
        let found = match req.kind {
            ChunkKind::List => self
                .list_refs
                .get(req.list as usize)
                .filter(|_| req.index == 0)
                .copied(),
            ChunkKind::Directory => self
                .bucket_refs
                .get(req.index as usize)
                .filter(|_| req.list == 0)
                .copied(),
            ChunkKind::Items => match self.lists.get(req.list as usize) {
                Some(Some(list)) => list.blocks.get(req.index as usize).copied(),
                Some(None) => {
                    return Err(chunk_err(
                        req,
                        "its list is not resident (fetch the list first)",
                    ))
                }
                None => None,
            },
        };
        let c = found.ok_or_else(|| chunk_err(req, "no such chunk in this catalog"))?;
        if c.offset != req.offset || c.len != req.length {
            return Err(chunk_err(
                req,
                format!("the catalog has it at {}+{}", c.offset, c.len),
            ));
        }
        Ok(c)
    }

    /// Adds a fetched chunk after checking its length and SHA-256 against the head (or its list), then
    /// drops what is beyond the [`Limits`], never the lists and ids of `pinned` rows (the current
    /// session's). On any error nothing changes.
    pub fn add(&mut self, req: &ChunkRequest, bytes: &[u8], pinned: &[usize]) -> Result<()> {
        let c = self.reference(req)?;
        if bytes.len() != c.len as usize {
            return Err(chunk_err(
                req,
                format!("{} bytes, {} expected", bytes.len(), c.len),
            ));
        }
        if sha256(bytes) != c.sha256 {
            return Err(chunk_err(
                req,
                "SHA-256 mismatch (corrupted or from another catalog)",
            ));
        }
        let now = self.tick();
        match req.kind {
            ChunkKind::List => {
                let l = req.list as usize;
                let list = self.parse_list(l, bytes, req)?;
                self.lists[l] = Some(ListData { used: now, ..list });
                self.rebuild_pool();
            }
            ChunkKind::Items => {
                let block = self.parse_block(req, bytes)?;
                self.blocks
                    .insert((req.list, req.index), Block { used: now, ..block });
            }
            ChunkKind::Directory => {
                let entries = self.parse_bucket(req, bytes)?;
                self.buckets
                    .insert(req.index, Bucket { entries, used: now });
            }
        }
        self.pin(pinned);
        let added = match req.kind {
            ChunkKind::Directory => usize::MAX,
            _ => req.list as usize,
        };
        self.evict(pinned, added);
        Ok(())
    }

    fn parse_list(&self, l: usize, bytes: &[u8], req: &ChunkRequest) -> Result<ListData> {
        let rows = (self.geo.offsets[l + 1] - self.geo.offsets[l]) as usize;
        let (m, d) = (self.geo.subspaces, self.geo.dim);
        let mut r = Reader::new(bytes);
        let codes = r.take(rows * m, "codes")?.to_vec();
        if let Some(p) = codes.iter().position(|&c| c as usize >= self.geo.ksub) {
            return Err(chunk_err(req, format!("code {p} is past the codebook")));
        }
        let (mut scales, mut int8) = (Vec::new(), Vec::new());
        if self.rescore {
            scales = r
                .take(rows * 4, "scales")?
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4")))
                .collect();
            if let Some(p) = scales.iter().position(|s| !s.is_finite()) {
                return Err(chunk_err(req, format!("row {p}'s scale is not finite")));
            }
            int8 = r
                .take(rows * d, "vectors")?
                .iter()
                .map(|&b| b as i8)
                .collect();
        }
        let nblocks = rows.div_ceil(self.block_rows);
        let mut blocks = Vec::with_capacity(nblocks);
        for _ in 0..nblocks {
            let c = read_ref(&mut r, "item block table")?;
            if c.offset
                .checked_add(c.len as u64)
                .is_none_or(|e| e > self.body_len)
            {
                return Err(chunk_err(req, "an item block ends past the body"));
            }
            blocks.push(c);
        }
        Ok(ListData {
            codes,
            scales,
            int8,
            blocks,
            used: 0,
        })
    }

    fn parse_block(&self, req: &ChunkRequest, bytes: &[u8]) -> Result<Block> {
        let l = req.list as usize;
        let list_rows = (self.geo.offsets[l + 1] - self.geo.offsets[l]) as usize;
        let first = req.index as usize * self.block_rows;
        let rows = self.block_rows.min(list_rows - first);
        let mut r = Reader::new(bytes);
        let mut ids = Vec::with_capacity(rows);
        let mut meta = Vec::new();
        for _ in 0..rows {
            let id = r.string("item id", MAX_ID_LEN)?;
            if id.is_empty() {
                return Err(chunk_err(req, "an empty item id"));
            }
            ids.push(id);
            if self.has_meta {
                let title = r.string("title", MAX_META_LEN)?;
                let url = r.string("url", MAX_META_LEN)?;
                let image = r.string("image", MAX_META_LEN)?;
                let price = r.f64("price")?;
                meta.push(ItemMeta {
                    title,
                    url,
                    image,
                    price: price.is_finite().then_some(price),
                });
            }
        }
        if r.remaining() != 0 {
            return Err(chunk_err(
                req,
                format!("{} bytes after the last row", r.remaining()),
            ));
        }
        // A row's id must agree with what the page already resolved it to.
        let base = self.geo.offsets[l] as usize + first;
        for (k, id) in ids.iter().enumerate() {
            let row = (base + k) as u32;
            if let Some((_, p)) = self.pinned.iter().find(|(r, _)| *r == row) {
                if p != id {
                    return Err(chunk_err(
                        req,
                        format!("row {row} is {id:?} here, {p:?} in the directory"),
                    ));
                }
            }
        }
        Ok(Block { ids, meta, used: 0 })
    }

    fn parse_bucket(&self, req: &ChunkRequest, bytes: &[u8]) -> Result<Vec<(String, u32)>> {
        let mut r = Reader::new(bytes);
        let count = r.u32("bucket count")? as usize;
        if count > r.remaining() / 7 {
            return Err(chunk_err(
                req,
                format!("{count} entries cannot fit in {} bytes", bytes.len()),
            ));
        }
        let nb = self.bucket_refs.len();
        let mut entries: Vec<(String, u32)> = Vec::with_capacity(count);
        for _ in 0..count {
            let id = r.string("item id", MAX_ID_LEN)?;
            let row = r.u32("row")?;
            if row as usize >= self.n {
                return Err(chunk_err(
                    req,
                    format!("{id:?} names row {row} of {}", self.n),
                ));
            }
            if bucket_of(&id, nb) != req.index as usize {
                return Err(chunk_err(req, format!("{id:?} belongs to another bucket")));
            }
            if entries.last().is_some_and(|(p, _)| *p >= id) {
                return Err(chunk_err(
                    req,
                    format!("{id:?} is out of order or repeated"),
                ));
            }
            entries.push((id, row));
        }
        if r.remaining() != 0 {
            return Err(chunk_err(
                req,
                format!("{} bytes after the last entry", r.remaining()),
            ));
        }
        Ok(entries)
    }

    /// Drops every fetched chunk and pin (what `forget()` does: which chunks are resident says where the
    /// shopper browsed).
    pub fn clear(&mut self) {
        self.lists.iter_mut().for_each(|l| *l = None);
        self.blocks.clear();
        self.buckets.clear();
        self.pinned.clear();
        self.pool.clear();
        self.clock = 0;
    }

    /// Keeps the ids of `rows` (the current session's) whatever is dropped later; forgets other pins.
    pub fn pin(&mut self, rows: &[usize]) {
        // (ids known from `pin_id` are found in `id`'s scan of the pins, not in every resident bucket)
        let mut kept: Vec<(u32, String)> = Vec::with_capacity(rows.len());
        for &i in rows {
            if kept.iter().any(|(r, _)| *r as usize == i) {
                continue;
            }
            if let Some(id) = self.id(i).map(str::to_string).or_else(|| self.bucket_id(i)) {
                kept.push((i as u32, id));
            }
        }
        self.pinned = kept;
    }

    /// Pins row `i` as item `id` (the id it was just resolved from), until the next [`Split::pin`] that
    /// leaves the row out: later pins find it here instead of scanning every resident bucket.
    pub fn pin_id(&mut self, i: usize, id: &str) {
        if i < self.n && !self.pinned.iter().any(|(r, _)| *r as usize == i) {
            self.pinned.push((i as u32, id.to_string()));
        }
    }

    fn bucket_id(&self, i: usize) -> Option<String> {
        self.buckets
            .values()
            .flat_map(|b| &b.entries)
            .find(|(_, r)| *r as usize == i)
            .map(|(id, _)| id.clone())
    }

    /// Drops least recently used chunks beyond the limits; never the lists of `pinned` rows, nor list
    /// `added` (what was just fetched for the operation in progress).
    fn evict(&mut self, pinned: &[usize], added: usize) {
        let mut keep: Vec<usize> = pinned
            .iter()
            .map(|&i| self.list_of(i.min(self.n - 1)))
            .collect();
        keep.push(added);
        let mut total: usize = self.lists.iter().flatten().map(ListData::bytes).sum();
        let mut dropped = false;
        while total > self.limits.list_bytes {
            let victim = self
                .lists
                .iter()
                .enumerate()
                .filter(|(l, x)| {
                    x.as_ref().is_some_and(|x| x.used < self.epoch) && !keep.contains(l)
                })
                .min_by_key(|(_, x)| x.as_ref().map_or(0, |x| x.used))
                .map(|(l, _)| l);
            let Some(l) = victim else { break };
            total -= self.lists[l].as_ref().map_or(0, ListData::bytes);
            self.lists[l] = None;
            self.blocks.retain(|&(bl, _), _| bl as usize != l);
            dropped = true;
        }
        if dropped {
            self.rebuild_pool();
        }
        let epoch = self.epoch;
        drop_lru(&mut self.blocks, self.limits.blocks, epoch, |b| b.used);
        drop_lru(&mut self.buckets, self.limits.buckets, epoch, |b| b.used);
    }

    fn rebuild_pool(&mut self) {
        self.pool.clear();
        let mut sum = 0u32;
        for (l, x) in self.lists.iter().enumerate() {
            if x.is_some() {
                sum += self.geo.offsets[l + 1] - self.geo.offsets[l];
                self.pool.push((sum, l as u32));
            }
        }
    }

    /// Rows available to the on-device learner as negatives: those of the resident lists.
    pub fn pool_len(&self) -> usize {
        self.pool.last().map_or(0, |p| p.0 as usize)
    }

    /// Row `j` (`< pool_len`) of the resident lists, in list order.
    pub fn pool_row(&self, j: usize) -> usize {
        let k = self.pool.partition_point(|p| p.0 as usize <= j);
        let Some(&(end, l)) = self.pool.get(k) else {
            return 0;
        };
        let l = l as usize;
        let rows = (self.geo.offsets[l + 1] - self.geo.offsets[l]) as usize;
        self.geo.offsets[l] as usize + rows - (end as usize - j)
    }

    /// The item vector of row `i` (zeros while its list is not resident).
    pub fn copy_row(&self, i: usize, out: &mut [f32]) {
        if i >= self.n {
            out.iter_mut().for_each(|o| *o = 0.0);
            return;
        }
        let l = self.geo.list_of(i);
        self.geo
            .copy_row_in(self, l, i - self.geo.offsets[l] as usize, out);
    }

    /// The best `k` rows for `q` over the resident lists among those the query probes, the lists of the
    /// rows `near` included ([`crate::ivfpq::IvfPq::search_near`]).
    pub fn search(
        &self,
        q: &[f32],
        k: usize,
        exclude: &[usize],
        near: &[usize],
        scratch: &mut Scratch,
    ) -> Vec<(usize, f32)> {
        self.geo.search_in(self, q, k, exclude, near, scratch)
    }

    /// Approximate wasm32 heap bytes of what is resident.
    pub fn wasm32_heap_bytes(&self) -> usize {
        let s = |x: &str| 12 + x.len().div_ceil(8) * 8;
        let lists: usize = self.lists.iter().flatten().map(ListData::bytes).sum();
        let blocks: usize = self
            .blocks
            .values()
            .map(|b| {
                b.ids.iter().map(|x| s(x)).sum::<usize>()
                    + b.meta
                        .iter()
                        .map(|m| 16 + s(&m.title) + s(&m.url) + s(&m.image))
                        .sum::<usize>()
            })
            .sum();
        let buckets: usize = self
            .buckets
            .values()
            .map(|b| b.entries.iter().map(|(x, _)| 4 + s(x)).sum::<usize>())
            .sum();
        self.head.len()
            + 4 * (self.geo.centroids.len() + self.geo.codebooks.len() + self.geo.offsets.len())
            + REF_LEN * (self.list_refs.len() + self.bucket_refs.len())
            + lists
            + blocks
            + buckets
    }
}

/// Two split catalogs are equal when their heads are (the same catalog, whatever each has fetched).
impl PartialEq for Split {
    fn eq(&self, other: &Self) -> bool {
        self.head == other.head
    }
}

impl ListStore for Split {
    fn codes(&self, l: usize) -> Option<&[u8]> {
        self.lists.get(l)?.as_ref().map(|x| x.codes.as_slice())
    }
    fn int8(&self, l: usize) -> Option<(&[f32], &[i8])> {
        let x = self.lists.get(l)?.as_ref()?;
        self.rescore
            .then_some((x.scales.as_slice(), x.int8.as_slice()))
    }
    fn has_int8(&self) -> bool {
        self.rescore
    }
}

/// Writes an IVF-PQ catalog (`ix`, rows grouped by list, with `ids` and optional `meta` in row order)
/// as a split catalog: `(head, body)`. `buckets` directory buckets (0: one per 1,024 items), `block_rows`
/// rows per item block. The head's checksum is over the head; every chunk's SHA-256 is in it.
pub fn write(
    ix: &IvfPq,
    ids: &[String],
    meta: Option<&[ItemMeta]>,
    model_sha256: &[u8; 32],
    buckets: usize,
    block_rows: usize,
) -> Result<(Vec<u8>, Vec<u8>)> {
    let n = ids.len();
    ix.validate(n)?;
    let buckets = if buckets == 0 {
        n.div_ceil(1024)
    } else {
        buckets
    }
    .clamp(1, MAX_BUCKETS);
    if block_rows == 0 || block_rows > MAX_BLOCK_ROWS {
        return Err(invalid(
            "item block rows",
            format!("{block_rows} (must be 1..={MAX_BLOCK_ROWS})"),
        ));
    }
    let (m, d) = (ix.subspaces, ix.dim);
    let mut body = Vec::new();
    // Item blocks first (a list names its blocks), then the lists, contiguous, in a chain of near
    // centroids ([`list_chain`]): the lists one query probes are then often neighbours in the file, and
    // the page can fetch a run of them with one Range request.
    let mut blocks_of: Vec<Vec<ChunkRef>> = Vec::with_capacity(ix.nlist());
    for l in 0..ix.nlist() {
        let (a, b) = (ix.offsets[l] as usize, ix.offsets[l + 1] as usize);
        let mut block_refs = Vec::new();
        for start in (a..b).step_by(block_rows) {
            let end = (start + block_rows).min(b);
            let mut blk = Vec::new();
            for i in start..end {
                put_str(&mut blk, &ids[i], MAX_ID_LEN);
                if let Some(meta) = meta {
                    let x = &meta[i];
                    put_str(&mut blk, &x.title, MAX_META_LEN);
                    put_str(&mut blk, &x.url, MAX_META_LEN);
                    put_str(&mut blk, &x.image, MAX_META_LEN);
                    blk.extend_from_slice(&x.price.unwrap_or(f64::NAN).to_le_bytes());
                }
            }
            block_refs.push(ChunkRef {
                offset: body.len() as u64,
                len: blk.len() as u32,
                sha256: sha256(&blk),
            });
            body.extend_from_slice(&blk);
        }
        blocks_of.push(block_refs);
    }
    let mut list_refs = vec![
        ChunkRef {
            offset: 0,
            len: 0,
            sha256: [0; 32]
        };
        ix.nlist()
    ];
    for l in list_chain(ix) {
        let (a, b) = (ix.offsets[l] as usize, ix.offsets[l + 1] as usize);
        let mut chunk = ix.codes[a * m..b * m].to_vec();
        if let Some((scales, data)) = &ix.rescore {
            scales[a..b]
                .iter()
                .for_each(|x| chunk.extend_from_slice(&x.to_le_bytes()));
            chunk.extend(data[a * d..b * d].iter().map(|&q| q as u8));
        }
        blocks_of[l].iter().for_each(|c| put_ref(&mut chunk, c));
        list_refs[l] = ChunkRef {
            offset: body.len() as u64,
            len: chunk.len() as u32,
            sha256: sha256(&chunk),
        };
        body.extend_from_slice(&chunk);
    }
    let mut by_bucket: Vec<Vec<(&str, u32)>> = vec![Vec::new(); buckets];
    for (i, id) in ids.iter().enumerate() {
        if id.is_empty() || id.len() > MAX_ID_LEN {
            return Err(invalid(
                "item id",
                format!("row {i}: {id:?} (1..={MAX_ID_LEN} bytes)"),
            ));
        }
        by_bucket[bucket_of(id, buckets)].push((id, i as u32));
    }
    let mut bucket_refs = Vec::with_capacity(buckets);
    for entries in &mut by_bucket {
        entries.sort_unstable();
        if let Some(w) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(Error::CatalogDuplicateId(w[0].0.to_string()));
        }
        let mut chunk = (entries.len() as u32).to_le_bytes().to_vec();
        for (id, row) in entries.iter() {
            put_str(&mut chunk, id, MAX_ID_LEN);
            chunk.extend_from_slice(&row.to_le_bytes());
        }
        bucket_refs.push(ChunkRef {
            offset: body.len() as u64,
            len: chunk.len() as u32,
            sha256: sha256(&chunk),
        });
        body.extend_from_slice(&chunk);
    }
    let mut head = Vec::new();
    head.extend_from_slice(crate::catalog::MAGIC);
    head.extend_from_slice(&FORMAT_VERSION_SPLIT.to_le_bytes());
    head.push(2 + u8::from(ix.rescore.is_some()));
    head.push(u8::from(meta.is_some()));
    head.extend_from_slice(&(n as u32).to_le_bytes());
    head.extend_from_slice(&(d as u32).to_le_bytes());
    head.extend_from_slice(model_sha256);
    ix.put_params(&mut head);
    head.extend_from_slice(&(buckets as u32).to_le_bytes());
    head.extend_from_slice(&(block_rows as u32).to_le_bytes());
    head.extend_from_slice(&(body.len() as u64).to_le_bytes());
    ix.put_head(&mut head);
    list_refs.iter().for_each(|c| put_ref(&mut head, c));
    bucket_refs.iter().for_each(|c| put_ref(&mut head, c));
    let sum = sha256(&head);
    head.extend_from_slice(&sum);
    debug_assert_eq!(EXTRA_LEN, 16);
    Ok((head, body))
}

/// The order the lists are written in: a greedy chain from list 0, each step to the nearest centroid not
/// yet taken (squared distance; ties to the lower list). Deterministic, `O(nlist² · d)`: one distance a
/// candidate a step.
pub fn list_chain(ix: &IvfPq) -> Vec<usize> {
    let (nl, d) = (ix.nlist(), ix.dim);
    let c = |l: usize| &ix.centroids[l * d..(l + 1) * d];
    let mut taken = vec![false; nl];
    let mut order = Vec::with_capacity(nl);
    let mut at = 0;
    for _ in 0..nl {
        taken[at] = true;
        order.push(at);
        let here = c(at);
        let dist =
            |l: usize| -> f32 { c(l).iter().zip(here).map(|(a, b)| (a - b) * (a - b)).sum() };
        let next = (0..nl)
            .filter(|&l| !taken[l])
            .map(|l| (dist(l), l))
            .min_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        match next {
            Some((_, l)) => at = l,
            None => break,
        }
    }
    order
}

/// [`write`] for a loaded IVF-PQ catalog (format version 2): its ids and metadata as they are.
pub fn write_catalog(
    catalog: &crate::catalog::Catalog,
    buckets: usize,
    block_rows: usize,
) -> Result<(Vec<u8>, Vec<u8>)> {
    let ix = catalog.ivfpq().ok_or_else(|| {
        invalid(
            "vectors",
            "only an IVF-PQ catalog (format version 2) can be split".into(),
        )
    })?;
    let meta: Option<Vec<ItemMeta>> = catalog.meta(0).is_some().then(|| {
        (0..catalog.len())
            .map(|i| catalog.meta(i).cloned().unwrap_or_default())
            .collect()
    });
    write(
        ix,
        catalog.ids(),
        meta.as_deref(),
        catalog.model_sha256(),
        buckets,
        block_rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::ivfpq::tests::small;

    fn body_of<'a>(body: &'a [u8], r: &ChunkRequest) -> &'a [u8] {
        &body[r.offset as usize..r.offset as usize + r.length as usize]
    }

    /// Fetches what `need` asks for until it asks for nothing (at most 4 rounds).
    fn settle(cat: &mut Catalog, body: &[u8], need: impl Fn(&mut Catalog) -> Vec<ChunkRequest>) {
        for _ in 0..4 {
            let reqs = need(cat);
            if reqs.is_empty() {
                return;
            }
            for r in reqs {
                cat.split_mut()
                    .unwrap()
                    .add(&r, body_of(body, &r), &[])
                    .unwrap();
            }
        }
        panic!("still missing chunks after 4 rounds");
    }

    #[test]
    fn a_split_catalog_answers_like_the_whole_one_once_its_chunks_are_in() {
        for (rescore, meta) in [(true, true), (false, false), (true, false)] {
            let whole = small(rescore, meta);
            let (head, body) = write_catalog(&whole, 3, 4).unwrap();
            let mut cat = Catalog::from_bytes(&head).unwrap();
            assert_eq!(cat.len(), whole.len());
            assert_eq!(cat.to_bytes(), head, "a split catalog writes its head");
            assert_eq!(cat.split().unwrap().body_len(), body.len() as u64);
            assert_eq!(cat.split().unwrap().resident(), (0, 0, 0));
            // ids resolve through their buckets, and only the needed ones are fetched
            assert!(matches!(cat.lookup("sku-3"), Lookup::Unresolved(_)));
            assert_eq!(cat.index_of("sku-3"), None);
            settle(&mut cat, &body, |c| {
                c.split_mut().unwrap().requests_for_ids(["sku-3", "nope"])
            });
            assert_eq!(
                cat.lookup("sku-3"),
                Lookup::Row(whole.index_of("sku-3").unwrap())
            );
            assert_eq!(cat.lookup("nope"), Lookup::Absent);
            let (lists, _, buckets) = cat.split().unwrap().resident();
            assert_eq!(lists, 1, "the list of sku-3's vector");
            assert!(buckets <= 2);
            let mut row = vec![0f32; 4];
            let mut want = vec![0f32; 4];
            let i = whole.index_of("sku-3").unwrap();
            cat.copy_row(i, &mut row);
            whole.copy_row(i, &mut want);
            assert_eq!(row, want);
            // queries: the lists they probe, then the item blocks of what they show
            let mut scratch = Scratch::default();
            let mut s2 = Scratch::default();
            for t in 0..6 {
                let q: Vec<f32> = (0..4).map(|j| ((t * 4 + j) as f32 * 0.9).cos()).collect();
                settle(&mut cat, &body, |c| {
                    let sp = c.split_mut().unwrap();
                    let mut s = Scratch::default();
                    let lists = sp.requests_for_query(&q, 5, 0, &[], &mut s);
                    if !lists.is_empty() {
                        return lists;
                    }
                    let top = sp.search(&q, 5, &[], &[], &mut s);
                    sp.requests_for_rows(top.into_iter().map(|x| x.0))
                });
                let got = cat.search(&q, 5, &[], &mut scratch);
                assert_eq!(got, whole.search(&q, 5, &[], &mut s2), "query {t}");
                for &(i, _) in &got {
                    assert_eq!(cat.id(i), whole.id(i));
                    assert_eq!(cat.meta(i), whole.meta(i));
                }
            }
        }
    }

    #[test]
    fn bad_chunks_are_refused_and_change_nothing() {
        let whole = small(true, true);
        let (head, body) = write_catalog(&whole, 2, 4).unwrap();
        let mut cat = Catalog::from_bytes(&head).unwrap();
        let sp = cat.split_mut().unwrap();
        let req = sp.list_request(0);
        let good = body_of(&body, &req).to_vec();
        let mut bad = good.clone();
        bad[3] ^= 1;
        let refused = |e: Error| matches!(e, Error::CatalogChunk { .. });
        assert!(refused(sp.add(&req, &bad, &[]).unwrap_err()), "tampered");
        assert!(
            refused(sp.add(&req, &good[1..], &[]).unwrap_err()),
            "truncated"
        );
        let moved = ChunkRequest {
            offset: req.offset + 1,
            ..req
        };
        assert!(
            refused(sp.add(&moved, &good, &[]).unwrap_err()),
            "wrong offset"
        );
        let other = ChunkRequest { list: 99, ..req };
        assert!(
            refused(sp.add(&other, &good, &[]).unwrap_err()),
            "no such list"
        );
        let items = ChunkRequest {
            kind: ChunkKind::Items,
            ..req
        };
        assert!(
            refused(sp.add(&items, &good, &[]).unwrap_err()),
            "an item block before its list"
        );
        assert_eq!(sp.resident(), (0, 0, 0));
        sp.add(&req, &good, &[]).unwrap();
        assert_eq!(sp.resident().0, 1);
    }

    #[test]
    fn a_bad_head_is_a_specific_error() {
        let whole = small(false, true);
        let (head, _) = write_catalog(&whole, 2, 4).unwrap();
        let reseal = |mut b: Vec<u8>| {
            let n = b.len() - 32;
            let s = sha256(&b[..n]);
            b[n..].copy_from_slice(&s);
            b
        };
        let mut tampered = head.clone();
        tampered[60] ^= 1;
        assert_eq!(
            Catalog::from_bytes(&tampered).unwrap_err(),
            Error::CatalogChecksum
        );
        let short = reseal(head[..head.len() - 40].to_vec());
        assert!(matches!(
            Catalog::from_bytes(&short).unwrap_err(),
            Error::CatalogInvalid {
                what: "head length",
                ..
            }
        ));
        let mut zero = head.clone();
        zero[68..72].copy_from_slice(&0u32.to_le_bytes());
        assert!(matches!(
            Catalog::from_bytes(&reseal(zero)).unwrap_err(),
            Error::CatalogInvalid {
                what: "directory buckets",
                ..
            }
        ));
        let mut shrunk = head.clone();
        shrunk[76..84].copy_from_slice(&10u64.to_le_bytes());
        assert!(matches!(
            Catalog::from_bytes(&reseal(shrunk)).unwrap_err(),
            Error::CatalogInvalid { .. }
        ));
        for cut in [0, 9, 51, 60, 83, 200] {
            assert!(Catalog::from_bytes(&head[..cut.min(head.len())]).is_err());
        }
    }

    #[test]
    fn memory_stays_within_the_limits_and_pinned_rows_stay() {
        let whole = small(true, true);
        let (head, body) = write_catalog(&whole, 3, 4).unwrap();
        let mut cat = Catalog::from_bytes(&head).unwrap();
        let sp = cat.split_mut().unwrap();
        sp.set_limits(Limits {
            list_bytes: 1,
            blocks: 1,
            buckets: 1,
        });
        let r0 = sp.list_request(0);
        sp.add(&r0, body_of(&body, &r0), &[]).unwrap();
        // row 0 (list 0) pinned: adding list 2 keeps list 0 although over the byte limit
        let r2 = sp.list_request(2);
        sp.add(&r2, body_of(&body, &r2), &[0]).unwrap();
        assert!(sp.has_list(0) && sp.has_list(2));
        assert_eq!(sp.pool_len(), 30);
        // a chunk of the operation in progress is kept: nothing goes before the next one starts
        sp.add(&r2, body_of(&body, &r2), &[]).unwrap();
        assert!(sp.has_list(0) && sp.has_list(2));
        // next operation, unpinned: the least recently used goes
        sp.begin();
        sp.add(&r2, body_of(&body, &r2), &[]).unwrap();
        assert!(!sp.has_list(0) && sp.has_list(2));
        assert_eq!(sp.pool_len(), 20);
        assert_eq!(
            (0..20).map(|j| sp.pool_row(j)).collect::<Vec<_>>(),
            (10..30).collect::<Vec<_>>()
        );
        sp.clear();
        assert_eq!(sp.resident(), (0, 0, 0));
    }
}
