//! The trainers' optimiser: candle's AdamW for the dense parameters, and a row-sparse AdamW for the item-id
//! table (`idemb`) so that a step costs what the batch touches, not what the catalog holds.
//!
//! With sampled negatives a step reads a few thousand rows of the ID table. Through candle's autograd the
//! gradient of those rows is a dense `[V, D]` tensor, and AdamW then rewrites the table and both moments in
//! full: at a million items that is ~3 s a step, all of it on rows the step did not read. Here the rows a
//! step reads are their own leaf variable ([`TableRows`], made by the loss), their gradient is `[rows, D]`,
//! and [`RowAdamW`] updates those rows of the table and of its moments in place ("lazy" Adam: a row's
//! moments and weight decay advance when the row is read; bias correction uses the global step). A step
//! without sampling (full softmax) reads every row, and the update is AdamW's, row by row.

use anyhow::{Context, Result};
use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};
use candle_nn::Optimizer;

/// The name of the item-id table in [`super::Net::vars`].
pub const ID_TABLE: &str = "idemb";

/// The rows of the ID table one step reads, as their own leaf variable: `var` is `[rows.len(), D]`, row `k`
/// is table row `rows[k]` (distinct).
pub struct TableRows {
    /// Table rows, distinct, in the order of `var`'s rows.
    pub rows: Vec<u32>,
    /// Their values at the start of the step (the loss reads these, the gradient is theirs).
    pub var: Var,
}

/// AdamW over the rows of one `[V, D]` table that a step touches; moments are kept for every row.
pub struct RowAdamW {
    table: Var,
    m: Vec<f32>,
    v: Vec<f32>,
    d: usize,
    t: i32,
    params: candle_nn::ParamsAdamW,
}

impl RowAdamW {
    /// Over `table` (`[V, D]`, f32) with `params` (candle's defaults for betas and epsilon).
    pub fn new(table: Var, params: candle_nn::ParamsAdamW) -> Result<RowAdamW> {
        let (n, d) = table.dims2().context("the ID table must be [V, D]")?;
        Ok(RowAdamW {
            table,
            m: vec![0.0; n * d],
            v: vec![0.0; n * d],
            d,
            t: 0,
            params,
        })
    }

    /// One step on `rows` of the table with their gradient `grad` (`[rows.len(), D]`): those rows (and
    /// their moments) change, no other.
    pub fn step_rows(&mut self, rows: &[u32], grad: &Tensor) -> Result<()> {
        self.t += 1;
        let d = self.d;
        let g: Vec<f32> = grad.flatten_all()?.to_vec1()?;
        anyhow::ensure!(
            g.len() == rows.len() * d,
            "gradient of {} values for {} rows of width {d}",
            g.len(),
            rows.len()
        );
        let idx = Tensor::from_vec(rows.to_vec(), rows.len(), self.table.device())?;
        let mut theta: Vec<f32> = self.table.index_select(&idx, 0)?.flatten_all()?.to_vec1()?;
        let p = &self.params;
        let (b1, b2) = (p.beta1, p.beta2);
        let scale_m = 1.0 / (1.0 - b1.powi(self.t));
        let scale_v = 1.0 / (1.0 - b2.powi(self.t));
        let decay = 1.0 - p.lr * p.weight_decay;
        for (k, &r) in rows.iter().enumerate() {
            let (s, o) = (r as usize * d, k * d);
            for j in 0..d {
                let gj = g[o + j] as f64;
                let m = b1 * self.m[s + j] as f64 + (1.0 - b1) * gj;
                let v = b2 * self.v[s + j] as f64 + (1.0 - b2) * gj * gj;
                self.m[s + j] = m as f32;
                self.v[s + j] = v as f32;
                let step = (m * scale_m) / ((v * scale_v).sqrt() + p.eps);
                theta[o + j] = (theta[o + j] as f64 * decay - p.lr * step) as f32;
            }
        }
        let src = Tensor::from_vec(theta, (rows.len(), d), self.table.device())?;
        let at = idx
            .unsqueeze(1)?
            .broadcast_as((rows.len(), d))?
            .contiguous()?;
        self.table.scatter_set(&at, &src, 0)?;
        Ok(())
    }

    /// One step with a gradient of the whole table (`[V, D]`): every row is updated.
    pub fn step_all(&mut self, grad: &Tensor) -> Result<()> {
        let n = self.table.dim(0)?;
        let rows: Vec<u32> = (0..n as u32).collect();
        self.step_rows(&rows, grad)
    }
}

/// Both parts: candle's AdamW over the trainable dense parameters, [`RowAdamW`] over the ID table when it is
/// trainable.
pub struct Optimiser {
    dense: candle_nn::AdamW,
    table: Option<(Var, RowAdamW)>,
}

impl Optimiser {
    /// Over `vars` (the trainable parameters; the ID table among them, if it is, is split off by
    /// identity with `id_table`) at learning rate `lr` and weight decay `weight_decay`.
    pub fn new(
        vars: Vec<Var>,
        id_table: Option<Var>,
        lr: f64,
        weight_decay: f64,
    ) -> Result<Optimiser> {
        let params = candle_nn::ParamsAdamW {
            lr,
            weight_decay,
            ..Default::default()
        };
        let is_table = |v: &Var| id_table.as_ref().is_some_and(|t| t.id() == v.id());
        let table = match &id_table {
            Some(t) if vars.iter().any(is_table) => {
                Some((t.clone(), RowAdamW::new(t.clone(), params.clone())?))
            }
            _ => None,
        };
        let dense: Vec<Var> = vars.into_iter().filter(|v| !is_table(v)).collect();
        Ok(Optimiser {
            dense: candle_nn::AdamW::new(dense, params)?,
            table,
        })
    }

    /// Whether the ID table is trained here (so the loss should hand it [`TableRows`]).
    pub fn sparse_table(&self) -> bool {
        self.table.is_some()
    }

    /// One step: the dense parameters from `grads`; the ID table from `rows`' gradient when the loss split
    /// the rows off, else from the table's own (dense) gradient, if any.
    pub fn step(&mut self, grads: &GradStore, rows: Option<&TableRows>) -> Result<()> {
        self.dense.step(grads)?;
        if let Some((var, opt)) = self.table.as_mut() {
            match rows {
                Some(r) => {
                    if let Some(g) = grads.get(&r.var) {
                        opt.step_rows(&r.rows, g)?;
                    }
                }
                None => {
                    if let Some(g) = grads.get(var) {
                        opt.step_all(g)?;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn params(lr: f64, wd: f64) -> candle_nn::ParamsAdamW {
        candle_nn::ParamsAdamW {
            lr,
            weight_decay: wd,
            ..Default::default()
        }
    }

    #[test]
    fn a_dense_step_is_candles_adamw() {
        let dev = Device::Cpu;
        let init: Vec<f32> = (0..24).map(|i| (i as f32 * 0.37).sin()).collect();
        let a = Var::from_tensor(&Tensor::from_vec(init.clone(), (6, 4), &dev).unwrap()).unwrap();
        let b = Var::from_tensor(&Tensor::from_vec(init, (6, 4), &dev).unwrap()).unwrap();
        let mut reference = candle_nn::AdamW::new(vec![a.clone()], params(0.05, 0.01)).unwrap();
        let mut rows = RowAdamW::new(b.clone(), params(0.05, 0.01)).unwrap();
        for step in 0..5 {
            let w: Vec<f32> = (0..24).map(|i| ((i + step) as f32 * 0.11).cos()).collect();
            let w = Tensor::from_vec(w, (6, 4), &dev).unwrap();
            let grads = |v: &Var| {
                let loss = (v.as_tensor() * &w).unwrap().sqr().unwrap().sum_all();
                loss.unwrap().backward().unwrap()
            };
            reference.step(&grads(&a)).unwrap();
            rows.step_all(grads(&b).get(&b).unwrap()).unwrap();
        }
        let (x, y): (Vec<f32>, Vec<f32>) = (
            a.flatten_all().unwrap().to_vec1().unwrap(),
            b.flatten_all().unwrap().to_vec1().unwrap(),
        );
        for (p, q) in x.iter().zip(&y) {
            assert!((p - q).abs() < 1e-5, "{p} vs {q}");
        }
    }

    #[test]
    fn a_sparse_step_changes_only_its_rows() {
        let dev = Device::Cpu;
        let init: Vec<f32> = (0..40).map(|i| i as f32 * 0.1).collect();
        let t = Var::from_tensor(&Tensor::from_vec(init.clone(), (10, 4), &dev).unwrap()).unwrap();
        let mut opt = RowAdamW::new(t.clone(), params(0.1, 0.0)).unwrap();
        let g = Tensor::ones((2, 4), candle_core::DType::F32, &dev).unwrap();
        opt.step_rows(&[7, 2], &g).unwrap();
        let after: Vec<Vec<f32>> = t.as_tensor().to_vec2().unwrap();
        for (r, row) in after.iter().enumerate() {
            for (j, &x) in row.iter().enumerate() {
                let before = init[r * 4 + j];
                if r == 7 || r == 2 {
                    // first Adam step on a gradient of 1: minus lr (up to epsilon)
                    assert!((x - (before - 0.1)).abs() < 1e-5, "row {r}: {x}");
                } else {
                    assert_eq!(x, before, "row {r} must not move");
                }
            }
        }
    }
}
