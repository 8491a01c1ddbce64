//! Input checks the layers share.

use crate::error::{Error, Result};

/// Checks that the sample axis (dim 0) and the batch axis (dim 1) of `dims` are non-empty.
pub(crate) fn check_sample_and_batch(context: &'static str, dims: &[usize], expected: &str) -> Result<()> {
    if dims[0] == 0 {
        return Err(Error::shape(
            context,
            "input (zero samples)",
            expected,
            dims,
            "the sample axis S (dim 0) must be >= 1; expand the input to [S, N, ...] with S >= 1",
        ));
    }
    if dims[1] == 0 {
        return Err(Error::shape(
            context,
            "input (empty batch)",
            expected,
            dims,
            "the batch axis N (dim 1) must be >= 1; pass at least one example",
        ));
    }
    Ok(())
}
