//! The per-label bar chart: bytes (tx and rx stacked) beside the radio high
//! time charged to each label, one row per label, largest first.

use super::style::{DrawResult, PALETTE};
use super::text::{binary_unit, human_bytes, tick};
use super::Report;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Bars drawn individually, the rest summed as "other".
const MAX_BARS: usize = 16;
/// Width of the chart, pixels.
const BARS_WIDTH: u32 = 1200;
/// Height of one bar row, pixels; the chart grows with the number of labels.
const BAR_ROW_HEIGHT: u32 = 32;
/// Room for the title, the panel captions and the x axis, pixels.
const BARS_FRAME_HEIGHT: u32 = 140;

/// Per-label bytes and radio seconds, in the report's order.
pub(super) struct Bars {
    names: Vec<String>,
    tx: Vec<f64>,
    rx: Vec<f64>,
    radio: Vec<f64>,
}

impl Bars {
    /// The chart's size in pixels for these bars.
    pub(super) fn size(&self) -> (u32, u32) {
        (BARS_WIDTH, BARS_FRAME_HEIGHT + BAR_ROW_HEIGHT * self.names.len().max(1) as u32)
    }

    pub(super) fn from_report(report: &Report) -> Self {
        let mut bars = Bars { names: vec![], tx: vec![], rx: vec![], radio: vec![] };
        for (i, r) in report.labels.iter().enumerate() {
            if i < MAX_BARS {
                bars.names.push(r.name.clone());
                bars.tx.push(0.0);
                bars.rx.push(0.0);
                bars.radio.push(0.0);
            } else if i == MAX_BARS {
                bars.names.push("other".into());
                bars.tx.push(0.0);
                bars.rx.push(0.0);
                bars.radio.push(0.0);
            }
            let slot = i.min(MAX_BARS);
            bars.tx[slot] += r.tx as f64;
            bars.rx[slot] += r.rx as f64;
            bars.radio[slot] += r.radio_seconds;
        }
        bars
    }
}

pub(super) fn draw_bars<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, data: &Bars) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let root = root.titled("Per label: bytes and radio high time", ("sans-serif", 24))?;
    let (left, right) = root.split_horizontally(root.dim_in_pixel().0 * 3 / 5);
    let bytes: Vec<f64> = data.tx.iter().zip(&data.rx).map(|(t, r)| t + r).collect();
    let (scale, unit) = binary_unit(bytes.iter().copied().fold(0.0, f64::max));
    let scaled = |v: &[f64]| v.iter().map(|b| b / scale).collect::<Vec<f64>>();
    let bytes_panel = Panel {
        title: format!("bytes, tx + rx ({unit})"),
        layers: vec![(scaled(&data.tx), "tx", PALETTE[0]), (scaled(&bytes), "rx", PALETTE[1])],
        value_label: &|v| human_bytes(v * scale),
    };
    bar_panel(&left, &data.names, &bytes_panel)?;
    let radio_panel = Panel {
        title: "radio high time (s)".into(),
        layers: vec![(data.radio.clone(), "radio", PALETTE[3])],
        value_label: &|s| format!("{s:.1} s"),
    };
    bar_panel(&right, &data.names, &radio_panel)?;
    Ok(())
}

/// One panel of horizontal bars.
struct Panel<'a> {
    title: String,
    /// Cumulative values per row, drawn back to front: each layer's bar ends
    /// where its value does, so `[tx, tx+rx]` shows tx then rx stacked.
    layers: Vec<(Vec<f64>, &'a str, RGBColor)>,
    /// The text printed after each bar, from the last layer's value.
    value_label: &'a dyn Fn(f64) -> String,
}

/// Horizontal bars, one row per name (first name on top); the names are
/// printed on the first panel (the one with more than one layer) only.
fn bar_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, names: &[String], panel: &Panel) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let layers = &panel.layers;
    let n = names.len().max(1);
    let top = layers.last().map(|l| l.0.iter().copied().fold(0.0, f64::max)).unwrap_or(0.0).max(1.0);
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(if layers.len() > 1 { 170 } else { 10 })
        .build_cartesian_2d(0.0..top * 1.25, (0..n - 1).into_segmented())?;
    let row_of = |i: usize| n - 1 - i;
    let names_for_axis: Vec<String> = names.to_vec();
    let show_names = layers.len() > 1;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(WHITE.mix(0.0))
        .y_labels(n)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(r) if show_names && *r < n => {
                names_for_axis.get(n - 1 - *r).cloned().unwrap_or_default()
            }
            _ => String::new(),
        })
        .x_label_formatter(&|x| tick(*x))
        .x_labels(5)
        .label_style(("sans-serif", 14))
        .draw()?;
    for (values, label, color) in layers.iter().rev() {
        let color = *color;
        chart
            .draw_series(values.iter().enumerate().map(|(i, &v)| {
                let r = row_of(i);
                let mut bar =
                    Rectangle::new([(0.0, SegmentValue::Exact(r)), (v, SegmentValue::Exact(r + 1))], color.filled());
                bar.set_margin(4, 4, 0, 0);
                bar
            }))?
            .label(*label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
    }
    if let Some((totals, _, _)) = layers.last() {
        chart.draw_series(totals.iter().enumerate().map(|(i, &v)| {
            let at = (v, SegmentValue::CenterOf(row_of(i)));
            EmptyElement::at(at) + Text::new((panel.value_label)(v), (6, -6), ("sans-serif", 13))
        }))?;
    }
    if layers.len() > 1 {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()?;
    }
    Ok(())
}
