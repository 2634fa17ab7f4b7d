//! The forward pass of the encoder over a batch (exactly the exported graph), and the session vectors.

use anyhow::Result;
use candle_core::{Tensor, D};

use nextclick_model::encoder::{SplitMix, MASK_BIAS};

use super::{batch::*, net::*, ops::*};

/// Encoder forward on a batch: `[b, t, D]` hidden states after the final LayerNorm, every position.
/// `rng = Some(..)` turns on dropout with probability `drop`.
pub fn encode(
    net: &Net,
    item_table: &Tensor,
    batch: &Batch,
    drop: f32,
    mut rng: Option<&mut SplitMix>,
) -> Result<Tensor> {
    let e = net.cfg.encoder;
    let (b, t, d, h) = (batch.b, batch.t, e.dim, e.heads);
    let dh = d / h;
    let dev = &net.device;
    let idx = Tensor::from_vec(batch.items.clone(), b * t, dev)?;
    let mask = Tensor::from_vec(batch.mask.clone(), (b, t, 1), dev)?;
    let mut items = item_table.index_select(&idx, 0)?.reshape((b, t, d))?;
    if net.cfg.cosine {
        items = items.broadcast_mul(&net.p("enc.in_scale"))?;
    }
    let types = net
        .p("enc.type_emb")
        .index_select(&Tensor::from_vec(batch.types.clone(), b * t, dev)?, 0)?
        .reshape((b, t, d))?;
    let gaps = net
        .p("enc.gap_emb")
        .index_select(&Tensor::from_vec(batch.gaps.clone(), b * t, dev)?, 0)?
        .reshape((b, t, d))?;
    let x = (items + types)?.add(&gaps)?;
    let x = if net.cfg.positions_from_start {
        // contract v2: position = index from the session start, capped at L − 1 (per row)
        let pos = net
            .p("enc.pos_emb")
            .index_select(&Tensor::from_vec(batch.pos.clone(), b * t, dev)?, 0)?
            .reshape((b, t, d))?;
        x.add(&pos)?
    } else {
        // contract v1: right-aligned, the window's last row is position L − 1
        x.broadcast_add(&net.p("enc.pos_emb").narrow(0, e.max_len - t, t)?)?
    };
    let x = x.broadcast_mul(&mask)?;
    let mut x = dropout(&x, drop, &mut rng)?;
    // (b, 1, t, t) additive bias: key padding + causal
    let mut bias = vec![0f32; b * t * t];
    for bi in 0..b {
        for i in 0..t {
            for j in 0..t {
                let mut v = (batch.mask[bi * t + j] - 1.0) * -MASK_BIAS;
                if j > i {
                    v += MASK_BIAS;
                }
                bias[(bi * t + i) * t + j] = v;
            }
        }
    }
    let bias = Tensor::from_vec(bias, (b, 1, t, t), dev)?;
    let scale = 1.0 / (dh as f64).sqrt();
    let lin = |x: &Tensor, w: &str, bb: &str, dout: usize| -> Result<Tensor> {
        let din = x.dim(D::Minus1)?;
        Ok(x.reshape((b * t, din))?
            .matmul(&net.p(w))?
            .broadcast_add(&net.p(bb))?
            .reshape((b, t, dout))?)
    };
    for l in 0..e.layers {
        let p = |n: &str| format!("enc.l{l}.{n}");
        let hn = ln(&x, &net.p(&p("ln1_g")), &net.p(&p("ln1_b")), e.ln_eps)?;
        let split = |y: Tensor| -> Result<Tensor> {
            Ok(y.reshape((b, t, h, dh))?.transpose(1, 2)?.contiguous()?)
        };
        let q = split(lin(&hn, &p("wq"), &p("bq"), d)?)?;
        let k = split(lin(&hn, &p("wk"), &p("bk"), d)?)?;
        let v = split(lin(&hn, &p("wv"), &p("bv"), d)?)?;
        let sc = (q.matmul(&k.transpose(2, 3)?.contiguous()?)? * scale)?.broadcast_add(&bias)?;
        let pr = softmax(&sc)?;
        let ctx = pr
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((b, t, d))?;
        let o = dropout(&lin(&ctx, &p("wo"), &p("bo"), d)?, drop, &mut rng)?;
        x = (x + o)?;
        let hn = ln(&x, &net.p(&p("ln2_g")), &net.p(&p("ln2_b")), e.ln_eps)?;
        let f = lin(&hn, &p("w1"), &p("b1"), e.ffn)?.gelu_erf()?;
        let f2 = dropout(&lin(&f, &p("w2"), &p("b2"), d)?, drop, &mut rng)?;
        x = (x + f2)?;
    }
    let out = ln(&x, &net.p("enc.lnf_g"), &net.p("enc.lnf_b"), e.ln_eps)?;
    if net.cfg.cosine {
        Ok(l2_rows(&out)?)
    } else {
        Ok(out)
    }
}

/// Session vectors at the last position of every window: `[b, D]`.
pub fn session_vectors(net: &Net, item_table: &Tensor, batch: &Batch) -> Result<Tensor> {
    let hs = encode(net, item_table, batch, 0.0, None)?;
    Ok(hs.narrow(1, batch.t - 1, 1)?.squeeze(1)?)
}
