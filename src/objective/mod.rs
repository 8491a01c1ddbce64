//! Training objectives: the ELBO, its KL schedules and likelihood terms.

mod elbo;
mod nll;
mod schedule;

pub use elbo::{Elbo, ElboConfig, ElboTerms};
pub use nll::gaussian_nll;
pub use schedule::KlSchedule;
