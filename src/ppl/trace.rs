//! [`Trace`]: the record of one run of a model, site by site.

use std::sync::Arc;

use burn::prelude::*;

use super::value::{Value, Values};
use crate::distributions::Constraint;
use crate::distributions::SiteDist;

/// What kind of statement made a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteKind {
    /// `sample!` or `observe!`: a random variable with a distribution.
    Sample,
    /// `param!`: a learnable point value.
    Param,
    /// `deterministic!`: a named function of other sites (NumPyro's `deterministic`), recorded
    /// so that inference results and predictive draws report it; no log-density.
    Deterministic,
}

/// A plate a site was inside: `size` conditionally independent elements of which `batch`
/// were drawn, so that the site's log-likelihood is scaled by `size / batch`.
#[derive(Debug, Clone, PartialEq)]
pub struct PlateFrame {
    /// The plate's name.
    pub name: String,
    /// Number of elements of the full plate (e.g. the dataset size `N`).
    pub size: usize,
    /// Number of elements in this run (`= size` without subsampling).
    pub batch: usize,
    /// The indices of this run's elements in `0..size` (sorted).
    pub indices: Arc<Vec<usize>>,
}

impl PlateFrame {
    /// `size / batch`, the factor this plate puts on the log-likelihood of its sites.
    pub fn scale(&self) -> f64 {
        self.size as f64 / self.batch as f64
    }
}

/// One site of a [`Trace`].
#[derive(Debug, Clone)]
pub struct Site {
    /// Unique name within the run.
    pub name: String,
    /// `Sample`, `Param` or `Deterministic`.
    pub kind: SiteKind,
    /// The value (for a sample site: drawn, substituted or observed; for a param site: the
    /// constrained parameter).
    pub value: Value,
    /// Whether the value is data (`observe!`, or a `sample!` site under [`condition`](super::condition)).
    pub is_observed: bool,
    /// Elementwise log-density of the value (flat), **unscaled**; `None` for a param site.
    pub log_prob: Option<Tensor<1>>,
    /// The distribution (`None` for a param site).
    pub dist: Option<Arc<dyn SiteDist>>,
    /// Product of the plate factors `size / batch` and any [`scale`](super::scale) handlers.
    pub scale: f64,
    /// The plates the site was inside, outermost first.
    pub plates: Vec<PlateFrame>,
    /// The support (sample sites) or the constraint (param sites).
    pub constraint: Constraint,
}

impl Site {
    /// `scale * sum(log_prob)`, shape `[1]`; `None` for a param site.
    pub fn scaled_log_prob_sum(&self) -> Option<Tensor<1>> {
        self.log_prob.as_ref().map(|lp| {
            let s = lp.clone().sum();
            if self.scale == 1.0 {
                s
            } else {
                s.mul_scalar(self.scale)
            }
        })
    }

    /// Whether this is a latent (unobserved) sample site.
    pub fn is_latent(&self) -> bool {
        self.kind == SiteKind::Sample && !self.is_observed
    }
}

/// The sites of one run of a model, in execution order.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    sites: Vec<Site>,
}

impl Trace {
    pub(crate) fn push(&mut self, site: Site) {
        self.sites.push(site);
    }

    /// All sites in execution order.
    pub fn sites(&self) -> &[Site] {
        &self.sites
    }

    /// The site called `name`.
    pub fn get(&self, name: &str) -> Option<&Site> {
        self.sites.iter().find(|s| s.name == name)
    }

    /// The latent (unobserved) sample sites, in execution order.
    pub fn latent_sites(&self) -> impl Iterator<Item = &Site> {
        self.sites.iter().filter(|s| s.is_latent())
    }

    /// The observed sample sites, in execution order.
    pub fn observed_sites(&self) -> impl Iterator<Item = &Site> {
        self.sites.iter().filter(|s| s.kind == SiteKind::Sample && s.is_observed)
    }

    /// Number of sites.
    pub fn len(&self) -> usize {
        self.sites.len()
    }

    /// Whether the trace has no site.
    pub fn is_empty(&self) -> bool {
        self.sites.is_empty()
    }

    /// The names of all sites, in execution order.
    pub fn names(&self) -> Vec<&str> {
        self.sites.iter().map(|s| s.name.as_str()).collect()
    }

    /// The joint log-density of the run, `sum_sites scale * sum(log_prob)` over every sample
    /// site (latent and observed), shape `[1]`; `None` if the trace has no sample site.
    pub fn log_density(&self) -> Option<Tensor<1>> {
        sum_terms(self.sites.iter().filter_map(Site::scaled_log_prob_sum))
    }

    /// The values of the latent sample sites.
    pub fn latent_values(&self) -> Values {
        self.latent_sites().map(|s| (s.name.clone(), s.value.clone())).collect()
    }

    /// The deterministic sites, in execution order.
    pub fn deterministic_sites(&self) -> impl Iterator<Item = &Site> {
        self.sites.iter().filter(|s| s.kind == SiteKind::Deterministic)
    }

    /// The values of every sample site (latent and observed), param site and deterministic site.
    pub fn values(&self) -> Values {
        self.sites.iter().map(|s| (s.name.clone(), s.value.clone())).collect()
    }
}

/// The sum of `[1]`-shaped terms, `None` for none.
pub(crate) fn sum_terms(terms: impl Iterator<Item = Tensor<1>>) -> Option<Tensor<1>> {
    terms.reduce(|a, b| a + b)
}
