//! `sample!`, `observe!`, `factor!`, `param!`, `plate!`, `call!`, `random_module!` and
//! `ppl::deterministic!` outside a `#[model]` function.
//!
//! Inside a `#[model]` function the attribute rewrites these invocations into calls on the
//! function's trace context before they are expanded, so the definitions below only ever
//! expand where there is no context: they turn the mistake into a compile error that says so.

/// A random variable: `sample!("name", dist)` draws from `dist` (or takes the value a handler
/// supplies) and returns it. Only inside a `#[model]` function.
#[macro_export]
macro_rules! sample {
    ($($t:tt)*) => {
        ::core::compile_error!(
            "`sample!` can only be used directly inside a `#[model]` function (not outside one, and not inside \
             another macro's arguments); put `#[bayesburn::ppl::model]` on the enclosing function"
        )
    };
}

/// Data: `observe!("name", dist, value)` scores `value` under `dist`. Only inside a `#[model]`
/// function.
#[macro_export]
macro_rules! observe {
    ($($t:tt)*) => {
        ::core::compile_error!(
            "`observe!` can only be used directly inside a `#[model]` function (not outside one, and not inside \
             another macro's arguments); put `#[bayesburn::ppl::model]` on the enclosing function"
        )
    };
}

/// A term of the log density: `factor!("name", log_density)` adds `sum(log_density)` to the
/// model's log joint (Stan's `target +=`, NumPyro's `numpyro.factor`). Only inside a
/// `#[model]` function.
#[macro_export]
macro_rules! factor {
    ($($t:tt)*) => {
        ::core::compile_error!(
            "`factor!` can only be used directly inside a `#[model]` function (not outside one, and not inside \
             another macro's arguments); put `#[bayesburn::ppl::model]` on the enclosing function"
        )
    };
}

/// A learnable value: `param!("name", init)` or `param!("name", init, Constraint::Positive)`.
/// Only inside a `#[model]` function.
#[macro_export]
macro_rules! param {
    ($($t:tt)*) => {
        ::core::compile_error!(
            "`param!` can only be used directly inside a `#[model]` function (not outside one, and not inside \
             another macro's arguments); put `#[bayesburn::ppl::model]` on the enclosing function"
        )
    };
}

/// Conditional independence: `plate!("name", size, |p| { ... })` or
/// `plate!("name", size, subsample = b, |p| { ... })`. Only inside a `#[model]` function.
#[macro_export]
macro_rules! plate {
    ($($t:tt)*) => {
        ::core::compile_error!(
            "`plate!` can only be used directly inside a `#[model]` function (not outside one, and not inside \
             another macro's arguments); put `#[bayesburn::ppl::model]` on the enclosing function"
        )
    };
}

/// Calls another `#[model]` function with the same trace context: `call!(sub(a, b))`. Only
/// inside a `#[model]` function.
#[macro_export]
macro_rules! call {
    ($($t:tt)*) => {
        ::core::compile_error!(
            "`call!` can only be used directly inside a `#[model]` function (not outside one, and not inside \
             another macro's arguments); put `#[bayesburn::ppl::model]` on the enclosing function"
        )
    };
}

/// Priors on a burn module's parameters: `random_module!("net", module, prior)` returns the
/// module with each parameter a `sample!` site. Only inside a `#[model]` function.
#[macro_export]
macro_rules! random_module {
    ($($t:tt)*) => {
        ::core::compile_error!(
            "`random_module!` can only be used directly inside a `#[model]` function (not outside one, and not \
             inside another macro's arguments); put `#[bayesburn::ppl::model]` on the enclosing function"
        )
    };
}

/// A recorded function of other sites (NumPyro's `deterministic`):
/// `deterministic!("name", value)` records `value` in the trace under `name` and returns it, so
/// that [`McmcSamples`](crate::infer::McmcSamples) and [`Predictive`](crate::infer::Predictive)
/// report it beside the latent sites. Only inside a `#[model]` function, where it is written
/// `deterministic!` or `ppl::deterministic!`; `bayesburn::deterministic!` (the crate root) is
/// another macro, the opt-out of `#[derive(Bayesian)]` for modules without random weights.
#[doc(hidden)]
#[macro_export]
macro_rules! __ppl_deterministic {
    ($($t:tt)*) => {
        ::core::compile_error!(
            "`ppl::deterministic!` can only be used directly inside a `#[model]` function (not outside one, and \
             not inside another macro's arguments); put `#[bayesburn::ppl::model]` on the enclosing function"
        )
    };
}
