use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::TensorData;
use rand::seq::SliceRandom;

use super::idx::{self, read_idx_images, read_idx_labels, IDX_IMAGES_MAGIC};
use super::{csv, source};
use crate::error::{Error, Result};
use crate::noise;

/// Grey-scale images with optional class labels.
///
/// Pixels are `f32` in `[0, 1]`, `[N, H, W]` row-major (image `i`, row `r`, column `c` at
/// `i * H * W + r * W + c`). Labels are class indices; a set is either labelled (one label per
/// image) or unlabelled (e.g. noise images).
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSet {
    pub(super) pixels: Vec<f32>,
    pub(super) n: usize,
    pub(super) height: usize,
    pub(super) width: usize,
    pub(super) labels: Vec<u8>,
}

impl ImageSet {
    /// A labelled set of `labels.len()` images.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a zero height or width or a pixel outside `[0, 1]`;
    /// [`Error::ShapeMismatch`] if `pixels.len() != labels.len() * height * width`.
    pub fn new(pixels: Vec<f32>, height: usize, width: usize, labels: Vec<u8>) -> Result<Self> {
        Self::checked(pixels, labels.len(), height, width, labels)
    }

    /// An unlabelled set of `pixels.len() / (height * width)` images.
    ///
    /// # Errors
    /// As [`new`](Self::new), with [`Error::ShapeMismatch`] if `pixels.len()` is not a multiple
    /// of `height * width`.
    pub fn unlabelled(pixels: Vec<f32>, height: usize, width: usize) -> Result<Self> {
        let n = pixels.len().checked_div(height * width).unwrap_or(0);
        Self::checked(pixels, n, height, width, Vec::new())
    }

    fn checked(pixels: Vec<f32>, n: usize, height: usize, width: usize, labels: Vec<u8>) -> Result<Self> {
        const C: &str = "ImageSet";
        crate::error::check_nonzero(C, "height", height, "images need at least one row")?;
        crate::error::check_nonzero(C, "width", width, "images need at least one column")?;
        if pixels.len() != n * height * width {
            return Err(Error::shape(
                C,
                "pixels",
                format!("[{n} * {height} * {width}] (N * H * W)"),
                &[pixels.len()],
                "pass N whole images, row-major",
            ));
        }
        if let Some(i) = pixels.iter().position(|p| !(0.0..=1.0).contains(p)) {
            return Err(Error::invalid(
                C,
                "pixels",
                format!("{} at index {i}", pixels[i]),
                "in [0, 1]",
                "scale raw grey levels by 1 / max (e.g. 1 / 255)",
            ));
        }
        Ok(ImageSet { pixels, n, height, width, labels })
    }

    /// Reads a data set, choosing the reader from the file's content:
    ///
    /// - an IDX image file (magic `0x00000803`, plain or gzip) is read with the label file beside
    ///   it named by MNIST's convention (`...-images-idx3-ubyte[.gz]` →
    ///   `...-labels-idx1-ubyte[.gz]`, also `images.idx3` → `labels.idx1`);
    /// - anything else is read as CSV with [`read_csv_images_auto`](super::read_csv_images_auto).
    ///
    /// # Errors
    /// What the readers report; [`Error::InvalidParameter`] if the IDX label file cannot be
    /// found by name (use [`from_idx`](Self::from_idx) then).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = source::read_bytes(path)?;
        if idx::magic(&bytes) != Some(IDX_IMAGES_MAGIC) {
            return csv::auto_from_bytes(path, &bytes);
        }
        let labels = idx_label_path(path).ok_or_else(|| {
            Error::invalid(
                "ImageSet::open",
                "path",
                path.display(),
                "an IDX image file with its label file beside it (...-images-idx3-ubyte -> ...-labels-idx1-ubyte)",
                "pass both files to ImageSet::from_idx(images, labels)",
            )
        })?;
        Self::from_idx(path, labels)
    }

    /// What the examples do with their `--data` flag: [`open`](Self::open) the file when a path
    /// is given; otherwise 5,000 [`synthetic_digits`](Self::synthetic_digits) (28 × 28, from
    /// `seed`), saying so on stderr, so a bare clone still runs. Returns the set and a description
    /// of where it came from (the path, or `synthetic digits (no --data)`).
    ///
    /// # Errors
    /// What [`open`](Self::open) reports.
    pub fn open_or_synthetic(path: Option<&str>, seed: u64) -> Result<(Self, String)> {
        match path {
            Some(path) => Ok((Self::open(path)?, path.to_string())),
            None => {
                eprintln!(
                    "no --data given: using 5,000 procedurally drawn digit-like images (28 x 28); \
                     pass --data ../shared/data/mnist5k/mnist_5k.csv.gz for real digits"
                );
                Ok((Self::synthetic_digits(500, 28, seed), String::from("synthetic digits (no --data)")))
            }
        }
    }

    /// Reads MNIST-style IDX files: images (`0x00000803`) and labels (`0x00000801`), each plain
    /// or gzip; pixels are scaled by `1 / 255`.
    ///
    /// # Errors
    /// What [`read_idx_images`] and [`read_idx_labels`] report, and
    /// [`Error::MalformedData`] on the label file if it holds a different number of labels
    /// than there are images.
    pub fn from_idx(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<Self> {
        let img = read_idx_images(images)?;
        let lab = read_idx_labels(labels.as_ref())?;
        if lab.len() != img.n {
            return Err(source::malformed(
                labels.as_ref(),
                String::from("byte offset 4"),
                "number of labels",
                lab.len(),
                format!("{} (one per image)", img.n),
                "pair the image file with its own label file (train with train, test with test)",
            ));
        }
        let pixels = img.pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
        Self::new(pixels, img.height, img.width, lab)
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether the set holds no image.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Rows per image.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Columns per image.
    pub fn width(&self) -> usize {
        self.width
    }

    /// All pixels, `[N, H, W]` row-major, in `[0, 1]`.
    pub fn pixels(&self) -> &[f32] {
        &self.pixels
    }

    /// The pixels of image `i`, `[H, W]` row-major, or `None` if `i >= len()`.
    pub fn image(&self, i: usize) -> Option<&[f32]> {
        let size = self.height * self.width;
        (i < self.n).then(|| &self.pixels[i * size..(i + 1) * size])
    }

    /// The labels, `[N]`; empty for an unlabelled set.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// Whether every image has a label.
    pub fn is_labelled(&self) -> bool {
        self.n > 0 && self.labels.len() == self.n
    }

    /// Number of classes: the largest label + 1 (0 for an unlabelled set).
    pub fn n_classes(&self) -> usize {
        self.labels.iter().max().map_or(0, |&m| usize::from(m) + 1)
    }

    /// Images per class, `[n_classes]`.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.n_classes()];
        for &l in &self.labels {
            counts[usize::from(l)] += 1;
        }
        counts
    }

    /// The images at `indices` (in that order, repeats allowed), with their labels.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if an index is `>= len()`.
    pub fn subset(&self, indices: &[usize]) -> Result<Self> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.n) {
            return Err(Error::invalid(
                "ImageSet::subset",
                "indices",
                bad,
                "< the number of images",
                "pass indices of images in the set",
            ));
        }
        let size = self.height * self.width;
        let pixels = indices.iter().flat_map(|&i| self.pixels[i * size..(i + 1) * size].iter().copied()).collect();
        let labels = if self.is_labelled() { indices.iter().map(|&i| self.labels[i]).collect() } else { Vec::new() };
        Ok(ImageSet { pixels, n: indices.len(), height: self.height, width: self.width, labels })
    }

    /// Splits into `(train, test)` with `n_test` test images, keeping each class's share in both
    /// parts: class `c` with `n_c` images gives `n_test * n_c / N` test images, rounded by the
    /// largest-remainder rule so the counts add up to `n_test` exactly. Which images of a class
    /// go to the test part is drawn under `seed` (a [`noise::with_seed`] block, so the split
    /// does not depend on or disturb the thread's noise stream). Both parts keep the file order.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an unlabelled set or `n_test` not in `1..len()`.
    pub fn stratified_split(&self, n_test: usize, seed: u64) -> Result<(Self, Self)> {
        const C: &str = "ImageSet::stratified_split";
        if !self.is_labelled() {
            return Err(Error::invalid(C, "labels", "none", "a labelled set", "split a set read with its labels"));
        }
        if n_test == 0 || n_test >= self.n {
            return Err(Error::invalid(
                C,
                "n_test",
                format!("{n_test} (of {} images)", self.n),
                "in 1..N",
                "leave at least one image in each part",
            ));
        }
        let counts = self.class_counts();
        let exact: Vec<f64> = counts.iter().map(|&c| n_test as f64 * c as f64 / self.n as f64).collect();
        let mut quota: Vec<usize> = exact.iter().map(|q| q.floor() as usize).collect();
        let mut by_remainder: Vec<usize> = (0..counts.len()).collect();
        by_remainder.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
        let missing = n_test - quota.iter().sum::<usize>();
        for &c in by_remainder.iter().take(missing) {
            quota[c] += 1;
        }
        let mut is_test = vec![false; self.n];
        noise::with_seed(seed, || {
            noise::with_rng(|rng| {
                for (class, &q) in quota.iter().enumerate() {
                    let mut members: Vec<usize> =
                        (0..self.n).filter(|&i| usize::from(self.labels[i]) == class).collect();
                    members.shuffle(rng);
                    for &i in members.iter().take(q) {
                        is_test[i] = true;
                    }
                }
            })
        });
        let (test, train): (Vec<usize>, Vec<usize>) = (0..self.n).partition(|&i| is_test[i]);
        Ok((self.subset(&train)?, self.subset(&test)?))
    }

    /// The same images with every pixel raised to `gamma` (`p^gamma`; the labels are kept).
    /// `gamma < 1` brightens the strokes' soft edges and the background stays 0; `gamma > 1`
    /// darkens everything but the saturated ink, thinning the strokes.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless `gamma` is positive and finite.
    pub fn with_gamma(&self, gamma: f64) -> Result<Self> {
        crate::error::check_positive("ImageSet::with_gamma", "gamma", gamma, "use a gamma such as 0.5 or 2")?;
        let g = gamma as f32;
        let pixels = self.pixels.iter().map(|&p| p.powf(g).clamp(0.0, 1.0)).collect();
        Ok(ImageSet { pixels, ..self.clone() })
    }

    /// The same images rotated by `degrees` (counter-clockwise on screen) about the image
    /// centre, bilinearly interpolated, with 0 (background) where the rotated image has no
    /// source pixel. The labels are kept.
    pub fn rotated(&self, degrees: f64) -> Self {
        let (h, w) = (self.height, self.width);
        let (sin, cos) = degrees.to_radians().sin_cos();
        let (cy, cx) = ((h as f64 - 1.0) / 2.0, (w as f64 - 1.0) / 2.0);
        let mut pixels = vec![0.0f32; self.pixels.len()];
        for (src, dst) in self.pixels.chunks_exact(h * w).zip(pixels.chunks_exact_mut(h * w)) {
            let at = |r: isize, c: isize| -> f64 {
                if r < 0 || c < 0 || r >= h as isize || c >= w as isize {
                    0.0
                } else {
                    f64::from(src[r as usize * w + c as usize])
                }
            };
            for r in 0..h {
                for c in 0..w {
                    // Inverse map: the source of output (r, c) is the point rotated back by
                    // -degrees; rows grow downwards, so screen-counter-clockwise is clockwise in
                    // (row, column) coordinates.
                    let (dy, dx) = (r as f64 - cy, c as f64 - cx);
                    let sy = cy + cos * dy + sin * dx;
                    let sx = cx + cos * dx - sin * dy;
                    let (y0, x0) = (sy.floor(), sx.floor());
                    let (fy, fx) = (sy - y0, sx - x0);
                    let (y0, x0) = (y0 as isize, x0 as isize);
                    let v = (1.0 - fy) * ((1.0 - fx) * at(y0, x0) + fx * at(y0, x0 + 1))
                        + fy * ((1.0 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
                    dst[r * w + c] = v.clamp(0.0, 1.0) as f32;
                }
            }
        }
        ImageSet { pixels, ..self.clone() }
    }

    /// `n` images of `height x width` independent `Uniform(0, 1)` pixels, unlabelled, drawn
    /// under `seed`: inputs a digit classifier has never seen anything like.
    pub fn uniform_noise(n: usize, height: usize, width: usize, seed: u64) -> Self {
        use rand::RngExt;
        let pixels = noise::with_seed(seed, || {
            noise::with_rng(|rng| (0..n * height * width).map(|_| rng.random::<f32>()).collect())
        });
        ImageSet { pixels, n, height, width, labels: Vec::new() }
    }

    /// `n_per_class` images of each digit 0–9, `side x side` pixels, drawn procedurally under
    /// `seed`: each digit is a few pen strokes, randomly rotated, sheared, scaled, shifted and
    /// thickened, with anti-aliased edges. A stand-in for MNIST when no data file is at hand;
    /// a small CNN tells the classes apart, but it is no substitute for real handwriting.
    pub fn synthetic_digits(n_per_class: usize, side: usize, seed: u64) -> Self {
        super::synthetic::digits(n_per_class, side.max(1), seed)
    }

    /// The images as a tensor `[N, 1, H, W]` (one channel) on `device`.
    pub fn tensor(&self, device: &Device) -> Tensor<4> {
        Tensor::from_data(TensorData::new(self.pixels.clone(), [self.n, 1, self.height, self.width]), device)
    }

    /// The labels as a tensor `[N]` on `device` (`[0]` for an unlabelled set).
    pub fn labels_tensor(&self, device: &Device) -> Tensor<1, Int> {
        let v: Vec<i64> = self.labels.iter().map(|&l| i64::from(l)).collect();
        let n = v.len();
        Tensor::from_data(TensorData::new(v, [n]), device)
    }
}

/// The label file beside an IDX image file, by MNIST's naming convention, if it exists.
fn idx_label_path(images: &Path) -> Option<PathBuf> {
    let name = images.file_name()?.to_str()?;
    ["images-idx3", "images.idx3"]
        .iter()
        .zip(["labels-idx1", "labels.idx1"])
        .filter(|(from, _)| name.contains(*from))
        .map(|(from, to)| images.with_file_name(name.replace(from, to)))
        .find(|p| p.exists())
}
