//! The report's charts, each written as SVG and PNG from the same drawing
//! code (plotters): per-label throughput over time as a stacked area with
//! cellular periods shaded (here), and per-label bars of bytes and radio
//! seconds (`bars.rs`).
//!
//! Text needs a TrueType font: plotters is built without font-kit (no
//! fontconfig to link), so the font is a file we load and hand to its
//! `ab_glyph` renderer. By default that is DejaVu Sans from the system
//! (Debian/Ubuntu `fonts-dejavu-core`); `ChartOptions::font` overrides it.
//! Both formats need it, because plotters measures text to lay out axes.

use super::bars::{draw_bars, Bars};
use super::radio::split_window;
use super::style::{DrawResult, PALETTE};
use super::text::{binary_unit, tick, utc_datetime};
use super::{Report, ReportError};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Where DejaVu Sans lives on common systems, tried in order.
pub const DEFAULT_FONT_PATHS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", // Debian, Ubuntu: fonts-dejavu-core
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",          // Fedora
    "/usr/share/fonts/TTF/DejaVuSans.ttf",             // Arch
];
/// Labels drawn individually; the rest are summed as "other" so that the
/// legend and the colours stay readable.
const MAX_SERIES: usize = 8;
/// Time-bucket widths the throughput chart may use, seconds: round numbers
/// so that a bucket reads as "per 10 s" rather than "per 13.7 s".
const BUCKET_SECONDS: [i64; 13] = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
/// At most this many buckets: about 4 px each on the default width.
const MAX_BUCKETS: i64 = 300;
/// Size of the throughput chart, pixels.
const THROUGHPUT_SIZE: (u32, u32) = (1200, 600);
/// The shading of cellular periods.
const CELLULAR_SHADE: RGBColor = RGBColor(255, 226, 150);

/// How to draw the charts.
#[derive(Debug, Clone, Default)]
pub struct ChartOptions {
    /// A TrueType font for the text; default: the first of [`DEFAULT_FONT_PATHS`].
    pub font: Option<PathBuf>,
}

/// Writes `throughput.svg`/`.png` and `labels.svg`/`.png` into `dir`
/// (created if needed) and returns their paths.
pub fn write_charts(report: &Report, dir: &Path, opts: &ChartOptions) -> Result<Vec<PathBuf>, ReportError> {
    load_font(opts.font.as_deref())?;
    crate::private_fs::create_dir_all(dir).map_err(|source| ReportError::Io { path: dir.to_path_buf(), source })?;
    let series = Throughput::from_report(report);
    let bars = Bars::from_report(report);
    let bars_size = bars.size();
    let mut written = Vec::new();
    let mut render = |name: &str, size: (u32, u32), draw: &dyn Fn(&dyn DrawAny) -> DrawResult| {
        let svg = dir.join(format!("{name}.svg"));
        let png = dir.join(format!("{name}.png"));
        let fail = |path: &Path, e: Box<dyn Error>| ReportError::Chart(format!("{}: {e}", path.display()));
        // Created 0600 first: the backends truncate and keep the mode.
        for p in [&svg, &png] {
            crate::private_fs::create_file(p).map_err(|source| ReportError::Io { path: p.clone(), source })?;
        }
        draw(&SVGBackend::new(&svg, size).into_drawing_area()).map_err(|e| fail(&svg, e))?;
        draw(&BitMapBackend::new(&png, size).into_drawing_area()).map_err(|e| fail(&png, e))?;
        written.extend([svg, png]);
        Ok::<(), ReportError>(())
    };
    render("throughput", THROUGHPUT_SIZE, &|area| area.throughput(&series))?;
    render("labels", bars_size, &|area| area.bars(&bars))?;
    Ok(written)
}

/// Loads and registers the font, once per font file: plotters keeps fonts
/// for the life of the process (a `'static` slice), so a file is leaked once.
/// A failed load is not remembered, so a later call may name a good font.
fn load_font(path: Option<&Path>) -> Result<(), ReportError> {
    static REGISTERED: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut registered = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
    let candidates: Vec<PathBuf> = match path {
        Some(p) => vec![p.to_path_buf()],
        None if registered.is_some() => return Ok(()),
        None => DEFAULT_FONT_PATHS.iter().map(PathBuf::from).collect(),
    };
    if path.is_some() && registered.as_deref() == path {
        return Ok(());
    }
    let Some((file, bytes)) = candidates.iter().find_map(|p| Some((p, std::fs::read(p).ok()?))) else {
        let tried: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
        return Err(ReportError::Chart(format!(
            "no font found (tried {}); install fonts-dejavu-core or pass --font FILE.ttf",
            tried.join(", ")
        )));
    };
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| ReportError::Chart(format!("{}: not a usable TrueType font", file.display())))?;
    *registered = Some(file.clone());
    Ok(())
}

/// Per-label rates per time bucket, relative to the first event.
struct Throughput {
    /// The first event's start, Unix ms: the time axis shows wall-clock UTC.
    start_ms: i64,
    bucket_s: i64,
    /// `(name, bytes/s per bucket)`, largest label first.
    series: Vec<(String, Vec<f64>)>,
    /// Cellular periods, seconds since the first event.
    cellular: Vec<(f64, f64)>,
    /// Unattributed bytes/s per interval between `os` entries (unattributed.rs).
    unattributed: Vec<(f64, f64, f64)>,
}

impl Throughput {
    fn from_report(report: &Report) -> Self {
        let start = report.start_ms.unwrap_or(0);
        let span_s = report.span_ms().unwrap_or(0) as f64 / 1000.0;
        // Past the largest round width, whatever width keeps MAX_BUCKETS:
        // the bucket count never follows the span.
        let bucket_s = BUCKET_SECONDS
            .into_iter()
            .find(|&b| span_s / b as f64 <= MAX_BUCKETS as f64)
            .unwrap_or_else(|| (span_s / MAX_BUCKETS as f64).ceil() as i64);
        let buckets = (span_s / bucket_s as f64).ceil().max(1.0) as usize;
        let shown: Vec<u8> = report.labels.iter().take(MAX_SERIES).map(|r| r.id).collect();
        let slot_of: BTreeMap<u8, usize> = shown.iter().enumerate().map(|(i, &id)| (id, i)).collect();
        let has_other = report.labels.len() > MAX_SERIES;
        let mut values = vec![vec![0.0; buckets]; shown.len() + usize::from(has_other)];
        for w in &report.trace.windows {
            for (bucket, fraction) in split_window(w.t - start, w.d, bucket_s * 1000) {
                let Some(b) = usize::try_from(bucket).ok().filter(|&b| b < buckets) else { continue };
                for &(id, tx, rx) in &w.stats {
                    let slot = slot_of.get(&id).copied().unwrap_or(shown.len());
                    values[slot][b] += (tx + rx) as f64 * fraction / bucket_s as f64;
                }
            }
        }
        let mut names: Vec<String> = report.labels.iter().take(MAX_SERIES).map(|r| r.name.clone()).collect();
        if has_other {
            names.push("other".into());
        }
        let unattributed =
            report.unattributed.as_ref().map(|u| super::unattributed::chart_steps(u, start)).unwrap_or_default();
        let series = names.into_iter().zip(values).collect();
        Throughput { start_ms: start, bucket_s, series, cellular: cellular_periods(report), unattributed }
    }
}

/// Stretches of consecutive cellular windows (no Wi-Fi window in between),
/// seconds since the first event.
fn cellular_periods(report: &Report) -> Vec<(f64, f64)> {
    let start = report.start_ms.unwrap_or(0);
    let mut periods: Vec<(f64, f64)> = Vec::new();
    let mut open = false;
    for w in &report.trace.windows {
        let (a, b) = ((w.t - start) as f64 / 1000.0, (w.end() - start) as f64 / 1000.0);
        match (w.cellular, open, periods.last_mut()) {
            (true, true, Some(last)) => last.1 = last.1.max(b),
            (true, _, _) => periods.push((a, b)),
            _ => {}
        }
        open = w.cellular;
    }
    periods
}

/// The two drawings over any plotters backend, behind one object-safe trait
/// so that the SVG and PNG paths share code.
trait DrawAny {
    fn throughput(&self, data: &Throughput) -> DrawResult;
    fn bars(&self, data: &Bars) -> DrawResult;
}

impl<DB: DrawingBackend> DrawAny for DrawingArea<DB, Shift>
where
    DB::ErrorType: 'static,
{
    fn throughput(&self, data: &Throughput) -> DrawResult {
        draw_throughput(self, data)?;
        Ok(self.present()?)
    }
    fn bars(&self, data: &Bars) -> DrawResult {
        draw_bars(self, data)?;
        Ok(self.present()?)
    }
}

fn draw_throughput<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, data: &Throughput) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let buckets = data.series.first().map_or(1, |s| s.1.len());
    let x_max = (buckets as i64 * data.bucket_s) as f64;
    // Cumulative stacks, bottom (largest label) first.
    let mut stacks: Vec<Vec<f64>> = Vec::new();
    for (_, values) in &data.series {
        let below = stacks.last().cloned().unwrap_or_else(|| vec![0.0; buckets]);
        stacks.push(below.iter().zip(values).map(|(b, v)| b + v).collect());
    }
    let peak = stacks.last().and_then(|s| s.iter().copied().reduce(f64::max)).unwrap_or(0.0).max(1.0);
    let peak = data.unattributed.iter().map(|u| u.2).fold(peak, f64::max);
    // Axes in whole units (KiB/s, minutes) so that ticks land on round values.
    let (y_scale, y_unit) = binary_unit(peak);
    let y_max = peak / y_scale * 1.1;
    let axis = TimeAxis::new(data.start_ms, x_max);
    let x_scale = axis.scale_s;
    let caption = format!("Throughput per label (stacked, per {} s bucket)", data.bucket_s);
    let mut chart = ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(axis.x(0.0)..axis.x(x_max), 0.0..y_max)?;
    chart
        .configure_mesh()
        .x_desc(axis.description())
        .y_desc(format!("throughput ({y_unit}/s)"))
        .x_label_formatter(&|x| axis.label(*x))
        .y_label_formatter(&|y| tick(*y))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    if !data.cellular.is_empty() {
        let shade = CELLULAR_SHADE.mix(0.6).filled();
        chart
            .draw_series(
                data.cellular.iter().map(|&(a, b)| Rectangle::new([(axis.x(a), 0.0), (axis.x(b), y_max)], shade)),
            )?
            .label("cellular")
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], shade));
    }
    // Steps: each bucket is flat over its width. Tallest stack drawn first.
    for (i, stack) in stacks.iter().enumerate().rev() {
        let color = PALETTE[i % PALETTE.len()];
        let width = data.bucket_s as f64 / x_scale;
        let points = stack.iter().enumerate().flat_map(|(b, &v)| {
            let x = axis.x(0.0) + b as f64 * width;
            [(x, v / y_scale), (x + width, v / y_scale)]
        });
        chart
            .draw_series(AreaSeries::new(points, 0.0, color.mix(0.85)).border_style(color))?
            .label(data.series[i].0.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
    }
    if !data.unattributed.is_empty() {
        let line = BLACK.stroke_width(2);
        chart
            .draw_series(data.unattributed.iter().map(|&(a, b, rate)| {
                PathElement::new(vec![(a / x_scale, rate / y_scale), (b / x_scale, rate / y_scale)], line)
            }))?
            .label("unattributed (OS − labels)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], line));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()?;
    Ok(())
}

/// The throughput chart's time axis: wall-clock UTC. A coordinate is time
/// since midnight UTC of the first event's day, in units of `scale_s`
/// seconds (minutes from two minutes of log, hours from two hours), so that
/// the ticks plotters picks land on round clock times (01:45:00, 01:45:30).
struct TimeAxis {
    /// The first event, Unix ms.
    start_ms: i64,
    /// Midnight UTC before it, Unix ms.
    day_ms: i64,
    scale_s: f64,
    /// The log spans a day or more: labels carry the date.
    days: bool,
}

impl TimeAxis {
    fn new(start_ms: i64, span_s: f64) -> TimeAxis {
        let day_ms = start_ms.div_euclid(DAY_MS) * DAY_MS;
        let scale_s = if span_s >= 7200.0 {
            3600.0
        } else if span_s >= 120.0 {
            60.0
        } else {
            1.0
        };
        TimeAxis { start_ms, day_ms, scale_s, days: span_s >= 86_400.0 }
    }

    /// The coordinate of `s` seconds after the first event.
    fn x(&self, s: f64) -> f64 {
        ((self.start_ms - self.day_ms) as f64 / 1000.0 + s) / self.scale_s
    }

    /// A tick label: `01:45:30`, or `03-29 01:45` for a log of days.
    fn label(&self, x: f64) -> String {
        let ms = self.day_ms + (x * self.scale_s * 1000.0).round() as i64;
        let at = utc_datetime(ms); // 2023-03-29 01:45:30 UTC
        if self.days {
            at[5..16].to_string()
        } else {
            at[11..19].to_string()
        }
    }

    fn description(&self) -> String {
        let date = &utc_datetime(self.start_ms)[..10];
        if self.days {
            format!("time (UTC, from {date})")
        } else {
            format!("time (UTC, {date})")
        }
    }
}

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_axis_reads_wall_clock_utc() {
        // The golden fixture: 2023-03-29 01:44:44 UTC, 200 s of log, in minutes.
        let axis = TimeAxis::new(1_680_054_284_000, 200.0);
        assert_eq!(axis.scale_s, 60.0);
        assert_eq!(axis.label(axis.x(0.0)), "01:44:44");
        assert_eq!(axis.label(105.5), "01:45:30");
        assert_eq!(axis.description(), "time (UTC, 2023-03-29)");
        let days = TimeAxis::new(1_680_054_284_000, 3.0 * 86_400.0);
        assert_eq!(days.label(days.x(86_400.0)), "03-30 01:44");
        assert_eq!(days.description(), "time (UTC, from 2023-03-29)");
    }
}
