//! What every figure shares: writing PNG/SVG files, the embedded font, the legend strip and
//! the checks on user input.

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, RGBAColor};

use crate::error::{Error, Result};

/// Widest or tallest image written, in pixels per side (a 3-byte-per-pixel buffer is allocated).
const MAX_SIDE: u32 = 8192;
/// Smallest panel, in pixels, that leaves room for title, axes and legend.
pub(super) const MIN_PANEL: (u32, u32) = (160, 120);
/// Path reported in [`Error::Io`] for a failure while drawing into a caller's drawing area.
const AREA: &str = "<drawing area>";

pub(super) const FONT: &str = "sans-serif";
pub(super) const TITLE_SIZE: f64 = 18.0;
pub(super) const LABEL_SIZE: f64 = 13.0;
pub(super) const GRID: RGBColor = RGBColor(225, 225, 225);

/// The marker drawn before a legend entry's label.
#[derive(Clone, Copy)]
pub(super) enum Swatch {
    Fill(RGBAColor),
    Line(RGBColor),
    Dashed(RGBColor),
    Dot(RGBColor),
}

/// Draws `entries` as centred rows along the bottom of `area`, wrapping as needed, and returns
/// the area left above them for the plot (all of `area` when there are no entries).
pub(super) fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(Swatch, &str)],
) -> Result<DrawingArea<DB, Shift>> {
    const SWATCH: i32 = 22;
    const GAP: i32 = 18;
    const ROW: i32 = 20;
    if entries.is_empty() {
        return Ok(area.clone());
    }
    let style = TextStyle::from((FONT, LABEL_SIZE).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let (width, height) = area.dim_in_pixel();
    let usable = width as i32 - 16;
    let mut rows: Vec<Vec<(Swatch, &str, i32)>> = Vec::new();
    let mut row = Vec::new();
    let mut row_width = 0;
    for &(swatch, label) in entries {
        let text = area.estimate_text_size(label, &style).map_err(draw_err)?.0 as i32;
        let w = SWATCH + 5 + text;
        if !row.is_empty() && row_width + GAP + w > usable {
            rows.push(std::mem::take(&mut row));
            row_width = 0;
        }
        row_width += if row.is_empty() { w } else { GAP + w };
        row.push((swatch, label, w));
    }
    rows.push(row);
    let strip = ROW * rows.len() as i32 + 6;
    let (plot, legend) = area.split_vertically((height as i32 - strip).max(0));
    for (r, row) in rows.iter().enumerate() {
        let total: i32 = row.iter().map(|e| e.2).sum::<i32>() + GAP * (row.len() as i32 - 1);
        let mut x = (width as i32 - total) / 2;
        let y = ROW * r as i32 + ROW / 2;
        for &(swatch, label, w) in row {
            let (sx0, sx1) = (x, x + SWATCH);
            match swatch {
                Swatch::Fill(c) => legend.draw(&Rectangle::new([(sx0, y - 6), (sx1, y + 6)], c.filled())),
                Swatch::Line(c) => legend.draw(&PathElement::new([(sx0, y), (sx1, y)], c.stroke_width(2))),
                Swatch::Dashed(c) => legend
                    .draw(&PathElement::new([(sx0, y), (sx0 + 8, y)], c.stroke_width(2)))
                    .and_then(|_| legend.draw(&PathElement::new([(sx0 + 13, y), (sx1, y)], c.stroke_width(2)))),
                Swatch::Dot(c) => legend.draw(&Circle::new(((sx0 + sx1) / 2, y), 4, c.filled())),
            }
            .map_err(draw_err)?;
            legend.draw_text(label, &style, (sx1 + 5, y)).map_err(draw_err)?;
            x += w + GAP;
        }
    }
    Ok(plot)
}

/// A figure that can be drawn on any backend (so one value serves PNG and SVG).
pub(super) trait Figure {
    fn draw_figure<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>;
}

enum Format {
    Png,
    Svg,
}

fn format_of(context: &'static str, path: &Path) -> Result<Format> {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("png") => Ok(Format::Png),
        Some("svg") => Ok(Format::Svg),
        _ => Err(Error::invalid(
            context,
            "path",
            path.display(),
            "a file name ending in .png or .svg",
            "choose the format with the extension, e.g. bands.png or bands.svg",
        )),
    }
}

pub(super) fn check_size(context: &'static str, (w, h): (u32, u32)) -> Result<()> {
    if !(MIN_PANEL.0..=MAX_SIDE).contains(&w) || !(MIN_PANEL.1..=MAX_SIDE).contains(&h) {
        return Err(Error::invalid(
            context,
            "size",
            format!("{w} x {h}"),
            "between 160 x 120 and 8192 x 8192 pixels",
            "use a size such as (800, 600), or fewer or smaller panels",
        ));
    }
    Ok(())
}

/// Renders `figure` into a `size` image and writes it to `path` in the format its extension names.
pub(super) fn save_figure<F: Figure>(path: &Path, size: (u32, u32), context: &'static str, figure: &F) -> Result<()> {
    let format = format_of(context, path)?;
    check_size(context, size)?;
    ensure_font()?;
    let shown = path.display().to_string();
    let at_path = |e: Error| match e {
        Error::Io { message, .. } => Error::Io { path: shown.clone(), message },
        other => other,
    };
    match format {
        Format::Png => {
            let mut pixels = vec![0u8; size.0 as usize * size.1 as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
                root.fill(&WHITE).map_err(draw_err).map_err(at_path)?;
                figure.draw_figure(&root).map_err(at_path)?;
                root.present().map_err(draw_err).map_err(at_path)?;
            }
            write_png(path, size, &pixels).map_err(|message| Error::Io { path: shown.clone(), message })
        }
        Format::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
                root.fill(&WHITE).map_err(draw_err).map_err(at_path)?;
                figure.draw_figure(&root).map_err(at_path)?;
                root.present().map_err(draw_err).map_err(at_path)?;
            }
            std::fs::write(path, svg).map_err(|e| Error::Io { path: shown.clone(), message: e.to_string() })
        }
    }
}

fn write_png(path: &Path, (w, h): (u32, u32), rgb: &[u8]) -> std::result::Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| e.to_string())?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(rgb).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())
}

/// Registers the embedded DejaVu Sans as plotters' `"sans-serif"` once per process.
pub(super) fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok());
    if ok {
        Ok(())
    } else {
        Err(Error::Io {
            path: String::from("dejavu::sans::regular"),
            message: String::from("embedded font could not be parsed"),
        })
    }
}

pub(super) fn draw_err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> Error {
    Error::Io { path: String::from(AREA), message: format!("drawing failed: {e}") }
}

pub(super) fn check_finite(context: &'static str, field: &'static str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(Error::invalid(
            context,
            field,
            format!("{} at index {i}", values[i]),
            "finite",
            "drop or fix NaN/inf values before plotting",
        )),
    }
}

pub(super) fn check_sd(context: &'static str, field: &'static str, values: &[f64]) -> Result<()> {
    check_finite(context, field, values)?;
    match values.iter().position(|v| *v < 0.0) {
        None => Ok(()),
        Some(i) => Err(Error::invalid(
            context,
            field,
            format!("{} at index {i}", values[i]),
            ">= 0 (a standard deviation)",
            "pass standard deviations, not signed values",
        )),
    }
}

pub(super) fn check_nonzero_len(context: &'static str, field: &'static str, n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::invalid(context, field, 0, ">= 1", "use a grid with at least one cell per side"));
    }
    Ok(())
}

pub(super) fn check_increasing(context: &'static str, field: &'static str, (lo, hi): (f64, f64)) -> Result<()> {
    if lo.is_finite() && hi.is_finite() && lo < hi && (hi - lo).is_finite() {
        return Ok(());
    }
    Err(Error::invalid(context, field, format!("({lo}, {hi})"), "finite with lo < hi", "pass (lower, upper)"))
}

pub(super) const EMPTY: (f64, f64) = (f64::INFINITY, f64::NEG_INFINITY);

pub(super) fn min_max(values: &[f64]) -> (f64, f64) {
    values.iter().fold(EMPTY, |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

pub(super) fn merge(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    (a.0.min(b.0), a.1.max(b.1))
}

/// Widens `(lo, hi)` by `fraction` of its span on each side; a single value `v` gets the span
/// `max(1, |v|)` around it.
pub(super) fn padded(context: &'static str, (lo, hi): (f64, f64), fraction: f64) -> Result<(f64, f64)> {
    let span = hi - lo;
    let range = if span > 0.0 {
        (lo - fraction * span, hi + fraction * span)
    } else {
        let half = 0.5 * lo.abs().max(1.0);
        (lo - half, hi + half)
    };
    check_increasing(context, "axis range", range).map(|_| range).map_err(|_| {
        Error::invalid(
            context,
            "values",
            format!("spanning [{lo}, {hi}]"),
            "a range whose width is a finite f64",
            "rescale the data before plotting",
        )
    })
}
