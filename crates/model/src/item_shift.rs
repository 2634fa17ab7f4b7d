//! Feature-based transfer from the shop's orders: `f' = f + Δf`, a shop-level shift of the item vectors,
//! baked into the catalog (no change to the model, the SDK or the stored state format).
//!
//! The source model places items by their content; the shop's orders say in which contexts *its*
//! customers buy them. [`fit`] moves each item's vector towards the session vectors that preceded its
//! purchases:
//!
//! `u_i = f_i / |f_i|`, `m_i` = the mean of `s / |s|` over the purchases of `i` that had earlier purchases
//! by the same customer (`s` the source model's session vector after those, as a new visitor's browser
//! computes it), and `f'_i = |f_i| · (u_i + β·m_i) / |u_i + β·m_i|`.
//!
//! The norm of every vector is kept (the model's scores and temperature stay calibrated); an item never
//! bought after another is unchanged, so a new product is placed by its content alone, as before. The
//! catalog holds one vector per item, read both as a session's input and as a candidate: the shift moves
//! both, and only the held-out check below says whether the result is better.
//!
//! **Kept only if it helps**, with the shop head's protocol ([`crate::shop_head`]): each customer's last
//! purchase is held out, `Δf` is computed from the other purchases, and the held-out purchases are ranked
//! (Recall@20 after the customer's earlier purchases, learning off) with the source catalog and with the
//! shifted one for each `β` of [`ShiftOptions::betas`]. The best `β` is kept only if it beats the source
//! catalog; then `Δf` is recomputed from every purchase. Otherwise — and with fewer than
//! [`ShiftOptions::min_customers`] customers having two purchases of catalog items — [`fit`] refuses with
//! the figures, and the catalog ships unshifted.

use std::time::Instant;

use anyhow::{bail, Result};
use nextclick::catalog::{Catalog, ItemMeta};
use nextclick::contract::EventKind;
use nextclick::event::Event;
use nextclick::predictor::Predictor;
use nextclick::Options;
use nextclick_data::orders::Customer;

/// Settings of [`fit`].
#[derive(Debug, Clone)]
pub struct ShiftOptions {
    /// The shift strengths tried on the held-out purchases.
    pub betas: Vec<f32>,
    /// Fewest customers with two purchases of catalog items (fewer: refused).
    pub min_customers: usize,
    /// Purchases per customer considered (the most recent).
    pub max_purchases: usize,
    /// Event type the purchases are replayed as when ranking the held-out purchases.
    pub kind: EventKind,
}

impl Default for ShiftOptions {
    fn default() -> Self {
        ShiftOptions {
            betas: vec![0.25, 0.5, 1.0],
            min_customers: 30,
            max_purchases: 50,
            kind: EventKind::View,
        }
    }
}

/// What [`fit`] did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ShiftReport {
    /// Customers with at least two purchases of catalog items.
    pub customers: usize,
    /// Their purchases of catalog items.
    pub purchases: usize,
    /// Items whose vector moved (bought after another purchase of the same customer).
    pub items_shifted: usize,
    /// Held-out Recall@20 with the source catalog.
    pub holdout_source: f64,
    /// Held-out Recall@20 with the chosen shift.
    pub holdout_shifted: f64,
    /// The chosen `β`.
    pub beta: f32,
    /// Held-out purchases ranked.
    pub holdout_cases: usize,
    /// Seconds spent.
    pub seconds: f64,
}

/// The sums of unit session vectors that preceded each item's purchases, `n × d` row-major, and their
/// counts: for each sequence of `seqs` (catalog indices, one per customer, oldest first) and each position
/// `t ≥ 1`, the session vector of `p` after the purchases before `t` (replayed as `kind` events, learning
/// off) is added to the row of the item bought at `t`.
pub fn purchase_contexts(
    p: &mut Predictor,
    seqs: &[Vec<usize>],
    kind: EventKind,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let (n, d) = (p.catalog().len(), p.catalog().dim());
    let mut sums = vec![0f32; n * d];
    let mut counts = vec![0f32; n];
    p.set_learning(false);
    for s in seqs {
        let fresh = p.new_state();
        p.put_state(fresh)?;
        for (t, &item) in s.iter().enumerate() {
            if t > 0 {
                if let Some(v) = p.session_vector()? {
                    let nv = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                    if nv.is_finite() && nv > 0.0 {
                        for (o, x) in sums[item * d..(item + 1) * d].iter_mut().zip(&v) {
                            *o += x / nv;
                        }
                        counts[item] += 1.0;
                    }
                }
            }
            p.track(&Event {
                kind,
                item_id: p.catalog().id(item).to_string(),
                timestamp_ms: 1.0e12 + t as f64 * 1000.0,
                price: None,
            })?;
        }
    }
    Ok((sums, counts))
}

/// The item vectors of `cat` (dequantised, row-major `n × d`) shifted at strength `beta` towards
/// `sums / counts` (as from [`purchase_contexts`]), and how many moved. `beta = 0` or a zero count leaves
/// a vector as it is.
pub fn shifted_vectors(
    cat: &Catalog,
    sums: &[f32],
    counts: &[f32],
    beta: f32,
) -> (Vec<f32>, usize) {
    let (n, d) = (cat.len(), cat.dim());
    let mut f = vec![0f32; n * d];
    for i in 0..n {
        cat.copy_row(i, &mut f[i * d..(i + 1) * d]);
    }
    if beta == 0.0 {
        return (f, 0);
    }
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let mut moved = 0;
    for i in 0..n {
        let row = &mut f[i * d..(i + 1) * d];
        let ni = norm(row);
        if counts[i] <= 0.0 || ni == 0.0 {
            continue;
        }
        let v: Vec<f32> = (0..d)
            .map(|k| row[k] / ni + beta * sums[i * d + k] / counts[i])
            .collect();
        let nv = norm(&v);
        if !nv.is_finite() || nv == 0.0 {
            continue;
        }
        for (o, x) in row.iter_mut().zip(&v) {
            *o = x * ni / nv;
        }
        moved += 1;
    }
    (f, moved)
}

/// `cat` with the vectors `vecs` (same ids, metadata, model binding, and the same storage: int8 stays int8).
pub fn with_vectors(cat: &Catalog, vecs: Vec<f32>) -> Result<Catalog> {
    let meta: Option<Vec<ItemMeta>> = (0..cat.len()).map(|i| cat.meta(i).cloned()).collect();
    let out = Catalog::from_f32(
        cat.ids().to_vec(),
        cat.dim(),
        vecs,
        meta,
        *cat.model_sha256(),
    )?;
    Ok(if cat.is_int8() {
        out.quantize_int8()
    } else {
        out
    })
}

/// Learns `Δf` for `cat` (bound to the model `onnx`) from `customers`, checked on held-out purchases (see
/// the module docs); the shifted catalog and the figures, or why none is kept.
pub fn fit(
    onnx: &[u8],
    cat: &Catalog,
    customers: &[Customer],
    o: &ShiftOptions,
) -> Result<(Catalog, ShiftReport)> {
    let t0 = Instant::now();
    let mut rep = ShiftReport::default();
    let seqs: Vec<Vec<usize>> = customers
        .iter()
        .filter_map(|c| {
            let idx: Vec<usize> = c
                .purchases
                .iter()
                .filter_map(|(_, id)| cat.index_of(id))
                .collect();
            let idx = idx[idx.len().saturating_sub(o.max_purchases.max(2))..].to_vec();
            (idx.len() >= 2).then_some(idx)
        })
        .collect();
    rep.customers = seqs.len();
    rep.purchases = seqs.iter().map(|s| s.len()).sum();
    if seqs.len() < o.min_customers {
        bail!(
            "only {} customers have two purchases of catalog items (at least {} needed to learn and check Δf); the catalog ships unshifted",
            seqs.len(),
            o.min_customers
        );
    }
    let train: Vec<Vec<usize>> = seqs.iter().map(|s| s[..s.len() - 1].to_vec()).collect();
    let mut source = Predictor::new(onnx, &cat.to_bytes(), Options::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (sums, counts) = purchase_contexts(&mut source, &train, o.kind)?;
    let recall = |vecs: Vec<f32>| -> Result<f64> {
        let c = with_vectors(cat, vecs)?;
        let mut p = Predictor::new(onnx, &c.to_bytes(), Options::default())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        holdout_recall(&mut p, &seqs, o.kind)
    };
    let base = holdout_recall(&mut source, &seqs, o.kind)?;
    let mut best = (0f32, base);
    for &beta in &o.betas {
        if !(beta.is_finite() && beta > 0.0) {
            bail!("Δf: β must be positive and finite, got {beta}");
        }
        let r = recall(shifted_vectors(cat, &sums, &counts, beta).0)?;
        if r > best.1 {
            best = (beta, r);
        }
    }
    rep.holdout_source = base;
    rep.holdout_cases = seqs.len();
    if best.0 == 0.0 {
        bail!(
            "Δf does not beat the source catalog on the {} held-out purchases (Recall@20 {:.4} without it, at most that with it); the catalog ships unshifted",
            seqs.len(),
            base
        );
    }
    let (sums, counts) = purchase_contexts(&mut source, &seqs, o.kind)?;
    let (vecs, moved) = shifted_vectors(cat, &sums, &counts, best.0);
    let out = with_vectors(cat, vecs)?;
    rep.beta = best.0;
    rep.holdout_shifted = best.1;
    rep.items_shifted = moved;
    rep.seconds = t0.elapsed().as_secs_f64();
    Ok((out, rep))
}

/// Recall@20 of each customer's last purchase ranked after their earlier purchases (learning off).
fn holdout_recall(p: &mut Predictor, seqs: &[Vec<usize>], kind: EventKind) -> Result<f64> {
    p.set_learning(false);
    let mut hits = 0usize;
    for s in seqs {
        let fresh = p.new_state();
        p.put_state(fresh)?;
        for (i, &item) in s[..s.len() - 1].iter().enumerate() {
            p.track(&Event {
                kind,
                item_id: p.catalog().id(item).to_string(),
                timestamp_ms: 1.0e12 + i as f64 * 1000.0,
                price: None,
            })?;
        }
        let target = s[s.len() - 1];
        let top = p.predict_indices(20)?;
        hits += usize::from(top.iter().any(|(i, _)| *i == target));
    }
    Ok(hits as f64 / seqs.len().max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(vecs: Vec<f32>, n: usize, d: usize) -> Catalog {
        Catalog::from_f32(
            (0..n).map(|i| format!("i{i}")).collect(),
            d,
            vecs,
            None,
            [7; 32],
        )
        .unwrap()
    }

    #[test]
    fn items_move_towards_their_contexts_and_keep_their_norm() {
        // three orthogonal items of norms 2, 1, 3; item 0 was bought after contexts along axis 1
        let c = cat(vec![2., 0., 0., 0., 1., 0., 0., 0., 3.], 3, 3);
        let sums = vec![0., 2., 0., 0., 0., 0., 0., 0., 0.];
        let counts = vec![2., 0., 0.];
        let (v, moved) = shifted_vectors(&c, &sums, &counts, 1.0);
        assert_eq!(moved, 1);
        let s = 2.0f32.sqrt();
        assert!(
            (v[0] - s).abs() < 1e-5 && (v[1] - s).abs() < 1e-5 && v[2] == 0.0,
            "{v:?}"
        );
        assert_eq!(
            &v[3..],
            &[0., 1., 0., 0., 0., 3.],
            "items without contexts are unchanged"
        );
        let (v0, m0) = shifted_vectors(&c, &sums, &counts, 0.0);
        assert_eq!((v0, m0), (vec![2., 0., 0., 0., 1., 0., 0., 0., 3.], 0));
    }

    #[test]
    fn int8_stays_int8_with_the_same_ids_and_binding() {
        let q = cat(vec![1., 0., 0., 1.], 2, 2).quantize_int8();
        let (v, moved) = shifted_vectors(&q, &[0., 1., 0., 0.], &[1., 0.], 0.5);
        assert_eq!(moved, 1);
        let back = with_vectors(&q, v).unwrap();
        assert!(back.is_int8());
        assert_eq!(back.ids(), q.ids());
        assert_eq!(back.model_sha256(), q.model_sha256());
    }
}
