//! `#[model]`: threads a trace context through a function and rewrites its `sample!`,
//! `observe!`, `factor!`, `param!`, `plate!`, `call!`, `random_module!` and `deterministic!`
//! invocations into calls on that context.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{Expr, FnArg, Ident, ItemFn, Macro, ReturnType, Stmt, Token};

/// The names the attribute rewrites.
const SITE_MACROS: [&str; 8] =
    ["sample", "observe", "factor", "param", "plate", "call", "random_module", "deterministic"];

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    if !attr.is_empty() {
        return Err(syn::Error::new(attr.span(), "#[model] takes no arguments: write `#[model]` alone"));
    }
    let mut f: ItemFn = syn::parse2(item)?;
    if let ReturnType::Default = f.sig.output {
        return Err(syn::Error::new(
            f.sig.ident.span(),
            "a #[model] function must return `bayesburn::Result<T>` (sites can fail, e.g. a duplicate \
             name); add `-> bayesburn::Result<()>` and end the body with `Ok(())`",
        ));
    }
    let ctx = Ident::new("__bayesburn_ctx", Span::mixed_site());
    let ctx_arg: FnArg = syn::parse_quote!(#ctx: &mut ::bayesburn::ppl::Ctx);
    let at = usize::from(matches!(f.sig.inputs.first(), Some(FnArg::Receiver(_))));
    f.sig.inputs.insert(at, ctx_arg);
    let mut rewriter = Rewriter { ctx, errors: Vec::new() };
    rewriter.visit_block_mut(&mut f.block);
    if let Some(mut first) = rewriter.errors.pop() {
        for e in rewriter.errors {
            first.combine(e);
        }
        return Err(first);
    }
    Ok(quote!(#f))
}

struct Rewriter {
    ctx: Ident,
    errors: Vec<syn::Error>,
}

fn site_macro(mac: &Macro) -> Option<String> {
    let segments = &mac.path.segments;
    let name = segments.last()?.ident.to_string();
    // `deterministic!` is the PPL site when written bare or as `ppl::deterministic!`; the
    // crate-root `bayesburn::deterministic!` (opt-outs of `#[derive(Bayesian)]`) is left alone.
    if name == "deterministic" && segments.len() >= 2 && segments[segments.len() - 2].ident != "ppl" {
        return None;
    }
    SITE_MACROS.contains(&name.as_str()).then_some(name)
}

impl Rewriter {
    fn args(&mut self, mac: &Macro) -> syn::Result<Vec<Expr>> {
        let parsed = Punctuated::<Expr, Token![,]>::parse_terminated.parse2(mac.tokens.clone())?;
        let mut args: Vec<Expr> = parsed.into_iter().collect();
        for a in &mut args {
            self.visit_expr_mut(a);
        }
        Ok(args)
    }

    fn rewrite(&mut self, kind: &str, mac: &Macro) -> syn::Result<Expr> {
        let ctx = self.ctx.clone();
        let span = mac.path.span();
        match kind {
            "sample" => match self.args(mac)?.as_slice() {
                [name, dist] => Ok(syn::parse_quote_spanned!(span=> #ctx.sample(#name, #dist)?)),
                _ => Err(syn::Error::new(span, "expected `sample!(\"name\", distribution)`")),
            },
            "observe" => match self.args(mac)?.as_slice() {
                [name, dist, value] => Ok(syn::parse_quote_spanned!(span=> #ctx.observe(#name, #dist, #value)?)),
                _ => Err(syn::Error::new(span, "expected `observe!(\"name\", distribution, value)`")),
            },
            "factor" => match self.args(mac)?.as_slice() {
                [name, value] => Ok(syn::parse_quote_spanned!(span=> #ctx.factor(#name, #value)?)),
                _ => Err(syn::Error::new(span, "expected `factor!(\"name\", log_density)`")),
            },
            "param" => match self.args(mac)?.as_slice() {
                [name, init] => Ok(syn::parse_quote_spanned!(span=>
                    #ctx.param(#name, || #init, ::bayesburn::distributions::Constraint::Real)?)),
                [name, init, constraint] => {
                    Ok(syn::parse_quote_spanned!(span=> #ctx.param(#name, || #init, #constraint)?))
                }
                _ => Err(syn::Error::new(
                    span,
                    "expected `param!(\"name\", init)` or `param!(\"name\", init, constraint)`",
                )),
            },
            "call" => match self.args(mac)?.as_slice() {
                [Expr::Call(call)] => {
                    let func = &call.func;
                    let args = call.args.iter();
                    Ok(syn::parse_quote_spanned!(span=> #func(#ctx, #(#args),*)?))
                }
                [Expr::MethodCall(call)] => {
                    let (receiver, method) = (&call.receiver, &call.method);
                    let turbofish = &call.turbofish;
                    let args = call.args.iter();
                    Ok(syn::parse_quote_spanned!(span=> #receiver.#method #turbofish(#ctx, #(#args),*)?))
                }
                _ => Err(syn::Error::new(
                    span,
                    "expected `call!(other_model(args..))`, a call of another #[model] function",
                )),
            },
            "deterministic" => match self.args(mac)?.as_slice() {
                [name, value] => Ok(syn::parse_quote_spanned!(span=> #ctx.deterministic(#name, #value)?)),
                _ => Err(syn::Error::new(span, "expected `deterministic!(\"name\", value)`")),
            },
            "random_module" => match self.args(mac)?.as_slice() {
                [name, module, prior] => {
                    Ok(syn::parse_quote_spanned!(span=> #ctx.random_module(#name, #module, #prior)?))
                }
                _ => Err(syn::Error::new(span, "expected `random_module!(\"name\", module, prior)`")),
            },
            _ => self.plate(mac),
        }
    }

    fn plate(&mut self, mac: &Macro) -> syn::Result<Expr> {
        let span = mac.path.span();
        let parser = |input: ParseStream| -> syn::Result<(Expr, Expr, Option<Expr>, Expr)> {
            let name: Expr = input.parse()?;
            input.parse::<Token![,]>()?;
            let size: Expr = input.parse()?;
            input.parse::<Token![,]>()?;
            let mut subsample = None;
            if input.peek(Ident) && input.peek2(Token![=]) {
                let key: Ident = input.parse()?;
                if key != "subsample" {
                    return Err(syn::Error::new(key.span(), "the only plate option is `subsample = batch_size`"));
                }
                input.parse::<Token![=]>()?;
                subsample = Some(input.parse()?);
                input.parse::<Token![,]>()?;
            }
            let body: Expr = input.parse()?;
            let _ = input.parse::<Option<Token![,]>>()?;
            Ok((name, size, subsample, body))
        };
        let (mut name, mut size, subsample, body) = parser.parse2(mac.tokens.clone()).map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("{e}; expected `plate!(\"name\", size, |p| {{ ... }})` or `plate!(\"name\", size, subsample = b, |p| {{ ... }})`"),
            )
        })?;
        self.visit_expr_mut(&mut name);
        self.visit_expr_mut(&mut size);
        let subsample = match subsample {
            Some(mut b) => {
                self.visit_expr_mut(&mut b);
                quote!(::core::option::Option::Some(#b))
            }
            None => quote!(::core::option::Option::None),
        };
        let (pat, mut body) =
            match body {
                Expr::Closure(c) if c.inputs.len() == 1 => (c.inputs[0].clone(), *c.body),
                Expr::Block(b) => (syn::parse_quote!(_), Expr::Block(b)),
                other => return Err(syn::Error::new(
                    other.span(),
                    "the plate body must be a block `{ ... }` or a one-argument closure `|p| { ... }` (p: the Plate)",
                )),
            };
        self.visit_expr_mut(&mut body);
        let ctx = &self.ctx;
        let plate = Ident::new("__bayesburn_plate", Span::mixed_site());
        let out = Ident::new("__bayesburn_out", Span::mixed_site());
        Ok(syn::parse_quote_spanned!(span=> {
            let #plate = #ctx.enter_plate(#name, #size, #subsample)?;
            #[allow(unused_variables)]
            let #pat = #plate;
            let #out = #body;
            #ctx.exit_plate();
            #out
        }))
    }
}

impl VisitMut for Rewriter {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        if let Expr::Macro(m) = expr {
            if let Some(kind) = site_macro(&m.mac) {
                match self.rewrite(&kind, &m.mac) {
                    Ok(new) => *expr = new,
                    Err(e) => self.errors.push(e),
                }
                return;
            }
        }
        visit_mut::visit_expr_mut(self, expr);
    }

    fn visit_stmt_mut(&mut self, stmt: &mut Stmt) {
        if let Stmt::Macro(m) = stmt {
            if let Some(kind) = site_macro(&m.mac) {
                match self.rewrite(&kind, &m.mac) {
                    Ok(new) => *stmt = Stmt::Expr(new, m.semi_token),
                    Err(e) => self.errors.push(e),
                }
                return;
            }
        }
        visit_mut::visit_stmt_mut(self, stmt);
    }

    // Nested functions and items are not part of this model's run.
    fn visit_item_mut(&mut self, _item: &mut syn::Item) {}
}
