//! The charts, drawn by plotters on canvases from `results`' data: bits per byte per golfer (with Parameter
//! Golf's baseline), cumulative bits along the text, and each golfer's distribution of per-token bits.

use std::ops::Range;

use plotters::chart::MeshStyle;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::canvas::Canvas;

use crate::results::{self, Scored, BASELINE_BPB};

/// Okabe-Ito: a categorical palette that colour-blind readers can tell apart.
const GOLFER_COLORS: [RGBColor; 6] = [
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0xD5, 0x5E, 0x00),
];

pub fn golfer_color(i: usize) -> RGBColor {
    GOLFER_COLORS[i % GOLFER_COLORS.len()]
}

const FONT: &str = "sans-serif";

/// Paper and ink: the page's own panel and text colours (style.css), light or dark as the reader's system is.
#[derive(Clone, Copy)]
struct Theme {
    paper: RGBColor,
    ink: RGBColor,
}

/// Whether the reader's system asks for dark colours (style.css follows the same query).
pub(super) fn prefers_dark() -> bool {
    web_sys::window()
        .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
        .is_some_and(|m| m.matches())
}

fn theme() -> Theme {
    if prefers_dark() {
        Theme { paper: RGBColor(0x1e, 0x20, 0x26), ink: RGBColor(0xe8, 0xe8, 0xea) }
    } else {
        Theme { paper: WHITE, ink: RGBColor(0x33, 0x33, 0x33) }
    }
}

type Drawn = Result<(), Box<dyn std::error::Error>>;
type Root = DrawingArea<Canvas, plotters::coord::Shift>;
type Chart<'a> = ChartContext<'a, Canvas, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

fn canvas(id: &str, t: Theme) -> Result<Root, Box<dyn std::error::Error>> {
    let backend = Canvas::new(id).ok_or_else(|| format!("no canvas #{id}"))?;
    let root = backend.into_drawing_area();
    root.fill(&t.paper)?;
    Ok(root)
}

/// A captioned chart whose axes, grid and labels are in the theme's ink.
fn chart<'a>(
    root: &'a Root,
    t: Theme,
    caption: &str,
    (x_label_area, y_label_area): (u32, u32),
    x: Range<f64>,
    y: Range<f64>,
) -> Result<Chart<'a>, Box<dyn std::error::Error>> {
    Ok(ChartBuilder::on(root)
        .caption(caption, (FONT, 16).into_font().color(&t.ink))
        .margin(10)
        .x_label_area_size(x_label_area)
        .y_label_area_size(y_label_area)
        .build_cartesian_2d(x, y)?)
}

fn mesh<'a, 'b>(chart: &'b mut Chart<'a>, t: Theme) -> MeshStyle<'a, 'b, RangedCoordf64, RangedCoordf64, Canvas> {
    let mut m = chart.configure_mesh();
    m.axis_style(t.ink)
        .bold_line_style(t.ink.mix(0.2))
        .light_line_style(t.ink.mix(0.07))
        .label_style((FONT, 12).into_font().color(&t.ink))
        .x_label_formatter(&|v| results::axis_number(*v))
        .y_label_formatter(&|v| results::axis_number(*v));
    m
}

fn legend(chart: &mut Chart, t: Theme, at: SeriesLabelPosition) -> Drawn {
    chart
        .configure_series_labels()
        .position(at)
        .border_style(t.ink)
        .background_style(t.paper.mix(0.85))
        .label_font((FONT, 12).into_font().color(&t.ink))
        .draw()?;
    Ok(())
}

/// Bars of bits per byte, one per golfer, and the Parameter Golf baseline as a dashed line.
pub fn bpb_bars(id: &str, scored: &[(usize, &Scored)]) -> Drawn {
    let t = theme();
    let root = canvas(id, t)?;
    let top = scored.iter().map(|(_, s)| s.bpb()).fold(BASELINE_BPB, f64::max) * 1.15;
    let n = scored.len().max(1);
    let mut chart = chart(&root, t, "bits per byte (lower is better)", (48, 44), 0f64..n as f64, 0f64..top)?;
    // Characters of a name that fit under one bar (12 px sans-serif is about 7 px a character).
    let width = ((root.dim_in_pixel().0 as f64 - 64.0) / n as f64 / 7.0) as usize;
    mesh(&mut chart, t).disable_x_mesh().x_labels(0).y_desc("bits/byte").draw()?;
    let text = (FONT, 12).into_font().color(&t.ink);
    for (k, (color, s)) in scored.iter().enumerate() {
        let x = k as f64;
        let c = golfer_color(*color);
        chart.draw_series(std::iter::once(Rectangle::new([(x + 0.15, 0.0), (x + 0.85, s.bpb())], c.filled())))?;
        // A prefix's bar is not comparable with whole-text bars: its value says so.
        let label =
            format!("{:.3}{}", s.bpb(), if s.is_prefix() { format!(" (first {} B)", s.bytes) } else { String::new() });
        chart.draw_series(std::iter::once(Text::new(label, (x + 0.3, s.bpb() + top * 0.02), text.clone())))?;
        // The golfer's whole name under its bar, in as many lines as it needs (offsets in pixels).
        for (line_no, line) in results::name_lines(&s.label, width.max(6)).into_iter().enumerate() {
            let at = EmptyElement::at((x + 0.15, 0.0)) + Text::new(line, (0, 6 + 14 * line_no as i32), text.clone());
            chart.draw_series(std::iter::once(at))?;
        }
    }
    chart
        .draw_series(DashedLineSeries::new([(0.0, BASELINE_BPB), (n as f64, BASELINE_BPB)], 6, 4, RED.stroke_width(2)))?
        .label(format!("Parameter Golf baseline {BASELINE_BPB}"))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], RED.stroke_width(2)));
    legend(&mut chart, t, SeriesLabelPosition::UpperRight)?;
    root.present()?;
    Ok(())
}

/// Cumulative bits against byte position, one line per golfer: where the lines part is where the text was
/// harder for one golfer than another.
pub fn cumulative(id: &str, scored: &[(usize, &Scored)]) -> Drawn {
    let t = theme();
    let root = canvas(id, t)?;
    let series: Vec<Vec<(f64, f64)>> = scored.iter().map(|(_, s)| results::cumulative(&s.spans, 800)).collect();
    let max_x = scored.iter().map(|(_, s)| s.bytes as f64).fold(1.0, f64::max);
    let max_y = series.iter().filter_map(|p| p.last().map(|l| l.1)).fold(1.0, f64::max) * 1.05;
    let mut chart = chart(&root, t, "cumulative bits along the text", (44, 62), 0f64..max_x, 0f64..max_y)?;
    mesh(&mut chart, t).x_desc("byte").y_desc("bits").draw()?;
    for ((color, s), points) in scored.iter().zip(series) {
        let c = golfer_color(*color);
        chart
            .draw_series(LineSeries::new(points, c.stroke_width(2)))?
            .label(s.label.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], c.stroke_width(2)));
    }
    legend(&mut chart, t, SeriesLabelPosition::UpperLeft)?;
    root.present()?;
    Ok(())
}

/// Each golfer's distribution of bits per token (per symbol for gzip), as the share of its tokens in each
/// 1-bit bin: GLTR's histogram, for every golfer at once.
pub fn histogram(id: &str, scored: &[(usize, &Scored)]) -> Drawn {
    const BINS: usize = 24;
    let t = theme();
    let root = canvas(id, t)?;
    let shares: Vec<Vec<f64>> = scored
        .iter()
        .map(|(_, s)| {
            let counts = results::histogram(&s.spans, BINS, 1.0);
            let total = counts.iter().sum::<u32>().max(1) as f64;
            counts.iter().map(|&c| c as f64 / total).collect()
        })
        .collect();
    let max_y = shares.iter().flatten().cloned().fold(0.05, f64::max) * 1.1;
    let mut chart = chart(&root, t, "bits per token: share of tokens", (44, 44), 0f64..BINS as f64, 0f64..max_y)?;
    mesh(&mut chart, t)
        .x_desc(format!("bits (last bin: {}+)", BINS - 1))
        .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
        .draw()?;
    for ((color, s), share) in scored.iter().zip(shares) {
        let c = golfer_color(*color);
        let points: Vec<(f64, f64)> = share.iter().enumerate().map(|(b, &v)| (b as f64 + 0.5, v)).collect();
        chart
            .draw_series(LineSeries::new(points.clone(), c.stroke_width(2)))?
            .label(s.label.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], c.stroke_width(2)));
        chart.draw_series(points.into_iter().map(|p| Circle::new(p, 2, c.filled())))?;
    }
    legend(&mut chart, t, SeriesLabelPosition::UpperRight)?;
    root.present()?;
    Ok(())
}
