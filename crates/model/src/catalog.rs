//! Catalogs from content: a shop's items through an exported model's item tower ([`Tower`]) into the
//! core's binary [`Catalog`], and the contract input of a session ([`encoder_input`]).

use anyhow::{bail, Result};
use nextclick::catalog::{Catalog, ItemMeta};
use nextclick::model::{EncoderInput, EncoderShape};
use nextclick::predictor::top_k;
use nextclick_data::{item_text, Event, Item};

use crate::content::Embeddings;
use crate::tower::Tower;

/// Indices of the `k` best finite scores, best first (the core's [`top_k`], ties: lower index first).
fn top_indices(scores: &[f32], k: usize) -> Vec<usize> {
    top_k(scores, k).into_iter().map(|(i, _)| i).collect()
}

/// Display metadata of `items` for a catalog: the title (the item text when there is none), a URL
/// `#item-{id}`, no image, the price.
pub fn meta_of(items: &[Item]) -> Vec<ItemMeta> {
    items
        .iter()
        .map(|i| ItemMeta {
            title: if i.title.is_empty() {
                item_text(i)
            } else {
                i.title.clone()
            },
            url: format!("#item-{}", i.id),
            image: String::new(),
            price: i.price,
        })
        .collect()
}

/// Item vectors of `content` through the tower.
pub fn catalog_from(items: &[Item], emb: &Embeddings, tower: &Tower, url: &str) -> Result<Catalog> {
    if emb.dim != tower.content_dim {
        bail!(
            "content dimension {} but the tower takes {}",
            emb.dim,
            tower.content_dim
        );
    }
    let vecs = tower.apply_all(&emb.vecs);
    let mut meta = meta_of(items);
    for (m, i) in meta.iter_mut().zip(items) {
        m.url = url.replace("{id}", &i.id);
    }
    Ok(Catalog::from_f32(
        items.iter().map(|i| i.id.clone()).collect(),
        tower.dim,
        vecs,
        Some(meta),
        tower.model_sha256,
    )?)
}

/// int8 vs f32 agreement on `queries`: (mean top-10 overlap fraction, share of queries with identical top-10 order).
pub fn int8_agreement(f32cat: &Catalog, int8cat: &Catalog, queries: &[Vec<f32>]) -> (f64, f64) {
    let (mut overlap, mut same) = (0f64, 0usize);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for q in queries {
        f32cat.score_all(q, &mut a);
        int8cat.score_all(q, &mut b);
        let ta = top_indices(&a, 10);
        let tb = top_indices(&b, 10);
        overlap += ta.iter().filter(|x| tb.contains(x)).count() as f64 / ta.len().max(1) as f64;
        if ta == tb {
            same += 1;
        }
    }
    let n = queries.len().max(1) as f64;
    (overlap / n, same as f64 / n)
}

/// The session vector of `events` (a session from its first event), item vectors from `vecs` `[V, D]`,
/// under either contract: a v1 model encodes the last `L` events at once; a v2 model steps them into an
/// empty key/value cache (the last `reach + 1`, which gives the whole session's vector).
pub fn session_vector(
    enc: &nextclick::model::Encoder,
    events: &[Event],
    vecs: &[f32],
) -> nextclick::Result<Vec<f32>> {
    use nextclick::model::{KvCache, StepInput};
    let shape = enc.shape();
    let Some(cache) = enc.cache_shape() else {
        return enc.run(&encoder_input(events, vecs, shape.max_len, shape.dim));
    };
    let d = shape.dim;
    let mut kv = KvCache::new(cache);
    let first = events.len().saturating_sub(cache.reach() + 1);
    let mut out = vec![0f32; d];
    for (k, e) in events.iter().enumerate().skip(first) {
        let i = e.item as usize;
        out = enc.step(
            &mut kv,
            &StepInput {
                item: &vecs[i * d..(i + 1) * d],
                event_type: e.kind,
                time_gap: e.gap,
                index: k as u64,
            },
        )?;
    }
    Ok(out)
}

/// A contract-v1 input for the last `L` events of `events`, item vectors from `vecs` `[V, D]`.
pub fn encoder_input(events: &[Event], vecs: &[f32], max_len: usize, dim: usize) -> EncoderInput {
    let mut inp = EncoderInput::empty(EncoderShape { max_len, dim });
    let n = events.len().min(max_len);
    for (k, e) in events[events.len() - n..].iter().enumerate() {
        let p = max_len - n + k;
        let i = e.item as usize;
        inp.items[p * dim..(p + 1) * dim].copy_from_slice(&vecs[i * dim..(i + 1) * dim]);
        inp.event_types[p] = e.kind;
        inp.time_gaps[p] = e.gap;
        inp.mask[p] = 1.0;
    }
    inp
}
