//! Differentiable building blocks candle lacks a backward pass for (layer norm, softmax), and tensor helpers.

use anyhow::Result;
use candle_core::{DType, Device, Tensor, D};

use nextclick_model::encoder::SplitMix;

/// `x / √(Σx² + ε)` over the last axis (differentiable; ε = [`nextclick_model::encoder::L2_EPS`]).
pub fn l2_rows(x: &Tensor) -> candle_core::Result<Tensor> {
    let n = (x.sqr()?.sum_keepdim(D::Minus1)? + nextclick_model::encoder::L2_EPS as f64)?.sqrt()?;
    x.broadcast_div(&n)
}

/// Differentiable LayerNorm over the last axis (biased variance).
pub fn ln(x: &Tensor, g: &Tensor, b: &Tensor, eps: f32) -> candle_core::Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let xc = x.broadcast_sub(&mean)?;
    let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
    let xn = xc.broadcast_div(&(var + eps as f64)?.sqrt()?)?;
    xn.broadcast_mul(g)?.broadcast_add(b)
}

/// Differentiable softmax over the last axis.
pub fn softmax(x: &Tensor) -> candle_core::Result<Tensor> {
    let m = x.max_keepdim(D::Minus1)?.detach();
    let e = x.broadcast_sub(&m)?.exp()?;
    e.broadcast_div(&e.sum_keepdim(D::Minus1)?)
}

/// Log-softmax over the last axis (differentiable).
pub fn log_softmax(x: &Tensor) -> candle_core::Result<Tensor> {
    let m = x.max_keepdim(D::Minus1)?.detach();
    let s = x.broadcast_sub(&m)?;
    s.broadcast_sub(&s.exp()?.sum_keepdim(D::Minus1)?.log()?)
}

/// Deterministic dropout (inverted scaling) driven by `rng`; identity when `p == 0`.
pub(crate) fn dropout(x: &Tensor, p: f32, rng: &mut Option<&mut SplitMix>) -> Result<Tensor> {
    let Some(r) = rng.as_mut() else {
        return Ok(x.clone());
    };
    if p <= 0.0 {
        return Ok(x.clone());
    }
    let n = x.elem_count();
    let keep = 1.0 / (1.0 - p);
    let m: Vec<f32> = (0..n)
        .map(|_| if r.uniform() < p { 0.0 } else { keep })
        .collect();
    Ok(x.mul(&Tensor::from_vec(m, x.shape(), x.device())?)?)
}

/// Content embeddings as a `[V, C]` tensor.
pub fn content_tensor(vecs: &[f32], dim: usize) -> Result<Tensor> {
    Ok(Tensor::from_vec(
        vecs.to_vec(),
        (vecs.len() / dim, dim),
        &Device::Cpu,
    )?)
}

/// A tensor's values as f32 (helper for export and tests).
pub fn to_f32(t: &Tensor) -> Result<Vec<f32>> {
    Ok(t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_and_softmax_match_candle_forward() {
        let dev = Device::Cpu;
        let x = Tensor::from_vec(
            (0..24)
                .map(|i| (i as f32 * 0.37).sin() * 3.0)
                .collect::<Vec<_>>(),
            (2, 3, 4),
            &dev,
        )
        .unwrap();
        let g = Tensor::from_vec(vec![1.0f32, 0.5, 2.0, -1.0], 4, &dev).unwrap();
        let b = Tensor::from_vec(vec![0.1f32, 0.0, -0.2, 0.3], 4, &dev).unwrap();
        let a = to_f32(&ln(&x, &g, &b, 1e-5).unwrap()).unwrap();
        let r = to_f32(&candle_nn::ops::layer_norm(&x, &g, &b, 1e-5).unwrap()).unwrap();
        assert!(a.iter().zip(&r).all(|(p, q)| (p - q).abs() < 1e-5));
        let a = to_f32(&softmax(&x).unwrap()).unwrap();
        let r = to_f32(&candle_nn::ops::softmax_last_dim(&x).unwrap()).unwrap();
        assert!(a.iter().zip(&r).all(|(p, q)| (p - q).abs() < 1e-6));
    }
}
