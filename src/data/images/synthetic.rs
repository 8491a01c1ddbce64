//! A procedurally drawn digit-like data set, for running examples without data files.

use crate::noise::NoiseRng;
use rand::RngExt;

use super::ImageSet;
use crate::noise;

/// Pen strokes of the digits 0–9 as polylines in a unit box (x to the right, y downwards).
fn strokes(digit: usize) -> Vec<Vec<(f64, f64)>> {
    let ellipse = |cx: f64, cy: f64, rx: f64, ry: f64, k: usize| -> Vec<(f64, f64)> {
        (0..=k)
            .map(|i| {
                let a = 2.0 * std::f64::consts::PI * i as f64 / k as f64;
                (cx + rx * a.cos(), cy + ry * a.sin())
            })
            .collect()
    };
    match digit {
        0 => vec![ellipse(0.5, 0.5, 0.26, 0.38, 16)],
        1 => vec![vec![(0.36, 0.26), (0.52, 0.1), (0.52, 0.9)]],
        2 => vec![vec![(0.26, 0.3), (0.36, 0.14), (0.55, 0.1), (0.72, 0.2), (0.72, 0.38), (0.26, 0.9), (0.78, 0.9)]],
        3 => {
            vec![vec![(0.25, 0.14), (0.72, 0.14), (0.45, 0.45), (0.68, 0.55), (0.72, 0.76), (0.52, 0.9), (0.25, 0.84)]]
        }
        4 => vec![vec![(0.64, 0.9), (0.64, 0.1), (0.2, 0.64), (0.8, 0.64)]],
        5 => vec![vec![
            (0.74, 0.1),
            (0.32, 0.1),
            (0.29, 0.46),
            (0.52, 0.4),
            (0.72, 0.54),
            (0.7, 0.8),
            (0.5, 0.9),
            (0.26, 0.84),
        ]],
        6 => vec![vec![
            (0.7, 0.1),
            (0.46, 0.2),
            (0.31, 0.45),
            (0.29, 0.7),
            (0.4, 0.88),
            (0.6, 0.88),
            (0.72, 0.7),
            (0.6, 0.52),
            (0.4, 0.52),
            (0.3, 0.64),
        ]],
        7 => vec![vec![(0.22, 0.12), (0.78, 0.12), (0.44, 0.9)]],
        8 => vec![ellipse(0.5, 0.3, 0.19, 0.19, 14), ellipse(0.5, 0.7, 0.23, 0.2, 14)],
        _ => vec![ellipse(0.48, 0.33, 0.21, 0.21, 14), vec![(0.69, 0.33), (0.64, 0.9)]],
    }
}

/// Distance from `p` to the segment `a`–`b`.
fn segment_distance(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 { (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
    ((p.0 - a.0 - t * dx).powi(2) + (p.1 - a.1 - t * dy).powi(2)).sqrt()
}

/// One image of `digit`, `side x side`, with random pose and pen width.
fn draw(digit: usize, side: usize, rng: &mut NoiseRng) -> Vec<f32> {
    let s = side as f64;
    let mut u = |lo: f64, hi: f64| lo + (hi - lo) * rng.random::<f64>();
    let angle = u(-0.25, 0.25);
    let shear = u(-0.25, 0.25);
    let scale = u(0.62, 0.78) * s;
    let (ox, oy) = (u(-0.08, 0.08) * s, u(-0.08, 0.08) * s);
    let pen = u(0.045, 0.085) * s;
    let (sin, cos) = angle.sin_cos();
    // Unit box -> pixels: centre, shear in x by y, rotate, scale, shift.
    let place = |(x, y): (f64, f64)| {
        let (x, y) = (x - 0.5 + shear * (y - 0.5), y - 0.5);
        (s / 2.0 + ox + scale * (cos * x - sin * y), s / 2.0 + oy + scale * (sin * x + cos * y))
    };
    let segments: Vec<((f64, f64), (f64, f64))> = strokes(digit)
        .into_iter()
        .flat_map(|line| {
            let pts: Vec<(f64, f64)> = line.into_iter().map(place).collect();
            pts.windows(2).map(|w| (w[0], w[1])).collect::<Vec<_>>()
        })
        .collect();
    let mut img = vec![0.0f32; side * side];
    for r in 0..side {
        for c in 0..side {
            let p = (c as f64 + 0.5, r as f64 + 0.5);
            let d = segments.iter().map(|&(a, b)| segment_distance(p, a, b)).fold(f64::INFINITY, f64::min);
            // A pen of radius `pen` with a one-pixel anti-aliased edge.
            img[r * side + c] = (pen + 0.5 - d).clamp(0.0, 1.0) as f32;
        }
    }
    img
}

/// `n_per_class` images of each digit, classes interleaved (0, 1, ..., 9, 0, 1, ...).
pub(super) fn digits(n_per_class: usize, side: usize, seed: u64) -> ImageSet {
    let (pixels, labels) = noise::with_seed(seed, || {
        noise::with_rng(|rng| {
            let mut pixels = Vec::with_capacity(10 * n_per_class * side * side);
            let mut labels = Vec::with_capacity(10 * n_per_class);
            for _ in 0..n_per_class {
                for digit in 0..10 {
                    pixels.extend(draw(digit, side, rng));
                    labels.push(digit as u8);
                }
            }
            (pixels, labels)
        })
    });
    ImageSet { n: labels.len(), pixels, height: side, width: side, labels }
}
