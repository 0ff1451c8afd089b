//! The four plots as standalone SVG documents (plotters' SVG backend, no font loading).
//!
//! Each function takes plain numbers, so it is usable without a search, and returns the SVG
//! text. Non-finite values are left out (and counted in the caption); an empty series list
//! gives a plot that says "no data" rather than an error.

use crate::ReportError;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;

/// Width and height of every plot, px.
pub const SIZE: (u32, u32) = (720, 420);

/// Series colours (colour-blind-safe Okabe–Ito palette).
const COLORS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(240, 228, 66),
    RGBColor(0, 0, 0),
];

/// The colour of series `i`.
pub fn color(i: usize) -> RGBColor {
    COLORS[i % COLORS.len()]
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type DrawResult = Result<(), ReportError>;

fn err<E: std::fmt::Display>(e: E) -> ReportError {
    ReportError::Plot(e.to_string())
}

fn render(draw: impl FnOnce(&Area<'_>) -> DrawResult) -> Result<String, ReportError> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok(out)
}

fn no_data(root: &Area<'_>, title: &str) -> DrawResult {
    let style = ("sans-serif", 18).into_font();
    root.draw(&Text::new(title.to_string(), (20, 20), style.clone()))
        .map_err(err)?;
    root.draw(&Text::new("no data", (20, 60), style))
        .map_err(err)
}

/// A titled chart over `x` × `y` with both axes described and no minor grid lines (the
/// frame of every x–y plot here); `y_area` is the width of the y-label area, px.
fn xy_chart<'a, 'b>(
    root: &'a Area<'b>,
    title: &str,
    (x_label, y_label): (&str, &str),
    x: (f64, f64),
    y: (f64, f64),
    y_area: u32,
) -> Result<
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    ReportError,
> {
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(y_area)
        .build_cartesian_2d(x.0..x.1, y.0..y.1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    Ok(chart)
}

/// `[lo, hi]` padded by 5 % (or ±1 / ±|v|·10 % when all values are equal).
fn range(values: impl Iterator<Item = f64>, from_zero: bool) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return None;
    }
    if from_zero && lo >= 0.0 {
        lo = 0.0;
    }
    if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
        let pad = if hi == 0.0 { 1.0 } else { hi.abs() * 0.1 };
        return Some((lo - pad, hi + pad));
    }
    let pad = 0.05 * (hi - lo);
    Some((
        if from_zero && lo == 0.0 {
            0.0
        } else {
            lo - pad
        },
        hi + pad,
    ))
}

/// A scatter of every candidate (grey), the non-dominated front (a line through coloured
/// points) and the best plan (a larger ring), for two objectives named `x_label`, `y_label`.
/// `front` is in plotting order.
pub fn pareto(
    title: &str,
    x_label: &str,
    y_label: &str,
    candidates: &[(f64, f64)],
    front: &[(f64, f64)],
    best: Option<(f64, f64)>,
) -> Result<String, ReportError> {
    render(|root| {
        let pts = candidates.iter().chain(front).copied();
        let (Some(xr), Some(yr)) = (
            range(pts.clone().map(|p| p.0), false),
            range(pts.map(|p| p.1), false),
        ) else {
            return no_data(root, title);
        };
        let mut chart = xy_chart(root, title, (x_label, y_label), xr, yr, 64)?;
        let finite = |p: &&(f64, f64)| p.0.is_finite() && p.1.is_finite();
        chart
            .draw_series(
                candidates
                    .iter()
                    .filter(finite)
                    .map(|&(x, y)| Circle::new((x, y), 3, RGBColor(150, 150, 150).filled())),
            )
            .map_err(err)?
            .label("candidate")
            .legend(|(x, y)| Circle::new((x, y), 3, RGBColor(150, 150, 150).filled()));
        let fr: Vec<(f64, f64)> = front.iter().filter(finite).copied().collect();
        chart
            .draw_series(LineSeries::new(fr.clone(), color(0).stroke_width(2)))
            .map_err(err)?
            .label("Pareto front")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color(0).stroke_width(2)));
        chart
            .draw_series(
                fr.iter()
                    .map(|&(x, y)| Circle::new((x, y), 4, color(0).filled())),
            )
            .map_err(err)?;
        if let Some((x, y)) = best.filter(|b| b.0.is_finite() && b.1.is_finite()) {
            chart
                .draw_series(std::iter::once(Circle::new(
                    (x, y),
                    8,
                    color(1).stroke_width(2),
                )))
                .map_err(err)?
                .label("best")
                .legend(|(x, y)| Circle::new((x, y), 5, color(1).stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(err)
    })
}

/// Empirical CDFs (a step line per series) of the values of each `(name, values)`.
pub fn cdf(
    title: &str,
    x_label: &str,
    series: &[(String, Vec<f64>)],
) -> Result<String, ReportError> {
    render(|root| {
        let Some(xr) = range(series.iter().flat_map(|s| s.1.iter().copied()), true) else {
            return no_data(root, title);
        };
        let mut chart = xy_chart(
            root,
            title,
            (x_label, "fraction of requests"),
            xr,
            (0.0, 1.0),
            56,
        )?;
        for (i, (name, values)) in series.iter().enumerate() {
            let mut v: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
            if v.is_empty() {
                continue;
            }
            v.sort_by(f64::total_cmp);
            let n = v.len() as f64;
            let mut pts = Vec::with_capacity(2 * v.len() + 1);
            pts.push((v[0], 0.0));
            for (j, &x) in v.iter().enumerate() {
                pts.push((x, j as f64 / n));
                pts.push((x, (j + 1) as f64 / n));
            }
            let c = color(i);
            chart
                .draw_series(LineSeries::new(pts, c.stroke_width(2)))
                .map_err(err)?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(err)
    })
}

/// One line with points per `(name, [(x, y)])`, e.g. throughput against latency as the
/// offered load grows.
pub fn curves(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<String, ReportError> {
    render(|root| {
        let all = || series.iter().flat_map(|s| s.1.iter().copied());
        let (Some(xr), Some(yr)) = (
            range(all().map(|p| p.0), true),
            range(all().map(|p| p.1), true),
        ) else {
            return no_data(root, title);
        };
        let mut chart = xy_chart(root, title, (x_label, y_label), xr, yr, 64)?;
        for (i, (name, pts)) in series.iter().enumerate() {
            let pts: Vec<(f64, f64)> = pts
                .iter()
                .copied()
                .filter(|p| p.0.is_finite() && p.1.is_finite())
                .collect();
            let c = color(i);
            chart
                .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
                .map_err(err)?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
                });
            chart
                .draw_series(pts.iter().map(|&(x, y)| Circle::new((x, y), 3, c.filled())))
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(err)
    })
}

/// Stacked horizontal bars: one bar per `(name, {part: value})`, parts in key order and
/// coloured consistently across bars (e.g. the per-op-kind time of each plan).
pub fn stacked_bars(
    title: &str,
    x_label: &str,
    bars: &[(String, BTreeMap<String, f64>)],
) -> Result<String, ReportError> {
    render(|root| {
        let total = |m: &BTreeMap<String, f64>| {
            m.values()
                .filter(|v| v.is_finite() && **v > 0.0)
                .sum::<f64>()
        };
        let max = bars.iter().map(|b| total(&b.1)).fold(0.0, f64::max);
        if bars.is_empty() || max <= 0.0 {
            return no_data(root, title);
        }
        let parts: Vec<&String> = {
            let mut p: Vec<&String> = bars.iter().flat_map(|b| b.1.keys()).collect();
            p.sort();
            p.dedup();
            p
        };
        let n = bars.len();
        // Bar `bi` sits in segment `n - 1 - bi`, so the first bar is at the top.
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(170)
            .build_cartesian_2d(0.0..max * 1.05, (0..n).into_segmented())
            .map_err(err)?;
        let names: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_labels(n)
            .y_label_formatter(&|v: &SegmentValue<usize>| match v {
                SegmentValue::CenterOf(i) if *i < n => names[n - 1 - i].clone(),
                _ => String::new(),
            })
            .disable_y_mesh()
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(err)?;
        for (pi, part) in parts.iter().enumerate() {
            let c = color(pi);
            let rects: Vec<Rectangle<(f64, SegmentValue<usize>)>> = bars
                .iter()
                .enumerate()
                .filter_map(|(bi, (_, m))| {
                    let v = *m.get(*part)?;
                    if !(v.is_finite() && v > 0.0) {
                        return None;
                    }
                    let start: f64 = parts[..pi]
                        .iter()
                        .filter_map(|p| m.get(*p))
                        .filter(|v| v.is_finite() && **v > 0.0)
                        .sum();
                    let seg = n - 1 - bi;
                    let mut r = Rectangle::new(
                        [
                            (start, SegmentValue::Exact(seg)),
                            (start + v, SegmentValue::Exact(seg + 1)),
                        ],
                        c.filled(),
                    );
                    r.set_margin(6, 6, 0, 0);
                    Some(r)
                })
                .collect();
            chart
                .draw_series(rects)
                .map_err(err)?
                .label(part.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(err)
    })
}
