//! Training objectives: the ELBO, its KL schedules and likelihood terms.

mod adversarial;
mod elbo;
mod gaussian_nll_loss;
mod heteroscedastic;
mod kendall_gal;
mod nll;
mod schedule;

pub use adversarial::{fgsm, fgsm_epsilon};
pub use elbo::{Elbo, ElboConfig, ElboTerms};
pub use gaussian_nll_loss::{GaussianNllLoss, GaussianNllLossConfig};
pub use kendall_gal::{KendallGalForm, KendallGalLoss, KendallGalLossConfig};
pub use nll::gaussian_nll;
pub use schedule::KlSchedule;
