//! Training objectives: the ELBO, its KL schedules and likelihood terms.

mod adversarial;
mod elbo;
mod heteroscedastic;
mod nll;
mod schedule;

pub use adversarial::{fgsm, fgsm_epsilon};
pub use elbo::{Elbo, ElboConfig, ElboTerms};
pub use heteroscedastic::*;
pub use nll::gaussian_nll;
pub use schedule::KlSchedule;
