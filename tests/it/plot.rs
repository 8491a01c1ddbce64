//! Figures written as PNG and SVG: files exist, have the requested size and content, and bad
//! input is a typed error, never a panic.
#![cfg(feature = "plot")]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use bayesburn::plot::{
    save_bands, ConfidenceBand, HeatMap, PanelLayout, ReliabilityBin, ReliabilityDiagram, ScatterPoint,
};
use bayesburn::Error;

/// A fresh path in the temp dir; the file is removed when the guard drops.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Self(std::env::temp_dir().join(format!("bayesburn_plot_{}_{n}_{name}", std::process::id())))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Decodes an RGB PNG: (width, height, pixels), after checking signature and IHDR by hand.
fn read_png(path: &PathBuf) -> (u32, u32, Vec<u8>) {
    let bytes = std::fs::read(path).expect("PNG written");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "first chunk is IHDR");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().expect("valid PNG");
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).expect("PNG frame");
    assert_eq!((info.width, info.height), (width, height));
    assert_eq!(info.color_type, png::ColorType::Rgb);
    (width, height, pixels)
}

/// A 1-D regression panel: sin(x) with a gap in the data where the epistemic sd grows.
fn band(title: &str, n: usize) -> ConfidenceBand {
    let x: Vec<f64> = (0..n).map(|i| -4.0 + 8.0 * i as f64 / (n - 1) as f64).collect();
    let truth: Vec<f64> = x.iter().map(|x| x.sin()).collect();
    let mean: Vec<f64> = x.iter().map(|x| x.sin() + 0.1 * x).collect();
    let epistemic: Vec<f64> = x.iter().map(|x| 0.05 + 0.1 * x.abs()).collect();
    let total: Vec<f64> = epistemic.iter().map(|e| (e * e + 0.2 * 0.2_f64).sqrt()).collect();
    let train_x: Vec<f64> = (0..20).map(|i| -3.0 + 0.3 * i as f64).collect();
    let train_y: Vec<f64> = train_x.iter().map(|x| x.sin()).collect();
    ConfidenceBand::new(title, x, mean, total, epistemic).with_truth(truth).with_training_points(train_x, train_y)
}

fn methods() -> Vec<ConfidenceBand> {
    ["BBB", "Flipout", "MC dropout", "Deep ensemble"].iter().map(|t| band(t, 100)).collect()
}

/// The contents of the SVG's `<text>` elements, trimmed.
fn svg_texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let body = &t[t.find('>')? + 1..];
            Some(body[..body.find("</text>")?].trim().to_string())
        })
        .collect()
}

fn non_white(pixels: &[u8], width: u32, rows: std::ops::Range<u32>) -> usize {
    let row_bytes = width as usize * 3;
    pixels[rows.start as usize * row_bytes..rows.end as usize * row_bytes]
        .chunks(3)
        .filter(|p| p != &[255, 255, 255])
        .count()
}

#[test]
fn four_panels_side_by_side_png_has_the_layout_size() {
    let file = TempFile::new("bands.png");
    let layout = PanelLayout::row().with_panel_size(400, 300);
    save_bands(&file.0, &methods(), layout).unwrap();
    let (w, h, pixels) = read_png(&file.0);
    assert_eq!((w, h), (4 * 400, 300));
    // Something was drawn in every panel (not a blank canvas).
    for panel in 0..4 {
        let columns: usize = pixels
            .chunks(w as usize * 3)
            .map(|row| row[panel * 400 * 3..(panel + 1) * 400 * 3].chunks(3).filter(|p| p != &[255, 255, 255]).count())
            .sum();
        assert!(columns > 400 * 300 / 10, "panel {panel} has only {columns} drawn pixels");
    }
}

#[test]
fn grid_layout_wraps_rows() {
    let file = TempFile::new("grid.PNG");
    save_bands(&file.0, &methods(), PanelLayout::grid(2).with_panel_size(300, 200)).unwrap();
    let (w, h, _) = read_png(&file.0);
    assert_eq!((w, h), (600, 400));
}

#[test]
fn png_title_text_is_rendered() {
    // Same panel with and without a title: the title strip gains dark pixels only if the
    // embedded font actually rasterises glyphs.
    let size = PanelLayout::row().with_panel_size(400, 300);
    let titled = TempFile::new("titled.png");
    let untitled = TempFile::new("untitled.png");
    save_bands(&titled.0, &[band("Bayes by Backprop", 50)], size).unwrap();
    save_bands(&untitled.0, &[band("", 50)], size).unwrap();
    let (w, _, with) = read_png(&titled.0);
    let (_, _, without) = read_png(&untitled.0);
    let strip = 0..24;
    assert_eq!(non_white(&without, w, strip.clone()), 0, "nothing above the plot without a title");
    assert!(non_white(&with, w, strip) > 200, "title glyphs rendered");
}

#[test]
fn svg_has_titles_and_one_polygon_per_band() {
    let file = TempFile::new("bands.svg");
    let panels = methods();
    save_bands(&file.0, &panels, PanelLayout::row()).unwrap();
    let svg = std::fs::read_to_string(&file.0).unwrap();
    assert!(svg.starts_with("<svg"));
    assert!(svg.contains(r#"width="1920" height="360""#), "4 default panels of 480 x 360");
    for panel in &panels {
        assert!(svg_texts(&svg).contains(&panel.title), "title {}", panel.title);
    }
    // Two bands (total, epistemic) per panel, each one closed polygon.
    assert_eq!(svg.matches("<polygon").count(), 2 * panels.len());
    for label in ["mean", "±2 sd total", "±2 sd epistemic", "true function", "training data"] {
        assert!(svg_texts(&svg).iter().any(|t| t == label), "legend entry {label}");
    }
}

#[test]
fn drawing_into_a_caller_area_works() {
    use plotters::prelude::*;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (500, 400)).into_drawing_area();
        let (left, right) = root.split_horizontally(250);
        band("left", 30).draw(&left).unwrap();
        ReliabilityDiagram::new("right", vec![ReliabilityBin { count: 3, confidence: 0.7, accuracy: 0.6 }])
            .draw(&right)
            .unwrap();
        root.present().unwrap();
    }
    let texts = svg_texts(&svg);
    assert!(texts.iter().any(|t| t == "left") && texts.iter().any(|t| t.starts_with("right (ECE")));
    assert_eq!(svg.matches("<polygon").count(), 2);
}

#[test]
fn mismatched_lengths_are_shape_errors() {
    let file = TempFile::new("bad.png");
    let layout = PanelLayout::row();
    let mut b = band("m", 10);
    b.mean.pop();
    let err = save_bands(&file.0, &[b], layout).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { field: "mean", .. }), "{err}");

    let b = band("t", 10).with_truth(vec![0.0; 9]);
    let err = save_bands(&file.0, &[b], layout).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { field: "truth", .. }), "{err}");

    let b = band("d", 10).with_training_points(vec![0.0; 3], vec![0.0; 2]);
    assert!(matches!(save_bands(&file.0, &[b], layout), Err(Error::ShapeMismatch { .. })));

    let map = HeatMap::new("h", vec![0.0; 11], (3, 4), (0.0, 1.0), (0.0, 1.0));
    let err = map.save(&file.0, (400, 300)).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { field: "values", .. }), "{err}");
    assert!(!file.0.exists(), "nothing written on error");
}

#[test]
fn bad_values_and_settings_are_invalid_parameters() {
    let file = TempFile::new("bad.svg");
    let layout = PanelLayout::row();
    let invalid = |r: bayesburn::Result<()>, want: &str| match r {
        Err(Error::InvalidParameter { field, .. }) => assert_eq!(field, want),
        other => panic!("expected InvalidParameter for {want}, got {other:?}"),
    };
    let mut b = band("nan", 10);
    b.mean[3] = f64::NAN;
    invalid(save_bands(&file.0, &[b], layout), "mean");
    let mut b = band("neg", 10);
    b.epistemic_sd[0] = -0.1;
    invalid(save_bands(&file.0, &[b], layout), "epistemic_sd");
    invalid(save_bands(&file.0, &[], layout), "panels");
    invalid(save_bands(&file.0, &[band("x", 5)], PanelLayout::grid(0)), "layout.columns");
    invalid(save_bands(&file.0, &[band("x", 5)], layout.with_panel_size(20, 20)), "layout.panel_width");
    let huge = PanelLayout::row().with_panel_size(5000, 300);
    invalid(save_bands(&file.0, &[band("a", 5), band("b", 5)], huge), "size");
    let bin = |confidence, accuracy| ReliabilityBin { count: 1, confidence, accuracy };
    invalid(ReliabilityDiagram::new("r", vec![bin(1.5, 0.5)]).save(&file.0, (400, 400)), "bins[..].confidence");
    invalid(ReliabilityDiagram::new("r", vec![]).save(&file.0, (400, 400)), "bins");
    let map = HeatMap::new("h", vec![0.0; 4], (2, 2), (1.0, 0.0), (0.0, 1.0));
    invalid(map.save(&file.0, (400, 300)), "x_range");
    assert!(!file.0.exists());
}

#[test]
fn unknown_extension_is_a_typed_error() {
    for name in ["bands.jpg", "bands", "bands.svg.txt"] {
        let file = TempFile::new(name);
        let err = save_bands(&file.0, &methods(), PanelLayout::row()).unwrap_err();
        assert!(matches!(err, Error::InvalidParameter { field: "path", .. }), "{name}: {err}");
        assert!(!file.0.exists());
    }
}

#[test]
fn unwritable_path_is_an_io_error_naming_it() {
    let dir = TempFile::new("no_such_dir");
    let path = dir.0.join("bands.png");
    match save_bands(&path, &methods(), PanelLayout::row()) {
        Err(Error::Io { path: p, .. }) => assert_eq!(p, path.display().to_string()),
        other => panic!("expected Error::Io, got {other:?}"),
    }
}

/// Predictions binned by the test itself: the diagram's ECE equals the per-sample formula
/// `(1/N) Σ_b |Σ_{i in b} (correct_i - confidence_i)|`, and the SVG title shows it.
#[test]
fn reliability_diagram_png_svg_and_ece() {
    let n_bins = 10;
    let mut sums = vec![(0usize, 0.0f64, 0.0f64); n_bins];
    let mut signed_gap = vec![0.0f64; n_bins];
    let n = 1000;
    for i in 0..n {
        // Deterministic, over-confident predictions: confidence c, correct with rate c^2.
        let c = 0.1 + 0.9 * ((i * 7919) % n) as f64 / n as f64;
        let correct = ((i * 104_729) % 1000) as f64 / 1000.0 < c * c;
        let b = ((c * n_bins as f64) as usize).min(n_bins - 1);
        sums[b].0 += 1;
        sums[b].1 += c;
        sums[b].2 += f64::from(u8::from(correct));
        signed_gap[b] += f64::from(u8::from(correct)) - c;
    }
    let expected_ece = signed_gap.iter().map(|g| g.abs()).sum::<f64>() / n as f64;
    let bins: Vec<ReliabilityBin> = sums
        .iter()
        .map(|&(count, conf, acc)| ReliabilityBin {
            count,
            confidence: if count > 0 { conf / count as f64 } else { 0.0 },
            accuracy: if count > 0 { acc / count as f64 } else { 0.0 },
        })
        .collect();
    assert_eq!(bins[0].count, 0, "an empty bin is part of the test");
    let diagram = ReliabilityDiagram::new("MC dropout", bins);
    let ece = diagram.expected_calibration_error().unwrap();
    assert!((ece - expected_ece).abs() < 1e-12, "{ece} vs {expected_ece}");

    let png_file = TempFile::new("reliability.png");
    diagram.save(&png_file.0, (500, 450)).unwrap();
    assert_eq!(read_png(&png_file.0).0, 500);
    assert_eq!(read_png(&png_file.0).1, 450);
    let svg_file = TempFile::new("reliability.svg");
    diagram.save(&svg_file.0, (500, 450)).unwrap();
    let svg = std::fs::read_to_string(&svg_file.0).unwrap();
    assert!(svg_texts(&svg).contains(&format!("MC dropout (ECE = {expected_ece:.3})")), "title with ECE");
}

#[test]
fn heat_map_png_and_svg() {
    let (nx, ny) = (40, 30);
    let values: Vec<f64> = (0..nx * ny).map(|k| ((k % nx) as f64 / nx as f64 - 0.5).abs()).collect();
    let points = vec![
        ScatterPoint { x: -1.0, y: 0.5, class: 0 },
        ScatterPoint { x: 1.0, y: -0.5, class: 1 },
        ScatterPoint { x: 9.0, y: 9.0, class: 2 }, // outside the grid: not drawn, but in the legend
    ];
    let map = HeatMap::new("Predictive entropy", values, (nx, ny), (-2.0, 2.0), (-1.5, 1.5))
        .with_points(points)
        .with_value_range(0.0, 0.5)
        .with_value_label("entropy (nats)");
    let png_file = TempFile::new("heat.png");
    map.save(&png_file.0, (640, 480)).unwrap();
    let (w, h, pixels) = read_png(&png_file.0);
    assert_eq!((w, h), (640, 480));
    assert!(non_white(&pixels, w, 0..h) > (640 * 480) / 3, "the grid covers much of the image");
    let svg_file = TempFile::new("heat.svg");
    map.save(&svg_file.0, (640, 480)).unwrap();
    let svg = std::fs::read_to_string(&svg_file.0).unwrap();
    for text in ["Predictive entropy", "entropy (nats)", "class 0", "class 1", "class 2"] {
        assert!(svg_texts(&svg).iter().any(|t| t == text), "{text}");
    }
    // One rectangle per cell at least (plus colour bar strips and frame).
    assert!(svg.matches("<rect").count() >= nx * ny);
}

/// Not a check: writes the figures to `$TMPDIR/bayesburn_plot_gallery/` for a person to look
/// at (`cargo test --test plot -- --ignored`).
#[test]
#[ignore]
fn gallery_for_inspection() {
    let dir = std::env::temp_dir().join("bayesburn_plot_gallery");
    std::fs::create_dir_all(&dir).unwrap();
    for ext in ["png", "svg"] {
        save_bands(dir.join(format!("bands.{ext}")), &methods(), PanelLayout::row()).unwrap();
        let single = band("Bayes by Backprop", 100).with_axis_labels("input", "target");
        save_bands(dir.join(format!("band_single.{ext}")), &[single], PanelLayout::row()).unwrap();
        let bins: Vec<ReliabilityBin> = (0..10)
            .map(|b| {
                let confidence = (b as f64 + 0.5) / 10.0;
                ReliabilityBin { count: 10 * b, confidence, accuracy: confidence * confidence }
            })
            .collect();
        ReliabilityDiagram::new("MC dropout", bins).save(dir.join(format!("reliability.{ext}")), (500, 450)).unwrap();
        let (nx, ny) = (80, 60);
        let values: Vec<f64> = (0..nx * ny)
            .map(|k| {
                let (x, y) = (-3.0 + 6.0 * (k % nx) as f64 / nx as f64, -2.0 + 4.0 * (k / nx) as f64 / ny as f64);
                let p = 1.0 / (1.0 + (-(2.0 * x + y)).exp());
                -(p * p.ln() + (1.0 - p) * (1.0 - p).ln())
            })
            .collect();
        let points: Vec<ScatterPoint> = (0..40)
            .map(|i| {
                let t = i as f64 * 0.7;
                let class = i % 2;
                let s = if class == 0 { -1.0 } else { 1.0 };
                ScatterPoint { x: s * (1.0 + 0.6 * t.sin()), y: 0.8 * t.cos(), class }
            })
            .collect();
        HeatMap::new("Predictive entropy", values, (nx, ny), (-3.0, 3.0), (-2.0, 2.0))
            .with_points(points)
            .with_value_range(0.0, 2f64.ln())
            .with_value_label("entropy (nats)")
            .save(dir.join(format!("heatmap.{ext}")), (640, 480))
            .unwrap();
    }
    println!("figures in {}", dir.display());
}

#[test]
fn tiny_caller_areas_do_not_panic() {
    use plotters::prelude::*;
    for size in [(1, 1), (10, 10), (40, 300), (300, 30), (100, 80)] {
        let mut svg = String::new();
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        let _ = band("tiny", 20).draw(&root);
        let _ =
            ReliabilityDiagram::new("r", vec![ReliabilityBin { count: 3, confidence: 0.7, accuracy: 0.6 }]).draw(&root);
        let map = HeatMap::new("h", vec![0.0, 1.0, 2.0, 3.0], (2, 2), (0.0, 1.0), (0.0, 1.0))
            .with_points(vec![ScatterPoint { x: 0.5, y: 0.5, class: 0 }]);
        let _ = map.draw(&root);
        let mut pixels = vec![0u8; size.0 as usize * size.1 as usize * 3];
        let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
        let _ = band("tiny", 20).draw(&root);
        let _ = map.draw(&root);
    }
}

/// The diagram built from `metrics::reliability_diagram` keeps every bin (empty ones too) and
/// reports the ECE that `metrics` computes from the same predictions.
#[test]
fn reliability_diagram_from_metrics_keeps_bins_and_ece() {
    use burn::prelude::*;
    let device = crate::support::device();
    // Four 2-class predictions with confidences 0.95, 0.95, 0.65 and 0.55; the last is wrong.
    let probs = Tensor::<2>::from_data(
        burn::tensor::TensorData::new(vec![0.95f32, 0.05, 0.05, 0.95, 0.65, 0.35, 0.45, 0.55], [4, 2]),
        &device,
    );
    let labels = Tensor::<1, Int>::from_data(burn::tensor::TensorData::new(vec![0i64, 1, 0, 0], [4]), &device);
    let data = bayesburn::metrics::reliability_diagram(probs.clone(), labels.clone(), 10).unwrap();
    let expected = bayesburn::metrics::expected_calibration_error(probs, labels, 10).unwrap();
    let diagram = ReliabilityDiagram::from_metrics("toy", &data);
    assert_eq!(diagram.bins.len(), 10);
    assert_eq!(diagram.bins.iter().map(|b| b.count).collect::<Vec<_>>(), vec![0, 0, 0, 0, 0, 1, 1, 0, 0, 2]);
    let ece = diagram.expected_calibration_error().unwrap();
    assert!((ece - expected).abs() < 1e-6, "{ece} vs {expected}");
}
