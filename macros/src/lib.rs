//! Macros for [bayesburn](https://docs.rs/bayesburn); use them through the `bayesburn` crate
//! (`use bayesburn::prelude::*;`), which re-exports them.
#![warn(missing_docs)]

use proc_macro::TokenStream;

mod bayesian;
mod model;
mod to_bayesian;

/// Derives `bayesburn::Bayesian` for a network built from Bayesian modules.
///
/// Put it next to burn's `#[derive(Module)]` on a struct with named fields. Every field takes
/// part, as every field of burn's `Module` derive does: its KL term is added, `with_mode`
/// switches it, its posterior statistics and checkpoint state are reported under its name.
/// burn's deterministic modules and primitives (`Linear`, `Relu`, `Param<Tensor<D>>`, `usize`,
/// ...) implement `Bayesian` with no KL and a `with_mode` that does nothing, so they need no
/// attribute:
///
/// ```ignore
/// use bayesburn::layers::BayesLinear;
/// use bayesburn::prelude::*;
/// use burn::prelude::*;
///
/// #[derive(Module, Bayesian, Debug)]
/// pub struct Regressor {
///     hidden: BayesLinear,
///     out: BayesLinear,
///     activation: burn::nn::Relu,
///     /// Left out on purpose: no KL term, and `with_mode` leaves it as it is.
///     #[bayesian(skip)]
///     frozen: BayesLinear,
/// }
///
/// // Generated:
/// // - `kl()`: the sum of the fields' KL terms (`None` if none of them has one);
/// // - `with_mode(mode)`: the struct with every field switched to `mode`, the skipped fields
/// //   moved unchanged;
/// // - `collect_posterior_stats(prefix, out)` and so `posterior_stats()`: one entry per
/// //   variational layer, named by its path (`hidden`, `out`, `blocks.0`, ...).
///
/// fn report(model: Regressor) {
///     let kl = model.kl().expect("BayesLinear has a KL term");
///     for layer in model.posterior_stats() {
///         println!("{}: {} weights, mean SNR {:.2}", layer.name, layer.n_weights, layer.mean_snr);
///     }
///     let deterministic = model.with_mode(Mode::Mean);
/// }
/// ```
///
/// # Fields
///
/// - A field's type must implement `Bayesian`: a bayesburn layer (`BayesLinear`,
///   `BayesConv2d`, `McDropout`, the heads), one of burn's modules or primitives, a struct that
///   derives `Bayesian`, or a `Vec`, `Option`, array or tuple of those. Elements are named by
///   index (`blocks.0`, `blocks.1`); a `None` contributes no KL and no statistics.
/// - For a deterministic module of your own, write `bayesburn::deterministic!(MyModule);`, or
///   mark the field `#[bayesian(skip)]`.
/// - `#[bayesian(skip)]` leaves a field out of all four: this is how a variational layer is
///   frozen out of the ELBO on purpose. It is the attribute's only form.
/// - A field burn keeps out of the module with `#[module(skip)]` (a constant of any type) is
///   left out here too.
///
/// Generic structs work; a where-clause `FieldType: Bayesian` is added for each field taking
/// part whose type mentions a generic parameter.
///
/// # Compile errors
///
/// Each error points at the offending code and says what to do: the derive on an enum, a union,
/// a tuple or unit struct; a struct whose every field is skipped; `#[bayesian]` without `skip`
/// or with another argument; a field whose type does not implement `Bayesian` (the error names
/// the field's type and the two fixes: `#[bayesian(skip)]`, or an implementation).
///
/// The generated code names `::bayesburn` (and burn as `::bayesburn::burn`), so the crate must
/// depend on `bayesburn` under that name.
#[proc_macro_derive(Bayesian, attributes(bayesian))]
pub fn derive_bayesian(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    bayesian::expand(input).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// Derives `bayesburn::convert::ToBayesian` for a deterministic network and writes its
/// Bayesian twin (bayesian-torch's `dnn_to_bnn`, layer by layer).
///
/// On a struct with named fields whose types implement `ToBayesian` (burn's `Linear`, `Conv2d`,
/// activations, dropout, pooling and normalisation layers, `Vec`/`Option`/arrays of them, or
/// structs that derive it), it generates:
///
/// - the twin struct, `Bayes{Name}` or the name given by `#[to_bayesian(twin = TwinName)]`,
///   with the same visibility and fields, each of type `<T as ToBayesian>::Bayesian`, deriving
///   burn's `Module`, `Bayesian` and `Debug` (fields marked `#[module(skip)]` keep their type and
///   are cloned);
/// - `impl ToBayesian for Name` with `type Bayesian = TwinName`, converting field by field with
///   the one `MopedConfig`.
///
/// The twin's forward pass is yours to write: bayesburn's layers take the Monte-Carlo sample axis
/// first (`[S, N, ...]`). Generic structs are not supported (a compile error says so).
///
/// ```ignore
/// #[derive(Module, ToBayesian, Debug)]
/// #[to_bayesian(twin = BayesMlp)]
/// pub struct Mlp {
///     hidden: burn::nn::Linear,
///     activation: burn::nn::Relu,
///     out: burn::nn::Linear,
/// }
/// // let bnn: BayesMlp = mlp.to_bayesian(&MopedConfig::new())?;
/// ```
#[proc_macro_derive(ToBayesian, attributes(to_bayesian))]
pub fn derive_to_bayesian(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    to_bayesian::expand(input).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// Turns a function into a probabilistic program (a model or a hand-written guide).
///
/// The function gets a hidden first parameter, the trace context
/// `&mut bayesburn::ppl::Ctx` (after `self` for a method), and these statements in its body
/// become calls on it; everything else is ordinary Rust over burn tensors:
///
/// | statement | meaning |
/// | --- | --- |
/// | `sample!("name", dist)` | a random variable; returns its value (a `Tensor<D>`) |
/// | `observe!("name", dist, value)` | data `value` scored under `dist`; returns `value` |
/// | `factor!("name", log_density)` | adds `sum(log_density)` to the log joint (Stan's `target +=`); returns `()` |
/// | `param!("name", init)` / `param!("name", init, constraint)` | a learnable value (`init` is evaluated only on the first run) |
/// | `plate!("name", size, \|p\| { .. })` / `plate!("name", size, subsample = b, \|p\| { .. })` / `plate!("name", size, { .. })` | conditionally independent elements; `p: Plate` gives the (sub)sample indices and `p.subsample(x, dim)`; log-densities inside are scaled by `size / b` |
/// | `call!(other(args..))` | runs another `#[model]` function in the same context |
///
/// ```ignore
/// use bayesburn::distributions::Normal;
/// use bayesburn::prelude::*;
/// use burn::prelude::*;
///
/// #[model]
/// fn regression(x: Tensor<2>, y: Tensor<1>) -> bayesburn::Result<()> {
///     let d = x.dims()[1];
///     let w: Tensor<1> = sample!("w", Normal::new(Tensor::zeros([d], &x.device()), Tensor::ones([d], &x.device()))?);
///     let n = x.dims()[0];
///     plate!("data", n, subsample = 32, |p| {
///         let mean = p.subsample(x.clone(), 0).matmul(w.clone().unsqueeze_dim(1)).squeeze_dim(1);
///         observe!("y", Normal::new(mean.clone(), mean.ones_like())?, p.subsample(y.clone(), 0));
///     });
///     Ok(())
/// }
/// // run it: bayesburn::ppl::trace(&|ctx: &mut Ctx| regression(ctx, x.clone(), y.clone()))
/// ```
///
/// The function must return a `Result` whose error converts from `bayesburn::Error` (each
/// statement propagates its error with `?`). Site macros inside *other* macros' arguments
/// (`println!`, `vec!`) are not seen by the attribute and fail to compile with a message, as
/// they do outside a `#[model]` function. Do not `return` from inside a `plate!` body.
#[proc_macro_attribute]
pub fn model(attr: TokenStream, item: TokenStream) -> TokenStream {
    model::expand(attr.into(), item.into()).unwrap_or_else(syn::Error::into_compile_error).into()
}
