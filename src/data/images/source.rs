//! Reading a whole data file into memory, gunzipping it when it starts with the gzip magic
//! bytes, and the errors that point into it.

use std::io::Read;
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::error::{Error, Result};

/// The first two bytes of every gzip stream (RFC 1952, §2.3.1).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The bytes of `path`, decompressed if the file is gzip (detected from its content, not its
/// name).
pub(super) fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    let shown = path.display().to_string();
    let raw = std::fs::read(path).map_err(|e| Error::Io { path: shown.clone(), message: e.to_string() })?;
    if !raw.starts_with(&GZIP_MAGIC) {
        return Ok(raw);
    }
    let mut out = Vec::with_capacity(raw.len() * 4);
    MultiGzDecoder::new(raw.as_slice()).read_to_end(&mut out).map_err(|e| Error::MalformedData {
        path: shown,
        at: format!("gzip stream after {} decompressed bytes", out.len()),
        what: "gzip data",
        detail: format!("found an unreadable stream ({e}), expected a complete gzip stream"),
        fix: "the file is truncated or corrupt; download it again",
    })?;
    Ok(out)
}

/// An [`Error::MalformedData`] for `path`.
pub(super) fn malformed(
    path: &Path,
    at: String,
    what: &'static str,
    found: impl std::fmt::Display,
    expected: impl std::fmt::Display,
    fix: &'static str,
) -> Error {
    Error::MalformedData {
        path: path.display().to_string(),
        at,
        what,
        detail: format!("found {found}, expected {expected}"),
        fix,
    }
}
