//! Reliability diagrams and the expected calibration error.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::RGBAColor;

use super::canvas::{
    draw_err, draw_legend, ensure_font, save_figure, Figure, Swatch, FONT, GRID, LABEL_SIZE, TITLE_SIZE,
};
use crate::error::{Error, Result};

/// One confidence bin of a classifier's predictions: how many fell in it, their mean
/// confidence (probability of the predicted class) and the fraction that were right.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReliabilityBin {
    /// Number of predictions in the bin.
    pub count: usize,
    /// Mean confidence of those predictions, in `[0, 1]`.
    pub confidence: f64,
    /// Fraction of those predictions that were correct, in `[0, 1]`.
    pub accuracy: f64,
}

/// A reliability diagram (Guo et al. 2017, "On calibration of modern neural networks",
/// fig. 1): bins of equal width over `[0, 1]` in order, bin `b` of `B` covering
/// `[b/B, (b+1)/B]`, with a bar of its accuracy and the gap to its mean confidence, against
/// the diagonal of perfect calibration. Empty bins draw nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct ReliabilityDiagram {
    /// Title; the expected calibration error is appended.
    pub title: String,
    /// The bins, lowest confidence first.
    pub bins: Vec<ReliabilityBin>,
}

impl ReliabilityDiagram {
    /// A diagram of `bins` (checked when drawn).
    pub fn new(title: impl Into<String>, bins: Vec<ReliabilityBin>) -> Self {
        Self { title: title.into(), bins }
    }

    /// The diagram of binned predictions from [`crate::metrics::reliability_diagram`]; empty bins
    /// are kept (with count 0) so bin `b` still covers `[b/B, (b+1)/B]`.
    pub fn from_metrics(title: impl Into<String>, diagram: &crate::metrics::ReliabilityDiagram) -> Self {
        let bins = diagram
            .bins
            .iter()
            .map(|b| ReliabilityBin {
                count: b.count,
                confidence: b.mean_confidence.unwrap_or(0.0),
                accuracy: b.accuracy.unwrap_or(0.0),
            })
            .collect();
        Self::new(title, bins)
    }

    /// Checks there is at least one bin and one prediction, and that confidences and
    /// accuracies are finite and in `[0, 1]` (`InvalidParameter`).
    pub fn validate(&self) -> Result<()> {
        const C: &str = "ReliabilityDiagram";
        if self.bins.iter().map(|b| b.count).sum::<usize>() == 0 {
            let value = format!("{} bins holding 0 predictions", self.bins.len());
            return Err(Error::invalid(C, "bins", value, "at least one bin with count >= 1", "bin some predictions"));
        }
        for (i, bin) in self.bins.iter().enumerate() {
            for (field, v) in [("bins[..].confidence", bin.confidence), ("bins[..].accuracy", bin.accuracy)] {
                if !(0.0..=1.0).contains(&v) {
                    let value = format!("{v} in bin {i}");
                    return Err(Error::invalid(C, field, value, "in [0, 1]", "pass a probability"));
                }
            }
        }
        Ok(())
    }

    /// Expected calibration error, `Σ_b (n_b / N) |accuracy_b − confidence_b|` (Naeini et al.
    /// 2015; Guo et al. 2017, eq. 3).
    ///
    /// # Errors
    /// What [`validate`](Self::validate) reports.
    pub fn expected_calibration_error(&self) -> Result<f64> {
        self.validate()?;
        let total = self.bins.iter().map(|b| b.count).sum::<usize>() as f64;
        Ok(self.bins.iter().map(|b| b.count as f64 / total * (b.accuracy - b.confidence).abs()).sum())
    }

    /// Draws the diagram into `area`.
    ///
    /// # Errors
    /// What [`validate`](Self::validate) reports, or [`Error::Io`] if plotters fails to draw.
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()> {
        let ece = self.expected_calibration_error()?;
        ensure_font()?;
        let bar = RGBColor(49, 130, 189);
        let gap = RGBAColor(214, 39, 40, 0.35);
        let legend = [
            (Swatch::Fill(bar.to_rgba()), "accuracy"),
            (Swatch::Fill(gap), "gap to confidence"),
            (Swatch::Dashed(BLACK), "perfect calibration"),
        ];
        let plot_area = draw_legend(area, &legend)?;
        let mut chart = ChartBuilder::on(&plot_area)
            .caption(format!("{} (ECE = {ece:.3})", self.title), (FONT, TITLE_SIZE))
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(52)
            .build_cartesian_2d(0.0..1.0, 0.0..1.0)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc("confidence")
            .y_desc("accuracy")
            .max_light_lines(0)
            .bold_line_style(GRID)
            .label_style((FONT, 12.0))
            .axis_desc_style((FONT, LABEL_SIZE))
            .draw()
            .map_err(draw_err)?;
        let width = 1.0 / self.bins.len() as f64;
        let filled = self.bins.iter().enumerate().filter(|(_, b)| b.count > 0);
        let bars = filled.clone().map(|(i, b)| {
            let left = i as f64 * width;
            Rectangle::new([(left, 0.0), (left + width, b.accuracy)], bar.filled())
        });
        chart.draw_series(bars).map_err(draw_err)?;
        let outlines = filled.clone().map(|(i, b)| {
            let left = i as f64 * width;
            Rectangle::new([(left, 0.0), (left + width, b.accuracy)], BLACK.stroke_width(1))
        });
        chart.draw_series(outlines).map_err(draw_err)?;
        let gaps = filled.map(|(i, b)| {
            let left = i as f64 * width;
            Rectangle::new([(left, b.accuracy), (left + width, b.confidence)], gap.filled())
        });
        chart.draw_series(gaps).map_err(draw_err)?;
        let diagonal = DashedLineSeries::new([(0.0, 0.0), (1.0, 1.0)], 8, 5, BLACK.stroke_width(1));
        chart.draw_series(diagonal).map_err(draw_err)?;
        Ok(())
    }

    /// Writes the diagram to `path` (`.png` or `.svg`), `size` pixels (width, height).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an unknown extension or a size outside
    /// `160..=8192` × `120..=8192`, what [`validate`](Self::validate) reports, [`Error::Io`]
    /// if drawing or writing fails.
    pub fn save(&self, path: impl AsRef<Path>, size: (u32, u32)) -> Result<()> {
        self.validate()?;
        save_figure(path.as_ref(), size, "ReliabilityDiagram", self)
    }
}

impl Figure for ReliabilityDiagram {
    fn draw_figure<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        self.draw(root)
    }
}
