//! The IDX format of the MNIST files (LeCun et al., <http://yann.lecun.com/exdb/mnist/>).
//!
//! A big-endian header: two zero bytes, a type code (`0x08` = unsigned byte), the number of
//! dimensions `d`, then `d` sizes as `u32`; then the data, row-major. Images are
//! `0x00000803` (`[n, rows, columns]`), labels `0x00000801` (`[n]`).

use std::path::Path;

use super::source::{malformed, read_bytes};
use crate::error::Result;

/// Magic number of an IDX file of unsigned-byte images `[n, rows, columns]`.
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned-byte labels `[n]`.
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// Unsigned-byte images from an IDX file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Pixels, `[n, height, width]` row-major, as stored (MNIST: 0 = background, 255 = ink).
    pub pixels: Vec<u8>,
    /// Number of images.
    pub n: usize,
    /// Rows per image.
    pub height: usize,
    /// Columns per image.
    pub width: usize,
}

/// Reads an IDX image file (`0x00000803`), gzip or plain.
///
/// # Errors
/// [`Error::Io`](crate::Error::Io) if the file cannot be read;
/// [`Error::MalformedData`](crate::Error::MalformedData) for a wrong magic number (e.g. a label
/// file), a header or data shorter than the sizes announce, trailing bytes, or an image size
/// of 0 rows or columns.
pub fn read_idx_images(path: impl AsRef<Path>) -> Result<IdxImages> {
    let path = path.as_ref();
    let bytes = read_bytes(path)?;
    let dims = header(path, &bytes, IDX_IMAGES_MAGIC, "an IDX image file such as train-images-idx3-ubyte")?;
    let [n, height, width] = [dims[0], dims[1], dims[2]];
    if height == 0 || width == 0 {
        return Err(malformed(
            path,
            String::from("byte offset 8"),
            "header",
            format!("images of {height} x {width} pixels"),
            "at least 1 x 1",
            "the header is corrupt; download the file again",
        ));
    }
    let pixels = body(path, &bytes, 16, &[n, height, width])?;
    Ok(IdxImages { pixels, n, height, width })
}

/// Reads an IDX label file (`0x00000801`), gzip or plain.
///
/// # Errors
/// As [`read_idx_images`].
pub fn read_idx_labels(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    let path = path.as_ref();
    let bytes = read_bytes(path)?;
    let dims = header(path, &bytes, IDX_LABELS_MAGIC, "an IDX label file such as train-labels-idx1-ubyte")?;
    body(path, &bytes, 8, &[dims[0]])
}

/// The magic number, if `bytes` are long enough to hold one.
pub(super) fn magic(bytes: &[u8]) -> Option<u32> {
    bytes.get(..4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Checks the magic number and returns the sizes that follow it.
fn header(path: &Path, bytes: &[u8], expected: u32, kind: &str) -> Result<Vec<usize>> {
    let found = magic(bytes).ok_or_else(|| {
        malformed(
            path,
            String::from("byte offset 0"),
            "file length",
            format!("{} bytes", bytes.len()),
            "at least a 4-byte magic number",
            "the file is truncated or empty; download it again",
        )
    })?;
    if found != expected {
        return Err(malformed(
            path,
            String::from("byte offset 0"),
            "magic number",
            format!("0x{found:08x}"),
            format!("0x{expected:08x} ({kind})"),
            "pass the image file as images and the label file as labels (an uncompressed or .gz IDX file)",
        ));
    }
    let ndim = (expected & 0xff) as usize;
    let header_len = 4 + 4 * ndim;
    if bytes.len() < header_len {
        return Err(malformed(
            path,
            format!("byte offset {}", bytes.len()),
            "header",
            format!("{} bytes", bytes.len()),
            format!("{header_len} bytes (magic number and {ndim} sizes)"),
            "the file is truncated; download it again",
        ));
    }
    Ok((0..ndim)
        .map(|d| {
            let at = 4 + 4 * d;
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize
        })
        .collect())
}

/// The data after a `header_len`-byte header: exactly `prod(dims)` bytes.
fn body(path: &Path, bytes: &[u8], header_len: usize, dims: &[usize]) -> Result<Vec<u8>> {
    let expected = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let available = bytes.len() - header_len;
    match expected {
        Some(len) if len == available => Ok(bytes[header_len..].to_vec()),
        Some(len) if len > available => Err(malformed(
            path,
            format!("byte offset {}", bytes.len()),
            "data length",
            format!("{available} bytes after the header (truncated)"),
            format!("{len} bytes for sizes {dims:?}"),
            "the file is truncated; download it again",
        )),
        _ => Err(malformed(
            path,
            format!("byte offset {}", header_len + expected.unwrap_or(0)),
            "data length",
            format!("{available} bytes after the header"),
            format!(
                "{} bytes for sizes {dims:?}",
                expected.map_or(String::from("more than usize::MAX"), |e| e.to_string())
            ),
            "the header's sizes do not match the data; the file is corrupt",
        )),
    }
}
