//! [`Bayesian`] for the containers burn's `Module` supports: `Vec`, `Option`, arrays and tuples.
//! Elements are named by index (`blocks.0`, `blocks.1`); a `None` adds nothing.

use burn::prelude::*;

use super::{add_kl, join_path, Bayesian, LayerStats, Mode};
use crate::checkpoint::{LayerState, LayerStates};
use crate::error::Result;

impl<T: Bayesian> Bayesian for Vec<T> {
    fn kl(&self) -> Option<Tensor<1>> {
        self.iter().fold(None, |acc, m| add_kl(acc, m.kl()))
    }

    fn with_mode(self, mode: Mode) -> Self {
        self.into_iter().map(|m| m.with_mode(mode)).collect()
    }

    fn collect_posterior_stats(&self, prefix: &str, out: &mut Vec<LayerStats>) {
        for (i, m) in self.iter().enumerate() {
            m.collect_posterior_stats(&join_path(prefix, &i.to_string()), out);
        }
    }

    fn collect_layer_states(&self, prefix: &str, out: &mut Vec<LayerState>) {
        for (i, m) in self.iter().enumerate() {
            m.collect_layer_states(&join_path(prefix, &i.to_string()), out);
        }
    }

    fn restore_layer_states(self, prefix: &str, states: &mut LayerStates) -> Result<Self> {
        self.into_iter()
            .enumerate()
            .map(|(i, m)| m.restore_layer_states(&join_path(prefix, &i.to_string()), states))
            .collect()
    }
}

impl<T: Bayesian> Bayesian for Option<T> {
    fn kl(&self) -> Option<Tensor<1>> {
        self.as_ref().and_then(|m| m.kl())
    }

    fn with_mode(self, mode: Mode) -> Self {
        self.map(|m| m.with_mode(mode))
    }

    fn collect_posterior_stats(&self, prefix: &str, out: &mut Vec<LayerStats>) {
        if let Some(m) = self {
            m.collect_posterior_stats(prefix, out);
        }
    }

    fn collect_layer_states(&self, prefix: &str, out: &mut Vec<LayerState>) {
        if let Some(m) = self {
            m.collect_layer_states(prefix, out);
        }
    }

    fn restore_layer_states(self, prefix: &str, states: &mut LayerStates) -> Result<Self> {
        self.map(|m| m.restore_layer_states(prefix, states)).transpose()
    }
}

impl<T: Bayesian, const N: usize> Bayesian for [T; N] {
    fn kl(&self) -> Option<Tensor<1>> {
        self.iter().fold(None, |acc, m| add_kl(acc, m.kl()))
    }

    fn with_mode(self, mode: Mode) -> Self {
        self.map(|m| m.with_mode(mode))
    }

    fn collect_posterior_stats(&self, prefix: &str, out: &mut Vec<LayerStats>) {
        for (i, m) in self.iter().enumerate() {
            m.collect_posterior_stats(&join_path(prefix, &i.to_string()), out);
        }
    }

    fn collect_layer_states(&self, prefix: &str, out: &mut Vec<LayerState>) {
        for (i, m) in self.iter().enumerate() {
            m.collect_layer_states(&join_path(prefix, &i.to_string()), out);
        }
    }

    fn restore_layer_states(self, prefix: &str, states: &mut LayerStates) -> Result<Self> {
        let restored: Vec<T> = Vec::from(self).restore_layer_states(prefix, states)?;
        // The vector has N elements: it was made from an array of N and restored one for one.
        Ok(restored.try_into().unwrap_or_else(|_| unreachable!("restoring keeps the length")))
    }
}

/// Tuples as burn's `Module` has them (two to ten elements), elements named by position.
macro_rules! bayesian_tuple {
    ($($name:ident $index:tt),+) => {
        impl<$($name: Bayesian),+> Bayesian for ($($name,)+) {
            fn kl(&self) -> Option<Tensor<1>> {
                let kl = None;
                $(let kl = add_kl(kl, self.$index.kl());)+
                kl
            }

            fn with_mode(self, mode: Mode) -> Self {
                ($(self.$index.with_mode(mode),)+)
            }

            fn collect_posterior_stats(&self, prefix: &str, out: &mut Vec<LayerStats>) {
                $(self.$index.collect_posterior_stats(&join_path(prefix, stringify!($index)), out);)+
            }

            fn collect_layer_states(&self, prefix: &str, out: &mut Vec<LayerState>) {
                $(self.$index.collect_layer_states(&join_path(prefix, stringify!($index)), out);)+
            }

            fn restore_layer_states(self, prefix: &str, states: &mut LayerStates) -> Result<Self> {
                Ok(($(self.$index.restore_layer_states(&join_path(prefix, stringify!($index)), states)?,)+))
            }
        }
    };
}

bayesian_tuple!(L0 0, L1 1);
bayesian_tuple!(L0 0, L1 1, L2 2);
bayesian_tuple!(L0 0, L1 1, L2 2, L3 3);
bayesian_tuple!(L0 0, L1 1, L2 2, L3 3, L4 4);
bayesian_tuple!(L0 0, L1 1, L2 2, L3 3, L4 4, L5 5);
bayesian_tuple!(L0 0, L1 1, L2 2, L3 3, L4 4, L5 5, L6 6);
bayesian_tuple!(L0 0, L1 1, L2 2, L3 3, L4 4, L5 5, L6 6, L7 7);
bayesian_tuple!(L0 0, L1 1, L2 2, L3 3, L4 4, L5 5, L6 6, L7 7, L8 8);
bayesian_tuple!(L0 0, L1 1, L2 2, L3 3, L4 4, L5 5, L6 6, L7 7, L8 8, L9 9);
