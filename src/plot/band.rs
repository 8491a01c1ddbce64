//! Confidence bands of a 1-D regression, one panel per method.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::{
    check_finite, check_sd, check_size, draw_err, draw_legend, ensure_font, merge, min_max, padded, save_figure,
    Figure, Swatch, EMPTY, FONT, GRID, LABEL_SIZE, MIN_PANEL, TITLE_SIZE,
};
use crate::error::{Error, Result};

const TOTAL_BAND: RGBColor = RGBColor(198, 219, 239);
const EPISTEMIC_BAND: RGBColor = RGBColor(107, 174, 214);
const MEAN_LINE: RGBColor = RGBColor(8, 48, 107);
const TRUTH_LINE: RGBColor = RGBColor(214, 39, 40);

/// One panel of a 1-D regression figure: predictive mean with ±2 sd bands.
///
/// The lighter band is `mean ± 2 total_sd` (about 95% of the predictive distribution if it is
/// Normal), the darker one `mean ± 2 epistemic_sd`, the part due to not knowing the weights
/// (it shrinks with more data; the difference is the aleatoric noise). All vectors indexed by
/// point have the length of `x`; `x` need not be sorted.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfidenceBand {
    /// Panel title, typically the method's name.
    pub title: String,
    /// Inputs, `[N]`.
    pub x: Vec<f64>,
    /// Predictive mean at each input, `[N]`.
    pub mean: Vec<f64>,
    /// Total predictive standard deviation (epistemic and aleatoric), `[N]`, each `>= 0`.
    pub total_sd: Vec<f64>,
    /// Epistemic standard deviation (spread of the mean over posterior samples), `[N]`, each `>= 0`.
    pub epistemic_sd: Vec<f64>,
    /// Training points `(x, y)`, drawn as dots; the two vectors have equal lengths.
    pub training: Option<(Vec<f64>, Vec<f64>)>,
    /// The true function at each input, `[N]`, drawn dashed.
    pub truth: Option<Vec<f64>>,
    /// Captions of the x and y axes.
    pub axis_labels: (String, String),
}

impl ConfidenceBand {
    /// A panel without training points or true function; add them with
    /// [`with_training_points`](Self::with_training_points) and [`with_truth`](Self::with_truth).
    /// Lengths are checked when the panel is drawn.
    pub fn new(
        title: impl Into<String>,
        x: Vec<f64>,
        mean: Vec<f64>,
        total_sd: Vec<f64>,
        epistemic_sd: Vec<f64>,
    ) -> Self {
        let axis_labels = (String::from("x"), String::from("y"));
        Self { title: title.into(), x, mean, total_sd, epistemic_sd, training: None, truth: None, axis_labels }
    }

    /// Adds training points, drawn as dots.
    pub fn with_training_points(mut self, x: Vec<f64>, y: Vec<f64>) -> Self {
        self.training = Some((x, y));
        self
    }

    /// Adds the true function's values at `self.x`, drawn dashed.
    pub fn with_truth(mut self, y: Vec<f64>) -> Self {
        self.truth = Some(y);
        self
    }

    /// Sets the captions of the x and y axes (default `x` and `y`).
    pub fn with_axis_labels(mut self, x: impl Into<String>, y: impl Into<String>) -> Self {
        self.axis_labels = (x.into(), y.into());
        self
    }

    /// Checks lengths (`ShapeMismatch`) and that every value is finite and every sd `>= 0`
    /// (`InvalidParameter`).
    pub fn validate(&self) -> Result<()> {
        const C: &str = "ConfidenceBand";
        const FIX: &str = "pass one value per entry of x";
        let n = self.x.len();
        if n == 0 {
            return Err(Error::invalid(C, "x", "an empty vector", "non-empty", "pass at least one input"));
        }
        let expected = format!("[{n}] (the length of x)");
        for (field, v) in [("mean", &self.mean), ("total_sd", &self.total_sd), ("epistemic_sd", &self.epistemic_sd)] {
            if v.len() != n {
                return Err(Error::shape(C, field, &expected, &[v.len()], FIX));
            }
        }
        check_finite(C, "x", &self.x)?;
        check_finite(C, "mean", &self.mean)?;
        check_sd(C, "total_sd", &self.total_sd)?;
        check_sd(C, "epistemic_sd", &self.epistemic_sd)?;
        if let Some(truth) = &self.truth {
            if truth.len() != n {
                return Err(Error::shape(C, "truth", &expected, &[truth.len()], FIX));
            }
            check_finite(C, "truth", truth)?;
        }
        if let Some((tx, ty)) = &self.training {
            if tx.len() != ty.len() {
                let fix = "pass one training target per training input";
                return Err(Error::shape(
                    C,
                    "training.1 (y)",
                    format!("[{}] (the length of training x)", tx.len()),
                    &[ty.len()],
                    fix,
                ));
            }
            check_finite(C, "training.0 (x)", tx)?;
            check_finite(C, "training.1 (y)", ty)?;
        }
        Ok(())
    }

    /// Draws the panel into `area`, with axes fitted to this panel alone (use [`save_bands`]
    /// for panels on shared axes).
    ///
    /// # Errors
    /// What [`validate`](Self::validate) reports, or [`Error::Io`] if plotters fails to draw.
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()> {
        self.validate()?;
        ensure_font()?;
        let (xr, yr) = self.extent();
        self.draw_in(area, padded("ConfidenceBand", xr, 0.02)?, padded("ConfidenceBand", yr, 0.06)?)
    }

    /// `(min, max)` of x and of every y drawn. Call after `validate`.
    fn extent(&self) -> ((f64, f64), (f64, f64)) {
        let mut x = min_max(&self.x);
        let mut y = (f64::INFINITY, f64::NEG_INFINITY);
        for i in 0..self.x.len() {
            let half = 2.0 * self.total_sd[i].max(self.epistemic_sd[i]);
            y = merge(y, (self.mean[i] - half, self.mean[i] + half));
        }
        if let Some(truth) = &self.truth {
            y = merge(y, min_max(truth));
        }
        if let Some((tx, ty)) = &self.training {
            if !tx.is_empty() {
                x = merge(x, min_max(tx));
                y = merge(y, min_max(ty));
            }
        }
        (x, y)
    }

    fn draw_in<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        (x0, x1): (f64, f64),
        (y0, y1): (f64, f64),
    ) -> Result<()> {
        let mut legend = vec![
            (Swatch::Line(MEAN_LINE), "mean"),
            (Swatch::Fill(TOTAL_BAND.to_rgba()), "±2 sd total"),
            (Swatch::Fill(EPISTEMIC_BAND.to_rgba()), "±2 sd epistemic"),
        ];
        if self.truth.is_some() {
            legend.push((Swatch::Dashed(TRUTH_LINE), "true function"));
        }
        if self.training.is_some() {
            legend.push((Swatch::Dot(BLACK), "training data"));
        }
        let plot_area = draw_legend(area, &legend)?;
        let mut chart = ChartBuilder::on(&plot_area)
            .caption(&self.title, (FONT, TITLE_SIZE))
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(52)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc(self.axis_labels.0.as_str())
            .y_desc(self.axis_labels.1.as_str())
            .max_light_lines(0)
            .bold_line_style(GRID)
            .label_style((FONT, 12.0))
            .axis_desc_style((FONT, LABEL_SIZE))
            .draw()
            .map_err(draw_err)?;

        let mut order: Vec<usize> = (0..self.x.len()).collect();
        order.sort_by(|&a, &b| self.x[a].total_cmp(&self.x[b]));
        for (sd, color) in [(&self.total_sd, TOTAL_BAND), (&self.epistemic_sd, EPISTEMIC_BAND)] {
            // Upper edge left to right, lower edge back: one closed polygon per band.
            let upper = order.iter().map(|&i| (self.x[i], self.mean[i] + 2.0 * sd[i]));
            let lower = order.iter().rev().map(|&i| (self.x[i], self.mean[i] - 2.0 * sd[i]));
            let outline: Vec<(f64, f64)> = upper.chain(lower).collect();
            chart.draw_series(std::iter::once(Polygon::new(outline, color.filled()))).map_err(draw_err)?;
        }
        let line = |ys: &[f64]| order.iter().map(|&i| (self.x[i], ys[i])).collect::<Vec<_>>();
        chart.draw_series(LineSeries::new(line(&self.mean), MEAN_LINE.stroke_width(2))).map_err(draw_err)?;
        if let Some(truth) = &self.truth {
            let style = TRUTH_LINE.stroke_width(2);
            chart.draw_series(DashedLineSeries::new(line(truth), 8, 5, style)).map_err(draw_err)?;
        }
        if let Some((tx, ty)) = &self.training {
            let dots = tx.iter().zip(ty).map(|(&x, &y)| Circle::new((x, y), 3, BLACK.filled()));
            chart.draw_series(dots).map_err(draw_err)?;
        }
        Ok(())
    }
}

/// How [`save_bands`] arranges its panels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PanelLayout {
    /// Panels per row; `None` puts all panels in one row.
    pub columns: Option<usize>,
    /// Width of one panel in pixels, at least 160.
    pub panel_width: u32,
    /// Height of one panel in pixels, at least 120.
    pub panel_height: u32,
    /// Whether all panels share one y range (so their bands compare by eye); x is always shared.
    pub share_y: bool,
}

impl Default for PanelLayout {
    /// One row of 480 × 360 panels on a shared y axis.
    fn default() -> Self {
        Self { columns: None, panel_width: 480, panel_height: 360, share_y: true }
    }
}

impl PanelLayout {
    /// All panels side by side in one row (the default).
    pub fn row() -> Self {
        Self::default()
    }

    /// `columns` panels per row, as many rows as needed.
    pub fn grid(columns: usize) -> Self {
        Self { columns: Some(columns), ..Self::default() }
    }

    /// Sets the size of one panel in pixels.
    pub fn with_panel_size(self, width: u32, height: u32) -> Self {
        Self { panel_width: width, panel_height: height, ..self }
    }

    /// Sets whether panels share one y range.
    pub fn with_shared_y(self, share_y: bool) -> Self {
        Self { share_y, ..self }
    }
}

/// Writes one image with a panel per [`ConfidenceBand`] (say, one per method), laid out by
/// `layout`, all on the same x range (and y range if `layout.share_y`). The format follows
/// the extension of `path`: `.png` or `.svg` (any case).
///
/// # Errors
/// [`Error::InvalidParameter`] for an unknown extension, no panels, zero columns or a panel
/// size outside `160..=8192` × `120..=8192` (or an image wider or taller than 8192 pixels);
/// what [`ConfidenceBand::validate`] reports for any panel; [`Error::Io`] if drawing or
/// writing the file fails.
pub fn save_bands(path: impl AsRef<Path>, panels: &[ConfidenceBand], layout: PanelLayout) -> Result<()> {
    const C: &str = "save_bands";
    if panels.is_empty() {
        return Err(Error::invalid(C, "panels", "an empty slice", "non-empty", "pass at least one ConfidenceBand"));
    }
    let columns = layout.columns.unwrap_or(panels.len());
    if columns == 0 {
        return Err(Error::invalid(C, "layout.columns", 0, ">= 1", "use PanelLayout::row() or grid(n) with n >= 1"));
    }
    let columns = columns.min(panels.len());
    let rows = panels.len().div_ceil(columns);
    for (field, value, min) in [
        ("layout.panel_width", layout.panel_width, MIN_PANEL.0),
        ("layout.panel_height", layout.panel_height, MIN_PANEL.1),
    ] {
        if value < min {
            return Err(Error::invalid(
                C,
                field,
                value,
                ">= 160 (width) or >= 120 (height) pixels",
                "use a larger panel",
            ));
        }
    }
    let width = u64::from(layout.panel_width) * columns as u64;
    let height = u64::from(layout.panel_height) * rows as u64;
    let size = (u32::try_from(width).unwrap_or(u32::MAX), u32::try_from(height).unwrap_or(u32::MAX));
    check_size(C, size)?;
    for panel in panels {
        panel.validate()?;
    }
    let extents: Vec<_> = panels.iter().map(ConfidenceBand::extent).collect();
    let x = padded(C, extents.iter().map(|e| e.0).fold(EMPTY, merge), 0.02)?;
    let shared_y = padded(C, extents.iter().map(|e| e.1).fold(EMPTY, merge), 0.06)?;
    let figure = Bands { panels, extents, x, shared_y: layout.share_y.then_some(shared_y), grid: (rows, columns) };
    save_figure(path.as_ref(), size, C, &figure)
}

struct Bands<'a> {
    panels: &'a [ConfidenceBand],
    extents: Vec<((f64, f64), (f64, f64))>,
    x: (f64, f64),
    shared_y: Option<(f64, f64)>,
    grid: (usize, usize),
}

impl Figure for Bands<'_> {
    fn draw_figure<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        for ((panel, extent), area) in self.panels.iter().zip(&self.extents).zip(root.split_evenly(self.grid)) {
            let y = match self.shared_y {
                Some(y) => y,
                None => padded("save_bands", extent.1, 0.06)?,
            };
            panel.draw_in(&area, self.x, y)?;
        }
        Ok(())
    }
}
