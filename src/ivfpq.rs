//! The compressed, partitioned catalog index (catalog format version 2, for shops of 100k–1M items): an
//! IVF coarse partition (k-means centroids; the catalog rows are stored list by list, so list `l` is the
//! rows `offsets[l]..offsets[l + 1]`) plus product-quantised residuals (`m` sub-spaces, one byte each: the
//! residual `v − c_l` of sub-space `j` is replaced by the nearest of `ksub ≤ 256` codewords).
//!
//! Scoring a query `q` ([`IvfPq::search`]): `⟨q, c_l⟩` for every list, the `nprobe` best lists, one look-up
//! table `T[j][k] = ⟨q_j, codeword_jk⟩` per query, and for each row of a probed list
//! `⟨q, c_l⟩ + Σ_j T[j][code_j]` (= `⟨q, v̂⟩`, the dot product with the reconstruction). If the catalog
//! keeps int8 vectors ([`IvfPq::rescore`]), the best `rerank` candidates are re-scored exactly on them.
//!
//! Item vectors for the encoder input, the features and the on-device learner ([`IvfPq::copy_row`]): the
//! int8 vector when the catalog keeps them, else the PQ reconstruction `c_l + codewords`.
//!
//! The training (k-means, PQ codebooks) is the builder's (`nextclick_model::ivfpq`); this module holds the
//! format, its validation and the search, and is as pure as the rest of the core.

use crate::catalog::{dot, dot_i8, Reader};
use crate::error::{Error, Result};
use crate::predictor::top_k;

/// Largest number of inverted lists.
pub const MAX_LISTS: usize = 65_536;
/// Largest number of codewords per sub-space (codes are one byte).
pub const MAX_KSUB: usize = 256;
/// Largest number of candidates re-scored exactly.
pub const MAX_RERANK: usize = 65_536;
/// Bytes of the version-2 parameters after the common 52-byte header.
pub(crate) const PARAMS_LEN: usize = 16;

/// The IVF-PQ index of a catalog. Rows (catalog order) are grouped by list.
#[derive(Debug, Clone, PartialEq)]
pub struct IvfPq {
    /// Vector dimension `d`.
    pub dim: usize,
    /// Number of sub-spaces `m` (divides `d`; one code byte each).
    pub subspaces: usize,
    /// Codewords per sub-space (`1..=256`); every code is below it.
    pub ksub: usize,
    /// Coarse centroids, row-major `nlist × d`.
    pub centroids: Vec<f32>,
    /// Codebooks, `m × ksub × (d/m)`: codeword `k` of sub-space `j` at `(j·ksub + k)·(d/m)`.
    pub codebooks: Vec<f32>,
    /// `nlist + 1` row offsets: list `l` is rows `offsets[l]..offsets[l + 1]` (`offsets[0] = 0`,
    /// non-decreasing, `offsets[nlist] = n`).
    pub offsets: Vec<u32>,
    /// `n × m` codes, row-major.
    pub codes: Vec<u8>,
    /// Optional int8 vectors for exact re-scoring (and as the item vectors): `n` scales, `n × d` values.
    pub rescore: Option<(Vec<f32>, Vec<i8>)>,
    /// Lists probed per query (default of the file; [`IvfPq::set_search`] changes it).
    pub nprobe: usize,
    /// Candidates re-scored on the int8 vectors (ignored without them).
    pub rerank: usize,
}

/// Where the codes (and int8 vectors) of each list live: the whole index in memory ([`IvfPq`] itself)
/// or the lists of a split catalog fetched so far (`crate::split`). Slices are the list's rows in order.
pub(crate) trait ListStore {
    /// The `rows × m` codes of list `l`, if held.
    fn codes(&self, l: usize) -> Option<&[u8]>;
    /// The int8 scales and `rows × d` values of list `l`, if held (and the catalog keeps them).
    fn int8(&self, l: usize) -> Option<(&[f32], &[i8])>;
    /// Does the catalog keep int8 vectors (re-scoring on)?
    fn has_int8(&self) -> bool;
}

impl ListStore for IvfPq {
    fn codes(&self, l: usize) -> Option<&[u8]> {
        let (a, b) = (self.offsets[l] as usize, self.offsets[l + 1] as usize);
        self.codes.get(a * self.subspaces..b * self.subspaces)
    }
    fn int8(&self, l: usize) -> Option<(&[f32], &[i8])> {
        let (a, b) = (self.offsets[l] as usize, self.offsets[l + 1] as usize);
        let (scales, data) = self.rescore.as_ref()?;
        Some((scales.get(a..b)?, data.get(a * self.dim..b * self.dim)?))
    }
    fn has_int8(&self) -> bool {
        self.rescore.is_some()
    }
}

/// Reusable buffers of a search (one per predictor; keeps the hot path allocation-free).
#[derive(Debug, Clone, Default)]
pub struct Scratch {
    pub(crate) scores: Vec<f32>,
    lut: Vec<[f32; MAX_KSUB]>,
    cands: Vec<(f32, u32)>,
}

fn invalid(what: &'static str, detail: String) -> Error {
    Error::CatalogInvalid { what, detail }
}

impl IvfPq {
    /// Number of inverted lists.
    pub fn nlist(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Sub-space width `d / m`.
    pub fn dsub(&self) -> usize {
        self.dim / self.subspaces
    }

    /// Sets the lists probed per query (clamped to `1..=nlist`) and the candidates re-scored (at most
    /// [`MAX_RERANK`]).
    pub fn set_search(&mut self, nprobe: usize, rerank: usize) {
        self.nprobe = nprobe.clamp(1, self.nlist());
        self.rerank = rerank.min(MAX_RERANK);
    }

    /// Checks every structural invariant against `n` rows (what the loader and `Catalog::from_ivfpq`
    /// require). Never panics.
    pub fn validate(&self, n: usize) -> Result<()> {
        self.validate_geometry(n)?;
        let m = self.subspaces;
        self.validate_codes(n, m)
    }

    /// The invariants of everything but the codes and int8 vectors (what a split catalog's head holds).
    pub(crate) fn validate_geometry(&self, n: usize) -> Result<()> {
        let d = self.dim;
        let m = self.subspaces;
        if m == 0 || m > d || !d.is_multiple_of(m) {
            return Err(invalid(
                "subspaces",
                format!("{m} (must divide the dimension {d})"),
            ));
        }
        if self.ksub == 0 || self.ksub > MAX_KSUB {
            return Err(invalid(
                "codewords",
                format!("{} (must be 1..={MAX_KSUB})", self.ksub),
            ));
        }
        let nlist = self.nlist();
        if nlist == 0 || nlist > MAX_LISTS || nlist > n {
            return Err(invalid(
                "list count",
                format!("{nlist} (must be 1..={} for {n} items)", MAX_LISTS.min(n)),
            ));
        }
        if self.nprobe == 0 || self.nprobe > nlist {
            return Err(invalid(
                "nprobe",
                format!("{} (must be 1..={nlist})", self.nprobe),
            ));
        }
        if self.rerank > MAX_RERANK {
            return Err(invalid(
                "rerank",
                format!("{} (at most {MAX_RERANK})", self.rerank),
            ));
        }
        if self.centroids.len() != nlist * d || self.codebooks.len() != self.ksub * d {
            return Err(invalid(
                "centroids",
                "centroid or codebook length does not match the counts".into(),
            ));
        }
        if let Some(bad) = self
            .centroids
            .iter()
            .chain(&self.codebooks)
            .position(|x| !x.is_finite())
        {
            return Err(invalid(
                "centroids",
                format!("non-finite value at position {bad} of the centroids and codebooks"),
            ));
        }
        if self.offsets[0] != 0 || self.offsets[nlist] as usize != n {
            return Err(invalid(
                "list offsets",
                format!(
                    "first {} and last {} (must be 0 and the item count {n})",
                    self.offsets[0], self.offsets[nlist]
                ),
            ));
        }
        if let Some(l) = self.offsets.windows(2).position(|w| w[0] > w[1]) {
            return Err(invalid(
                "list offsets",
                format!(
                    "list {l} ends before it starts ({} > {})",
                    self.offsets[l],
                    self.offsets[l + 1]
                ),
            ));
        }
        Ok(())
    }

    fn validate_codes(&self, n: usize, m: usize) -> Result<()> {
        let d = self.dim;
        if self.codes.len() != n * m {
            return Err(invalid("codes", "length is not items × sub-spaces".into()));
        }
        if self.ksub < MAX_KSUB {
            if let Some(p) = self.codes.iter().position(|&c| c as usize >= self.ksub) {
                return Err(invalid(
                    "codes",
                    format!(
                        "code {} of item {} is out of range (at most {} codewords)",
                        self.codes[p],
                        p / m,
                        self.ksub
                    ),
                ));
            }
        }
        if let Some((scales, data)) = &self.rescore {
            if scales.len() != n || data.len() != n * d {
                return Err(invalid(
                    "re-scoring vectors",
                    "length is not items × dimension".into(),
                ));
            }
        }
        Ok(())
    }

    /// Index of the first row whose int8 scale is not finite (the loader reports it by item id).
    pub(crate) fn first_bad_scale(&self) -> Option<usize> {
        self.rescore
            .as_ref()
            .and_then(|(s, _)| s.iter().position(|x| !x.is_finite()))
    }

    /// The list holding row `i`.
    pub fn list_of(&self, i: usize) -> usize {
        self.offsets.partition_point(|&o| o as usize <= i) - 1
    }

    /// Writes the item vector of row `i` into `out`: the int8 vector when kept, else the reconstruction.
    pub fn copy_row(&self, i: usize, out: &mut [f32]) {
        let l = self.list_of(i);
        self.copy_row_in(self, l, i - self.offsets[l] as usize, out);
    }

    /// [`IvfPq::copy_row`] of row `r` of list `l` held by `store` (zeros when the store does not hold
    /// the list: a split catalog's list not fetched yet).
    pub(crate) fn copy_row_in<S: ListStore + ?Sized>(
        &self,
        store: &S,
        l: usize,
        r: usize,
        out: &mut [f32],
    ) {
        let d = self.dim;
        if let Some((scales, data)) = store.int8(l) {
            let s = scales[r];
            for (o, &q) in out.iter_mut().zip(&data[r * d..(r + 1) * d]) {
                *o = s * q as f32;
            }
            return;
        }
        let m = self.subspaces;
        let Some(codes) = store.codes(l) else {
            out.iter_mut().for_each(|o| *o = 0.0);
            return;
        };
        out.copy_from_slice(&self.centroids[l * d..(l + 1) * d]);
        let ds = self.dsub();
        for (j, &c) in codes[r * m..(r + 1) * m].iter().enumerate() {
            let w = &self.codebooks[(j * self.ksub + c as usize) * ds..][..ds];
            out[j * ds..(j + 1) * ds]
                .iter_mut()
                .zip(w)
                .for_each(|(o, x)| *o += x);
        }
    }

    fn fill_lut(&self, q: &[f32], lut: &mut Vec<[f32; MAX_KSUB]>) {
        let (m, ds) = (self.subspaces, self.dsub());
        lut.clear();
        lut.resize(m, [0.0; MAX_KSUB]);
        for (j, t) in lut.iter_mut().enumerate() {
            let qj = &q[j * ds..(j + 1) * ds];
            let book = &self.codebooks[j * self.ksub * ds..(j + 1) * self.ksub * ds];
            for (tk, w) in t.iter_mut().zip(book.chunks_exact(ds)) {
                *tk = dot(qj, w);
            }
        }
    }

    /// Scores of the rows of list `l` (their `codes`) from the look-up tables, appended to `out`.
    fn scan_list(
        &self,
        base: f32,
        lut: &[[f32; MAX_KSUB]],
        l: usize,
        codes: &[u8],
        out: &mut Vec<(f32, u32)>,
    ) {
        let m = self.subspaces;
        let a = self.offsets[l] as usize;
        for (r, code) in codes.chunks_exact(m).enumerate() {
            // Four partial sums: independent add chains (float addition is not reassociated).
            let mut acc = [0f32; 4];
            let mut it = code.chunks_exact(4).zip(lut.chunks_exact(4));
            for (c, t) in &mut it {
                acc[0] += t[0][c[0] as usize];
                acc[1] += t[1][c[1] as usize];
                acc[2] += t[2][c[2] as usize];
                acc[3] += t[3][c[3] as usize];
            }
            let rest = m / 4 * 4;
            let tail: f32 = code[rest..]
                .iter()
                .zip(&lut[rest..])
                .map(|(&c, t)| t[c as usize])
                .sum();
            out.push((
                base + (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail,
                (a + r) as u32,
            ));
        }
    }

    /// Dot product of `q` with every row's item vector (the vectors of [`IvfPq::copy_row`]), in row order.
    pub fn score_all(&self, q: &[f32], scratch_lut: &mut Vec<[f32; MAX_KSUB]>, out: &mut Vec<f32>) {
        out.clear();
        if let Some((scales, data)) = &self.rescore {
            out.extend(
                data.chunks_exact(self.dim)
                    .zip(scales)
                    .map(|(row, s)| s * dot_i8(row, q)),
            );
            return;
        }
        self.fill_lut(q, scratch_lut);
        let mut c = Vec::with_capacity(self.codes.len() / self.subspaces);
        for l in 0..self.nlist() {
            let base = dot(&self.centroids[l * self.dim..(l + 1) * self.dim], q);
            let (a, b) = (self.offsets[l] as usize, self.offsets[l + 1] as usize);
            self.scan_list(
                base,
                scratch_lut,
                l,
                &self.codes[a * self.subspaces..b * self.subspaces],
                &mut c,
            );
        }
        out.extend(c.iter().map(|&(s, _)| s));
    }

    /// The best `k` rows for `q` (best first, ties to the lower row, finite scores only), leaving out the
    /// rows in `exclude`: the `nprobe` lists of largest `⟨q, c_l⟩` (more while they hold fewer than the
    /// candidates wanted), PQ scores, then the best `max(rerank, k)` re-scored on the int8 vectors when
    /// the catalog keeps them.
    pub fn search(
        &self,
        q: &[f32],
        k: usize,
        exclude: &[usize],
        scratch: &mut Scratch,
    ) -> Vec<(usize, f32)> {
        self.search_in(self, q, k, exclude, &[], scratch)
    }

    /// Candidates kept before re-scoring for a top-`k` query.
    fn keep(&self, k: usize, rescore: bool) -> usize {
        if rescore {
            self.rerank.max(k)
        } else {
            k
        }
    }

    /// The lists a top-`k` query `q` scans (nearest first, with `⟨q, c_l⟩`): the `nprobe` nearest, more
    /// while they hold fewer rows than `want`, then the lists holding the rows of `near` (the session's
    /// own items, see [`IvfPq::search_near`]) that are not among them. Fills `coarse` with every list's
    /// `⟨q, c_l⟩`.
    pub(crate) fn probe(
        &self,
        q: &[f32],
        want: usize,
        near: &[usize],
        coarse: &mut Vec<f32>,
    ) -> Vec<(usize, f32)> {
        let mut lists = self.probe_nearest(q, want, coarse);
        for &r in near {
            if r < self.offsets.last().map_or(0, |&o| o as usize) {
                let l = self.list_of(r);
                if !lists.iter().any(|&(m, _)| m == l) {
                    lists.push((l, coarse[l]));
                }
            }
        }
        lists
    }

    fn probe_nearest(&self, q: &[f32], want: usize, coarse: &mut Vec<f32>) -> Vec<(usize, f32)> {
        let d = self.dim;
        let nlist = self.nlist();
        coarse.clear();
        coarse.extend(self.centroids.chunks_exact(d).map(|c| dot(c, q)));
        let lists = top_k(coarse, self.nprobe);
        let held = |ls: &[(usize, f32)]| -> usize {
            ls.iter()
                .map(|&(l, _)| (self.offsets[l + 1] - self.offsets[l]) as usize)
                .sum()
        };
        if held(&lists) >= want || lists.len() >= nlist {
            return lists;
        }
        // Too few rows in the probed lists: take lists in order until there are enough.
        let all = top_k(coarse, nlist);
        let mut sum = 0;
        let upto = all
            .iter()
            .position(|&(l, _)| {
                sum += (self.offsets[l + 1] - self.offsets[l]) as usize;
                sum >= want
            })
            .map_or(all.len(), |p| (p + 1).max(self.nprobe.min(all.len())));
        all[..upto].to_vec()
    }

    /// [`IvfPq::search`], also scanning the lists that hold the rows of `near` (the current session's
    /// items): in a clickstream a third of next events re-view an item of the session, and the exact
    /// scan always scores those; probing by `⟨q, c_l⟩` alone can miss their lists. A few lists more a
    /// query, and the ones a split catalog keeps resident anyway (the session's lists are pinned).
    pub fn search_near(
        &self,
        q: &[f32],
        k: usize,
        exclude: &[usize],
        near: &[usize],
        scratch: &mut Scratch,
    ) -> Vec<(usize, f32)> {
        self.search_in(self, q, k, exclude, near, scratch)
    }

    /// The lists [`IvfPq::search_in`] would scan for a top-`k` query leaving out `excluded` rows, with
    /// the lists of the rows `near`.
    pub(crate) fn lists_for(
        &self,
        q: &[f32],
        k: usize,
        excluded: usize,
        rescore: bool,
        near: &[usize],
        scratch: &mut Scratch,
    ) -> Vec<usize> {
        if k == 0 {
            return Vec::new();
        }
        let want = self.keep(k, rescore) + excluded;
        self.probe(q, want, near, &mut scratch.scores)
            .into_iter()
            .map(|(l, _)| l)
            .collect()
    }

    /// [`IvfPq::search_near`] over the lists `store` holds (this index's geometry: centroids, codebooks,
    /// offsets): a list the store does not hold is skipped.
    pub(crate) fn search_in<S: ListStore + ?Sized>(
        &self,
        store: &S,
        q: &[f32],
        k: usize,
        exclude: &[usize],
        near: &[usize],
        scratch: &mut Scratch,
    ) -> Vec<(usize, f32)> {
        if k == 0 {
            return Vec::new();
        }
        let d = self.dim;
        let rescore = store.has_int8();
        let want = self.keep(k, rescore) + exclude.len();
        let lists = self.probe(q, want, near, &mut scratch.scores);
        self.fill_lut(q, &mut scratch.lut);
        let cands = &mut scratch.cands;
        cands.clear();
        for &(l, base) in &lists {
            if let Some(codes) = store.codes(l) {
                self.scan_list(base, &scratch.lut, l, codes, cands);
            }
        }
        cands.retain(|c| c.0.is_finite());
        let order = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        if cands.len() > want {
            cands.select_nth_unstable_by(want - 1, order);
            cands.truncate(want);
        }
        if !exclude.is_empty() {
            cands.retain(|c| !exclude.contains(&(c.1 as usize)));
        }
        if rescore {
            for c in cands.iter_mut() {
                let i = c.1 as usize;
                let l = self.list_of(i);
                if let Some((scales, data)) = store.int8(l) {
                    let r = i - self.offsets[l] as usize;
                    c.0 = scales[r] * dot_i8(&data[r * d..(r + 1) * d], q);
                }
            }
            cands.retain(|c| c.0.is_finite());
        }
        cands.sort_unstable_by(order);
        cands.truncate(k);
        cands.iter().map(|&(s, i)| (i as usize, s)).collect()
    }

    /// Bytes of the version-2 sections this index adds (everything but the ids and the metadata).
    pub fn encoded_len(&self) -> usize {
        PARAMS_LEN
            + 4 * (self.centroids.len() + self.codebooks.len() + self.offsets.len())
            + self.codes.len()
            + self
                .rescore
                .as_ref()
                .map_or(0, |(s, d)| 4 * s.len() + d.len())
    }

    /// Writes the parameters (after the common header): list count, sub-spaces, codewords, nprobe,
    /// rerank, reserved.
    pub(crate) fn put_params(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.nlist() as u32).to_le_bytes());
        out.extend_from_slice(&(self.subspaces as u16).to_le_bytes());
        out.extend_from_slice(&(self.ksub as u16).to_le_bytes());
        out.extend_from_slice(&(self.nprobe as u32).to_le_bytes());
        out.extend_from_slice(&(self.rerank as u32).to_le_bytes());
    }

    /// Writes the head part (centroids, codebooks, offsets) that precedes the ids.
    pub(crate) fn put_head(&self, out: &mut Vec<u8>) {
        for x in self.centroids.iter().chain(&self.codebooks) {
            out.extend_from_slice(&x.to_le_bytes());
        }
        for o in &self.offsets {
            out.extend_from_slice(&o.to_le_bytes());
        }
    }

    /// Writes the list part (codes, then the optional int8 scales and values) that follows the ids.
    pub(crate) fn put_lists(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.codes);
        if let Some((scales, data)) = &self.rescore {
            scales
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
            out.extend(data.iter().map(|&q| q as u8));
        }
    }
}

/// The version-2 parameters as read, before any allocation.
pub(crate) struct Params {
    pub nlist: usize,
    pub subspaces: usize,
    pub ksub: usize,
    pub nprobe: usize,
    pub rerank: usize,
}

impl Params {
    /// Reads and range-checks the parameters of `n` items of dimension `dim`.
    pub(crate) fn read(r: &mut Reader<'_>, n: usize, dim: usize) -> Result<Params> {
        let nlist = r.u32("list count")? as usize;
        let subspaces = r.u16("subspaces")? as usize;
        let ksub = r.u16("codewords")? as usize;
        let nprobe = r.u32("nprobe")? as usize;
        let rerank = r.u32("rerank")? as usize;
        // The structural checks that need no data (the same messages as `validate`).
        if subspaces == 0 || subspaces > dim || !dim.is_multiple_of(subspaces) {
            return Err(invalid(
                "subspaces",
                format!("{subspaces} (must divide the dimension {dim})"),
            ));
        }
        if ksub == 0 || ksub > MAX_KSUB {
            return Err(invalid(
                "codewords",
                format!("{ksub} (must be 1..={MAX_KSUB})"),
            ));
        }
        if nlist == 0 || nlist > MAX_LISTS || nlist > n {
            return Err(invalid(
                "list count",
                format!("{nlist} (must be 1..={} for {n} items)", MAX_LISTS.min(n)),
            ));
        }
        if nprobe == 0 || nprobe > nlist {
            return Err(invalid("nprobe", format!("{nprobe} (must be 1..={nlist})")));
        }
        if rerank > MAX_RERANK {
            return Err(invalid(
                "rerank",
                format!("{rerank} (at most {MAX_RERANK})"),
            ));
        }
        Ok(Params {
            nlist,
            subspaces,
            ksub,
            nprobe,
            rerank,
        })
    }

    /// Bytes of the head part (centroids, codebooks, offsets).
    pub(crate) fn head_len(&self, dim: usize) -> usize {
        4 * (self.nlist * dim + self.ksub * dim + self.nlist + 1)
    }

    /// Bytes of the list part for `n` items.
    pub(crate) fn lists_len(&self, n: usize, dim: usize, rescore: bool) -> usize {
        n * self.subspaces + if rescore { n * 4 + n * dim } else { 0 }
    }

    /// Reads the head part.
    pub(crate) fn read_head(
        &self,
        r: &mut Reader<'_>,
        dim: usize,
    ) -> Result<(Vec<f32>, Vec<f32>, Vec<u32>)> {
        let f32s = |r: &mut Reader<'_>, n: usize, what| -> Result<Vec<f32>> {
            Ok(r.take(n * 4, what)?
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4")))
                .collect())
        };
        let centroids = f32s(r, self.nlist * dim, "centroids")?;
        let codebooks = f32s(r, self.ksub * dim, "codebooks")?;
        let offsets = r
            .take((self.nlist + 1) * 4, "list offsets")?
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4")))
            .collect();
        Ok((centroids, codebooks, offsets))
    }

    /// Reads the list part and assembles the index (not yet validated).
    pub(crate) fn read_lists(
        self,
        r: &mut Reader<'_>,
        n: usize,
        dim: usize,
        rescore: bool,
        head: (Vec<f32>, Vec<f32>, Vec<u32>),
    ) -> Result<IvfPq> {
        let codes = r.take(n * self.subspaces, "codes")?.to_vec();
        let rescore = if rescore {
            let scales = r
                .take(n * 4, "scales")?
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4")))
                .collect();
            let data = r
                .take(n * dim, "vectors")?
                .iter()
                .map(|&b| b as i8)
                .collect();
            Some((scales, data))
        } else {
            None
        };
        let (centroids, codebooks, offsets) = head;
        Ok(IvfPq {
            dim,
            subspaces: self.subspaces,
            ksub: self.ksub,
            centroids,
            codebooks,
            offsets,
            codes,
            rescore,
            nprobe: self.nprobe,
            rerank: self.rerank,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::catalog::{sha256, Catalog, ItemMeta};

    /// A small IVF-PQ catalog without training: 3 lists, centroids = list means, 4 codewords per
    /// sub-space of 2 dims, codes by nearest codeword.
    pub(crate) fn small(rescore: bool, meta: bool) -> Catalog {
        let (n, d, m, ksub) = (30, 4, 2, 4);
        let v: Vec<f32> = (0..n * d)
            .map(|k| ((k * 7919 % 1000) as f32 / 500.0) - 1.0)
            .collect();
        let offsets = vec![0u32, 10, 10, 30]; // list 1 empty
        let mut centroids = vec![0f32; 3 * d];
        for l in 0..3 {
            let (a, b) = (offsets[l] as usize, offsets[l + 1] as usize);
            for i in a..b {
                for j in 0..d {
                    centroids[l * d + j] += v[i * d + j] / (b - a) as f32;
                }
            }
        }
        let codebooks: Vec<f32> = (0..ksub * d)
            .map(|k| (k as f32 * 0.37).sin() * 0.5)
            .collect();
        let mut ix = IvfPq {
            dim: d,
            subspaces: m,
            ksub,
            centroids,
            codebooks,
            offsets,
            codes: vec![0; n * m],
            rescore: None,
            nprobe: 2,
            rerank: 8,
        };
        for i in 0..n {
            let l = ix.list_of(i);
            for j in 0..m {
                let r: Vec<f32> = (0..2)
                    .map(|t| v[i * d + j * 2 + t] - ix.centroids[l * d + j * 2 + t])
                    .collect();
                let best = (0..ksub)
                    .min_by(|&a, &b| {
                        let e = |k: usize| {
                            let w = &ix.codebooks[(j * ksub + k) * 2..][..2];
                            (r[0] - w[0]).powi(2) + (r[1] - w[1]).powi(2)
                        };
                        e(a).total_cmp(&e(b))
                    })
                    .unwrap();
                ix.codes[i * m + j] = best as u8;
            }
        }
        if rescore {
            let q = Catalog::from_f32(
                (0..n).map(|i| format!("x{i}")).collect(),
                d,
                v.clone(),
                None,
                [0; 32],
            )
            .unwrap()
            .quantize_int8();
            if let crate::catalog::Vectors::Int8 { scales, data } = q.vectors() {
                ix.rescore = Some((scales.clone(), data.clone()));
            }
        }
        let meta = meta.then(|| {
            (0..n)
                .map(|i| ItemMeta {
                    title: format!("P{i}"),
                    url: format!("/p/{i}"),
                    image: String::new(),
                    price: Some(i as f64),
                })
                .collect()
        });
        Catalog::from_ivfpq(
            (0..n).map(|i| format!("sku-{i}")).collect(),
            ix,
            meta,
            [7; 32],
        )
        .unwrap()
    }

    fn reseal(mut b: Vec<u8>) -> Vec<u8> {
        let n = b.len() - 32;
        let s = sha256(&b[..n]);
        b[n..].copy_from_slice(&s);
        b
    }

    #[test]
    fn ivfpq_catalog_round_trips_with_and_without_rescoring_and_metadata() {
        for (rescore, meta) in [(false, false), (true, true), (false, true)] {
            let c = small(rescore, meta);
            let bytes = c.to_bytes();
            assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 2);
            let back = Catalog::from_bytes(&bytes).unwrap();
            assert_eq!(back.ids(), c.ids());
            assert_eq!(back.vectors(), c.vectors());
            assert_eq!(back.meta(3), c.meta(3));
            assert_eq!(back.index_of("sku-17"), Some(17));
            assert_eq!(back.to_bytes(), bytes);
        }
    }

    #[test]
    fn ivfpq_catalog_search_equals_the_exact_scan_of_its_own_vectors_when_every_list_is_probed() {
        for rescore in [false, true] {
            let mut c = small(rescore, false);
            c.set_search(3, 100);
            let q = [0.3, -0.2, 0.9, 0.1];
            let mut scratch = Scratch::default();
            let got = c.search(&q, 5, &[4, 9], &mut scratch);
            let mut all = Vec::new();
            c.score_all(&q, &mut all);
            let mut row = vec![0f32; 4];
            for (i, s) in all.iter().enumerate() {
                c.copy_row(i, &mut row);
                assert!((s - dot(&row, &q)).abs() < 1e-5, "row {i}");
            }
            all[4] = f32::NEG_INFINITY;
            all[9] = f32::NEG_INFINITY;
            let want = top_k(&all, 5);
            assert_eq!(
                got.iter().map(|x| x.0).collect::<Vec<_>>(),
                want.iter().map(|x| x.0).collect::<Vec<_>>()
            );
            for (g, w) in got.iter().zip(&want) {
                assert!((g.1 - w.1).abs() < 1e-5);
            }
            // nprobe 1 still returns k items (more lists are taken while too few rows are probed)
            c.set_search(1, 0);
            assert_eq!(c.search(&q, 25, &[], &mut scratch).len(), 25);
            assert!(c.search(&q, 0, &[], &mut scratch).is_empty());
        }
    }

    #[test]
    fn ivfpq_catalog_truncations_and_tampering_are_specific_errors() {
        let bytes = small(true, true).to_bytes();
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
        let c = small(false, false);
        let good = c.to_bytes();
        let mut b = good.clone();
        b[100] ^= 1;
        assert_eq!(Catalog::from_bytes(&b).unwrap_err(), Error::CatalogChecksum);
        let ix = c.ivfpq().unwrap();
        let (d, nlist) = (4, 3);
        let head = 52 + PARAMS_LEN;
        let offsets_at = head + 4 * (nlist * d + ix.ksub * d);
        let ids_len: usize = c.ids().iter().map(|s| 2 + s.len()).sum();
        let codes_at = offsets_at + 4 * (nlist + 1) + ids_len;
        let field = |b: &[u8]| match Catalog::from_bytes(b).unwrap_err() {
            Error::CatalogInvalid { what, .. } => what,
            e => panic!("{e}"),
        };
        // a code past the codewords
        let mut b = good.clone();
        b[codes_at + 5] = 9;
        assert_eq!(field(&reseal(b)), "codes");
        // a list offset past the items, and offsets running backwards
        let mut b = good.clone();
        b[offsets_at + 4..offsets_at + 8].copy_from_slice(&99u32.to_le_bytes());
        assert_eq!(field(&reseal(b)), "list offsets");
        let mut b = good.clone();
        b[offsets_at + 4..offsets_at + 8].copy_from_slice(&20u32.to_le_bytes());
        b[offsets_at + 8..offsets_at + 12].copy_from_slice(&12u32.to_le_bytes());
        assert_eq!(field(&reseal(b)), "list offsets");
        // bad counts: more lists than items, sub-spaces not dividing d, nprobe past the lists
        let mut b = good.clone();
        b[52..56].copy_from_slice(&31u32.to_le_bytes());
        assert_eq!(field(&reseal(b)), "list count");
        let mut b = good.clone();
        b[56..58].copy_from_slice(&3u16.to_le_bytes());
        assert_eq!(field(&reseal(b)), "subspaces");
        let mut b = good.clone();
        b[60..64].copy_from_slice(&4u32.to_le_bytes());
        assert_eq!(field(&reseal(b)), "nprobe");
        // a huge announced list count is refused before allocating
        let mut b = good.clone();
        b[12..16].copy_from_slice(&3_000_000u32.to_le_bytes());
        b[52..56].copy_from_slice(&65_536u32.to_le_bytes());
        assert!(matches!(
            Catalog::from_bytes(&reseal(b)).unwrap_err(),
            Error::CatalogTruncated { .. }
        ));
        // a non-finite centroid
        let mut b = good.clone();
        b[head..head + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        assert_eq!(field(&reseal(b)), "centroids");
        // dtype 2 in a version-1 file, dtype 1 in a version-2 file
        let mut b = good.clone();
        b[8] = 1;
        assert!(Catalog::from_bytes(&reseal(b)).is_err());
        let mut b = good;
        b[10] = 1;
        assert_eq!(field(&reseal(b)), "dtype");
    }
}
