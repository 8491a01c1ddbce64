//! Figures for Bayesian models: confidence bands, reliability diagrams and heat maps, written as
//! PNG or SVG (chosen by the file's extension).
//!
//! - [`ConfidenceBand`] and [`save_bands`]: a 1-D regression's predictive mean with a ±2 sd band
//!   of the total predictive uncertainty and, inside it, a darker ±2 sd band of the epistemic
//!   part; several methods side by side in one image, on shared axes.
//! - [`ReliabilityDiagram`] from [`ReliabilityBin`]s: accuracy per confidence bin against the
//!   diagonal, with the expected calibration error in the title.
//! - [`HeatMap`]: a value over a 2-D grid (say, the predictive entropy of a classifier) with
//!   the training points on top.
//! - [`ImageGrid`] of [`GridTile`]s: small grey-scale images with two caption lines each, in
//!   labelled groups (say, the most and least certain test digits).
//!
//! Each figure can also be drawn into any plotters
//! [`DrawingArea`](plotters::drawing::DrawingArea), to compose your own layout.
//!
//! Text is rendered with DejaVu Sans, embedded in the binary (crate `dejavu`) and registered
//! with plotters' `ab_glyph` text backend as `"sans-serif"` on first use, so no system font or
//! fontconfig is needed. A program that registers its own `"sans-serif"` font with plotters
//! has it replaced on the first figure drawn here.
//!
//! ```
//! use bayesburn::plot::{save_bands, ConfidenceBand, PanelLayout};
//!
//! let x: Vec<f64> = (0..50).map(|i| i as f64 / 10.0).collect();
//! let mean: Vec<f64> = x.iter().map(|x| x.sin()).collect();
//! let band = ConfidenceBand::new("BBB", x.clone(), mean, vec![0.3; 50], vec![0.1; 50])
//!     .with_training_points(vec![1.0, 2.0], vec![0.8, 0.9]);
//! let path = std::env::temp_dir().join(format!("bands_doc_{}.svg", std::process::id()));
//! save_bands(&path, &[band], PanelLayout::row())?;
//! # std::fs::remove_file(&path).ok();
//! # Ok::<(), bayesburn::Error>(())
//! ```

mod band;
mod canvas;
mod heatmap;
mod image_grid;
mod reliability;

pub use band::{save_bands, ConfidenceBand, PanelLayout};
pub use heatmap::{HeatMap, ScatterPoint};
pub use image_grid::{GridTile, ImageGrid};
pub use reliability::{ReliabilityBin, ReliabilityDiagram};
