//! The paper protocol through tract (`nextclick eval-loo`): each case's history encoded by the exported
//! model, every catalog item scored, the target ranked with the history excluded (as RecBole's full sort).

use anyhow::Result;
use nextclick::model::Encoder;
use nextclick_data::Event;
use nextclick_model::rank::{rank_of, Metrics};

/// Leave-one-out metrics of an ONNX model with item vectors `vecs` `[V, D]`, scored through tract.
pub fn eval_loo(enc: &Encoder, vecs: &[f32], cases: &[(Vec<Event>, u32)]) -> Result<Metrics> {
    let shape = enc.shape();
    let n_items = vecs.len() / shape.dim;
    let mut m = Metrics::default();
    let pb = indicatif::ProgressBar::new(cases.len() as u64);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "eval {bar:40} {pos}/{len} [{elapsed_precise}<{eta_precise}]",
        )
        .expect("template"),
    );
    let mut scores = vec![0f32; n_items];
    for (hist, target) in cases {
        let s = nextclick_model::catalog::session_vector(enc, hist, vecs)?;
        for (i, sc) in scores.iter_mut().enumerate() {
            *sc = nextclick::catalog::dot(&s, &vecs[i * shape.dim..(i + 1) * shape.dim]);
        }
        let h: Vec<u32> = hist.iter().map(|e| e.item).collect();
        m.add(rank_of(&scores, *target as usize, &h));
        pb.inc(1);
    }
    pb.finish_and_clear();
    Ok(m.finish())
}
