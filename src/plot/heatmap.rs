//! Heat maps of a value over a 2-D grid, with labelled points on top.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::{
    check_finite, check_increasing, check_nonzero_len, draw_err, draw_legend, ensure_font, min_max, padded,
    save_figure, Figure, Swatch, FONT, LABEL_SIZE, TITLE_SIZE,
};
use crate::error::{Error, Result};

/// Tableau-10, for the classes of scatter points.
const CLASS_COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
/// Viridis (matplotlib) at nine evenly spaced stops; perceptually uniform and readable in grey.
const VIRIDIS: [(u8, u8, u8); 9] = [
    (68, 1, 84),
    (71, 44, 122),
    (59, 81, 139),
    (44, 113, 142),
    (33, 144, 141),
    (39, 173, 129),
    (92, 200, 99),
    (170, 220, 50),
    (253, 231, 37),
];

/// A labelled point drawn over a [`HeatMap`], coloured by its class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScatterPoint {
    /// Horizontal position.
    pub x: f64,
    /// Vertical position.
    pub y: f64,
    /// Class label; classes 0–9 get distinct colours, then they repeat.
    pub class: usize,
}

/// A value on a regular `nx × ny` grid of cells covering `[x0, x1] × [y0, y1]` (e.g. a
/// classifier's predictive entropy), in the viridis colour map with a colour bar, with
/// optional [`ScatterPoint`]s on top.
///
/// `values` is row-major from the bottom: the cell in column `i` (from `x0`) and row `j`
/// (from `y0`) is `values[j * nx + i]`. Each cell is one rectangle, so an SVG of a 100 × 100
/// grid is about 1 MB; prefer PNG for finer grids.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatMap {
    /// Title.
    pub title: String,
    /// Cell values, `[ny * nx]`, finite.
    pub values: Vec<f64>,
    /// Number of cells along x.
    pub nx: usize,
    /// Number of cells along y.
    pub ny: usize,
    /// `(x0, x1)`, with `x0 < x1`.
    pub x_range: (f64, f64),
    /// `(y0, y1)`, with `y0 < y1`.
    pub y_range: (f64, f64),
    /// Points drawn over the map.
    pub points: Vec<ScatterPoint>,
    /// Values mapped to the ends of the colour map (values beyond them get the end colours);
    /// `None` uses the values' min and max.
    pub value_range: Option<(f64, f64)>,
    /// Caption of the colour bar.
    pub value_label: String,
    /// Captions of the x and y axes.
    pub axis_labels: (String, String),
}

impl HeatMap {
    /// A heat map of `values` on an `nx × ny` grid over `x_range × y_range` (checked when drawn).
    pub fn new(
        title: impl Into<String>,
        values: Vec<f64>,
        (nx, ny): (usize, usize),
        x_range: (f64, f64),
        y_range: (f64, f64),
    ) -> Self {
        Self {
            title: title.into(),
            values,
            nx,
            ny,
            x_range,
            y_range,
            points: Vec::new(),
            value_range: None,
            value_label: String::from("value"),
            axis_labels: (String::from("x1"), String::from("x2")),
        }
    }

    /// Adds points drawn over the map.
    pub fn with_points(mut self, points: Vec<ScatterPoint>) -> Self {
        self.points = points;
        self
    }

    /// Fixes the values mapped to the ends of the colour map (e.g. `(0.0, 2f64.ln())` for the
    /// entropy of two classes), so several maps share one scale.
    pub fn with_value_range(mut self, lo: f64, hi: f64) -> Self {
        self.value_range = Some((lo, hi));
        self
    }

    /// Sets the caption of the colour bar (default `value`).
    pub fn with_value_label(mut self, label: impl Into<String>) -> Self {
        self.value_label = label.into();
        self
    }

    /// Sets the captions of the x and y axes (default `x1` and `x2`, the two input features).
    pub fn with_axis_labels(mut self, x: impl Into<String>, y: impl Into<String>) -> Self {
        self.axis_labels = (x.into(), y.into());
        self
    }

    /// Checks `values.len() == nx * ny` (`ShapeMismatch`), and that ranges are finite and
    /// increasing and values and points finite (`InvalidParameter`).
    pub fn validate(&self) -> Result<()> {
        const C: &str = "HeatMap";
        check_nonzero_len(C, "nx", self.nx)?;
        check_nonzero_len(C, "ny", self.ny)?;
        let expected = self.nx.checked_mul(self.ny);
        if expected != Some(self.values.len()) {
            let expected = format!("[ny * nx] = [{} * {}]", self.ny, self.nx);
            return Err(Error::shape(C, "values", expected, &[self.values.len()], "pass one value per grid cell"));
        }
        check_finite(C, "values", &self.values)?;
        check_increasing(C, "x_range", self.x_range)?;
        check_increasing(C, "y_range", self.y_range)?;
        if let Some(range) = self.value_range {
            check_increasing(C, "value_range", range)?;
        }
        for (i, p) in self.points.iter().enumerate() {
            if !(p.x.is_finite() && p.y.is_finite()) {
                let value = format!("({}, {}) at index {i}", p.x, p.y);
                return Err(Error::invalid(C, "points", value, "finite", "drop or fix non-finite points"));
            }
        }
        Ok(())
    }

    /// Draws the map, its colour bar and the points into `area`.
    ///
    /// # Errors
    /// What [`validate`](Self::validate) reports, or [`Error::Io`] if plotters fails to draw.
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()> {
        self.validate()?;
        ensure_font()?;
        let (lo, hi) = match self.value_range {
            Some(range) => range,
            None => padded("HeatMap", min_max(&self.values), 0.0)?,
        };
        let mut classes: Vec<usize> = self.points.iter().map(|p| p.class).collect();
        classes.sort_unstable();
        classes.dedup();
        let names: Vec<String> = classes.iter().map(|c| format!("class {c}")).collect();
        let legend: Vec<_> =
            classes.iter().zip(&names).map(|(&c, name)| (Swatch::Dot(class_color(c)), name.as_str())).collect();
        let plot_area = draw_legend(area, &legend)?;
        let bar_width = 100.min(plot_area.dim_in_pixel().0 / 3);
        let (map_area, bar_area) = plot_area.split_horizontally(plot_area.dim_in_pixel().0 - bar_width);

        let (x0, x1) = self.x_range;
        let (y0, y1) = self.y_range;
        let mut chart = ChartBuilder::on(&map_area)
            .caption(&self.title, (FONT, TITLE_SIZE))
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(52)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(self.axis_labels.0.as_str())
            .y_desc(self.axis_labels.1.as_str())
            .label_style((FONT, 12.0))
            .axis_desc_style((FONT, LABEL_SIZE))
            .draw()
            .map_err(draw_err)?;
        let (dx, dy) = ((x1 - x0) / self.nx as f64, (y1 - y0) / self.ny as f64);
        let cells = self.values.iter().enumerate().map(|(k, &v)| {
            let (i, j) = ((k % self.nx) as f64, (k / self.nx) as f64);
            let corners = [(x0 + i * dx, y0 + j * dy), (x0 + (i + 1.0) * dx, y0 + (j + 1.0) * dy)];
            Rectangle::new(corners, viridis((v - lo) / (hi - lo)).filled())
        });
        chart.draw_series(cells).map_err(draw_err)?;
        let inside = |p: &&ScatterPoint| (x0..=x1).contains(&p.x) && (y0..=y1).contains(&p.y);
        for p in self.points.iter().filter(inside) {
            // A white disc under each dot keeps it visible on any colour of the map.
            let ring = Circle::new((p.x, p.y), 5, WHITE.filled());
            let dot = Circle::new((p.x, p.y), 4, class_color(p.class).filled());
            chart.draw_series([ring, dot]).map_err(draw_err)?;
        }

        // Colour bar: a blank caption and the same margins as the map so the two line up.
        let mut bar = ChartBuilder::on(&bar_area)
            .caption(" ", (FONT, TITLE_SIZE))
            .margin(8)
            .margin_left(14)
            .margin_bottom(48)
            .set_label_area_size(LabelAreaPosition::Right, 48)
            .build_cartesian_2d(0.0..1.0, lo..hi)
            .map_err(draw_err)?;
        bar.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_labels(6)
            .y_desc(self.value_label.as_str())
            .label_style((FONT, 12.0))
            .axis_desc_style((FONT, LABEL_SIZE))
            .draw()
            .map_err(draw_err)?;
        const STEPS: usize = 64;
        let strips = (0..STEPS).map(|s| {
            let (a, b) = (s as f64 / STEPS as f64, (s + 1) as f64 / STEPS as f64);
            let corners = [(0.0, lo + a * (hi - lo)), (1.0, lo + b * (hi - lo))];
            Rectangle::new(corners, viridis((a + b) / 2.0).filled())
        });
        bar.draw_series(strips).map_err(draw_err)?;
        Ok(())
    }

    /// Writes the map to `path` (`.png` or `.svg`), `size` pixels (width, height).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an unknown extension or a size outside
    /// `160..=8192` × `120..=8192`, what [`validate`](Self::validate) reports, [`Error::Io`]
    /// if drawing or writing fails.
    pub fn save(&self, path: impl AsRef<Path>, size: (u32, u32)) -> Result<()> {
        self.validate()?;
        save_figure(path.as_ref(), size, "HeatMap", self)
    }
}

fn class_color(class: usize) -> RGBColor {
    CLASS_COLORS[class % CLASS_COLORS.len()]
}

/// Viridis at `t` in `[0, 1]` (clamped), linear between the stops.
fn viridis(t: f64) -> RGBColor {
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let pos = t * (VIRIDIS.len() - 1) as f64;
    let k = (pos.floor() as usize).min(VIRIDIS.len() - 2);
    let f = pos - k as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + f * (f64::from(b) - f64::from(a))).round() as u8;
    let ((r0, g0, b0), (r1, g1, b1)) = (VIRIDIS[k], VIRIDIS[k + 1]);
    RGBColor(mix(r0, r1), mix(g0, g1), mix(b0, b1))
}

impl Figure for HeatMap {
    fn draw_figure<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        self.draw(root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Viridis is designed so lightness rises monotonically (readable in greyscale); the
    /// interpolated map must keep that, and hit the first and last stops at 0 and 1.
    #[test]
    fn viridis_gets_lighter_from_end_to_end() {
        let luminance = |c: RGBColor| 0.2126 * f64::from(c.0) + 0.7152 * f64::from(c.1) + 0.0722 * f64::from(c.2);
        let steps: Vec<f64> = (0..=100).map(|k| luminance(viridis(k as f64 / 100.0))).collect();
        assert!(steps.windows(2).all(|w| w[1] >= w[0]), "{steps:?}");
        let (first, last) = (VIRIDIS[0], VIRIDIS[VIRIDIS.len() - 1]);
        assert_eq!(viridis(0.0), RGBColor(first.0, first.1, first.2));
        assert_eq!(viridis(1.0), RGBColor(last.0, last.1, last.2));
        assert_eq!(viridis(-3.0), viridis(0.0));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
    }
}
