//! The integration tests that run in f64: burn's `flex` device has one float type per process,
//! configured before the first tensor exists (`support::device`), so they have their own binary.
//! Everything else is in `tests/it/`.

mod support;

mod dist;
mod dist_beta;
mod dist_continuous;
mod dist_discrete;
mod dist_gamma;
mod dist_lkj;
mod dist_multivariate;
mod dist_sites;
mod dist_student_t;
mod dist_wrappers;
mod elbo;
mod laplace;
mod laplace_dense;
mod ppl_checkpoint;
mod ppl_eight_schools;
mod ppl_elbo;
mod ppl_improper;
mod ppl_nuts;
mod ppl_potential;
mod ppl_predictive;
mod ppl_results;
mod ppl_runtime;
mod ppl_score;
mod ppl_svi;
mod ppl_tape;
mod priors;
