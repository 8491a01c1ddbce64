//! Which devices run the fused kernels.

use burn::prelude::*;

#[cfg(any(feature = "flex", feature = "ndarray"))]
use super::extension as kernels;

#[cfg(any(feature = "flex", feature = "ndarray"))]
pub(crate) fn plain_kernel_device(device: &Device) -> bool {
    !device.is_autodiff() && kernels::available(device)
}

/// Whether a device runs the fused kernels (`flex` and `ndarray`, with or without autodiff).
pub fn fused_on(device: &Device) -> bool {
    #[cfg(any(feature = "flex", feature = "ndarray"))]
    {
        kernels::available(device)
    }
    #[cfg(not(any(feature = "flex", feature = "ndarray")))]
    {
        let _ = device;
        false
    }
}
