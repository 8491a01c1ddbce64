//! The training progress line on stderr: an `indicatif` bar with the feature `progress`, and
//! nothing without it (the same calls, so `train` has one code path).

/// A progress line over `len` steps; hidden when `show` is false, when stderr is not a
/// terminal, or when the feature `progress` is off.
pub(crate) struct Progress {
    #[cfg(feature = "progress")]
    bar: indicatif::ProgressBar,
}

impl Progress {
    /// A bar labelled `label`, already at `position` of `len` steps.
    #[cfg_attr(not(feature = "progress"), allow(unused_variables))]
    pub(crate) fn new(show: bool, label: &str, len: u64, position: u64) -> Self {
        #[cfg(feature = "progress")]
        {
            use indicatif::{ProgressBar, ProgressStyle};
            let bar = if show {
                let bar = ProgressBar::new(len);
                bar.set_style(
                    ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} steps {elapsed_precise} {msg}")
                        .expect("static template")
                        .progress_chars("=> "),
                );
                bar.set_prefix(label.to_string());
                bar.set_position(position);
                bar
            } else {
                ProgressBar::hidden()
            };
            Self { bar }
        }
        #[cfg(not(feature = "progress"))]
        Self {}
    }

    /// One step done.
    pub(crate) fn inc(&self) {
        #[cfg(feature = "progress")]
        self.bar.inc(1);
    }

    /// Runs `f` (which prints) with the bar cleared, so the output is not drawn over.
    pub(crate) fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        #[cfg(feature = "progress")]
        return self.bar.suspend(f);
        #[cfg(not(feature = "progress"))]
        f()
    }

    /// The text after the bar.
    #[cfg_attr(not(feature = "progress"), allow(unused_variables))]
    pub(crate) fn set_message(&self, message: String) {
        #[cfg(feature = "progress")]
        self.bar.set_message(message);
    }

    /// Removes the bar.
    pub(crate) fn finish(&self) {
        #[cfg(feature = "progress")]
        self.bar.finish_and_clear();
    }
}
