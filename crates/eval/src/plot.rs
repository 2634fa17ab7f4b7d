//! SVG plots of the report (plotters, SVG backend: no fonts or native libraries needed).

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::prelude::*;

/// One line of a plot: a label and `(x, y, lo, hi)` points (the interval drawn as a vertical bar).
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// Points with their interval.
    pub points: Vec<(f64, f64, f64, f64)>,
}

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn e<E: std::fmt::Debug>(x: E) -> anyhow::Error {
    anyhow!("plot: {x:?}")
}

/// A line plot with interval bars; `x_labels` (if any) name the integer x positions.
pub fn lines(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
    x_labels: Option<&[String]>,
    diagonal: bool,
) -> Result<()> {
    let pts = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y, lo, hi) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        for v in [y, lo, hi] {
            if v.is_finite() {
                y0 = y0.min(v);
                y1 = y1.max(v);
            }
        }
    }
    if !x0.is_finite() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if diagonal {
        (x0, x1, y0, y1) = (0.0, x1.max(y1).max(1e-3), 0.0, x1.max(y1).max(1e-3));
    }
    let pad = ((x1 - x0) * 0.05).max(1e-3);
    let ypad = ((y1 - y0) * 0.1).max(1e-3);
    let root = SVGBackend::new(path, (720, 440)).into_drawing_area();
    root.fill(&WHITE).map_err(e)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d((x0 - pad)..(x1 + pad), (y0 - ypad).max(0.0)..(y1 + ypad))
        .map_err(e)?;
    let labels = x_labels.map(|l| l.to_vec());
    let fmt = move |x: &f64| match &labels {
        Some(l) => {
            let r = x.round();
            if (x - r).abs() < 1e-6 && r >= 0.0 && (r as usize) < l.len() {
                l[r as usize].clone()
            } else {
                String::new()
            }
        }
        None => format!("{x:.2}"),
    };
    let n_labels = x_labels.map_or(8, |l| l.len() * 4 + 1);
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_labels(n_labels)
        .x_label_formatter(&fmt)
        .draw()
        .map_err(e)?;
    if diagonal {
        chart
            .draw_series(LineSeries::new(
                [(0.0, 0.0), (x1, x1)],
                BLACK.mix(0.4).stroke_width(1),
            ))
            .map_err(e)?
            .label("perfect calibration")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLACK.mix(0.4)));
    }
    for (i, s) in series.iter().enumerate() {
        let c = COLORS[i % COLORS.len()];
        let p: Vec<(f64, f64)> = s.points.iter().map(|p| (p.0, p.1)).collect();
        chart
            .draw_series(LineSeries::new(p.clone(), c.stroke_width(2)))
            .map_err(e)?
            .label(s.label.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], c.stroke_width(2)));
        chart
            .draw_series(p.iter().map(|&(x, y)| Circle::new((x, y), 3, c.filled())))
            .map_err(e)?;
        chart
            .draw_series(
                s.points
                    .iter()
                    .filter(|p| p.2.is_finite() && p.3.is_finite())
                    .map(|&(x, _, lo, hi)| {
                        PathElement::new([(x, lo), (x, hi)], c.mix(0.6).stroke_width(1))
                    }),
            )
            .map_err(e)?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(e)?;
    root.present().map_err(e)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_an_svg() {
        let p = std::env::temp_dir().join(format!("nextclick-plot-{}.svg", std::process::id()));
        let s = Series {
            label: "a".into(),
            points: vec![(0.0, 0.1, 0.05, 0.15), (1.0, 0.2, 0.1, 0.3)],
        };
        lines(
            &p,
            "t",
            "x",
            "y",
            std::slice::from_ref(&s),
            Some(&["zero".into(), "one".into()]),
            false,
        )
        .unwrap();
        lines(&p, "t", "x", "y", &[s], None, true).unwrap();
        let svg = std::fs::read_to_string(&p).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("perfect calibration"));
        std::fs::remove_file(&p).ok();
    }
}
