//! Expansion of `#[derive(ToBayesian)]`: the Bayesian twin of a deterministic network.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, Meta};

use crate::bayesian::is_module_skip;

/// Generates the twin struct (same fields, each of type `<T as ToBayesian>::Bayesian`, deriving
/// burn's `Module` and `Bayesian`) and `impl ::bayesburn::convert::ToBayesian` for the input.
/// Fields burn skips (`#[module(skip)]`) are copied into the twin as they are.
pub fn expand(input: DeriveInput) -> syn::Result<TokenStream> {
    let name = &input.ident;
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "`#[derive(ToBayesian)]` does not support generic structs; write the twin and \
             `impl bayesburn::convert::ToBayesian` by hand",
        ));
    }
    let fields = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(named) => named.named.iter().collect::<Vec<_>>(),
            _ => {
                return Err(syn::Error::new_spanned(
                    name,
                    "`#[derive(ToBayesian)]` needs a struct with named fields (the twin names them)",
                ))
            }
        },
        _ => {
            return Err(syn::Error::new_spanned(
                name,
                "`#[derive(ToBayesian)]` works on structs only: an enum or a union has no layer-by-layer twin",
            ))
        }
    };
    let twin = twin_name(&input)?;
    let vis = &input.vis;
    let doc = format!(
        "The Bayesian twin of [`{name}`], written by `#[derive(ToBayesian)]`: the same fields, \
         each converted by `bayesburn::convert::ToBayesian` (burn's `Linear` and `Conv2d` become \
         `BayesLinear` and `BayesConv2d`)."
    );
    let twin_fields = fields.iter().map(|f| {
        let (ident, ty, fvis) = (f.ident.as_ref().expect("named field"), &f.ty, &f.vis);
        if is_module_skip(f) {
            quote! { #[module(skip)] #fvis #ident: #ty }
        } else {
            quote_spanned! {ty.span()=> #fvis #ident: <#ty as ::bayesburn::convert::ToBayesian>::Bayesian }
        }
    });
    let conversions = fields.iter().map(|f| {
        let (ident, ty) = (f.ident.as_ref().expect("named field"), &f.ty);
        if is_module_skip(f) {
            quote! { #ident: ::core::clone::Clone::clone(&self.#ident) }
        } else {
            quote_spanned! {ty.span()=>
                #ident: <#ty as ::bayesburn::convert::ToBayesian>::to_bayesian(&self.#ident, config)?
            }
        }
    });
    Ok(quote! {
        #[doc = #doc]
        #[derive(::bayesburn::burn::module::Module, ::bayesburn::Bayesian, Debug)]
        #vis struct #twin {
            #(#twin_fields,)*
        }

        impl ::bayesburn::convert::ToBayesian for #name {
            type Bayesian = #twin;

            fn to_bayesian(
                &self,
                config: &::bayesburn::convert::MopedConfig,
            ) -> ::bayesburn::Result<#twin> {
                ::core::result::Result::Ok(#twin { #(#conversions,)* })
            }
        }
    })
}

/// `#[to_bayesian(twin = Name)]`, else `Bayes{Struct}`.
fn twin_name(input: &DeriveInput) -> syn::Result<Ident> {
    let mut twin = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("to_bayesian")) {
        let Meta::List(list) = &attr.meta else {
            return Err(syn::Error::new_spanned(attr, "write `#[to_bayesian(twin = TwinName)]`"));
        };
        list.parse_nested_meta(|meta| {
            if meta.path.is_ident("twin") {
                twin = Some(meta.value()?.parse::<Ident>()?);
                Ok(())
            } else {
                Err(meta.error("unknown argument to `#[to_bayesian]`; accepted: `twin = TwinName`"))
            }
        })?;
    }
    Ok(twin.unwrap_or_else(|| format_ident!("Bayes{}", input.ident)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pretty(tokens: TokenStream) -> String {
        prettyplease::unparse(&syn::parse2(tokens).expect("the expansion parses as a file"))
    }

    fn error(input: DeriveInput) -> String {
        expand(input).expect_err("the input is rejected").to_string()
    }

    #[test]
    fn expansion_writes_the_twin_and_the_conversion() {
        let input: DeriveInput = syn::parse_quote! {
            pub struct Mlp {
                pub hidden: Vec<Linear>,
                activation: Relu,
                #[module(skip)]
                label: String,
            }
        };
        insta::assert_snapshot!(pretty(expand(input).unwrap()));
    }

    #[test]
    fn the_twin_is_named_by_the_attribute_or_bayes_and_the_name() {
        let named: DeriveInput = syn::parse_quote! {
            #[to_bayesian(twin = Twin)]
            struct Net { a: Linear }
        };
        assert!(pretty(expand(named).unwrap()).contains("struct Twin {"));
        let default: DeriveInput = syn::parse_quote!(
            struct Net {
                a: Linear,
            }
        );
        assert!(pretty(expand(default).unwrap()).contains("struct BayesNet {"));
    }

    #[test]
    fn rejects_what_it_cannot_derive() {
        let cases: [(DeriveInput, &str); 5] = [
            (
                syn::parse_quote!(
                    enum Net {
                        A,
                    }
                ),
                "works on structs only",
            ),
            (
                syn::parse_quote!(
                    struct Net(Linear);
                ),
                "needs a struct with named fields",
            ),
            (
                syn::parse_quote!(
                    struct Net<M> {
                        a: M,
                    }
                ),
                "does not support generic structs",
            ),
            (
                syn::parse_quote!(
                    #[to_bayesian(name = X)]
                    struct Net {
                        a: Linear,
                    }
                ),
                "accepted: `twin = TwinName`",
            ),
            (
                syn::parse_quote!(
                    #[to_bayesian]
                    struct Net {
                        a: Linear,
                    }
                ),
                "write `#[to_bayesian(twin = TwinName)]`",
            ),
        ];
        for (input, want) in cases {
            let got = error(input);
            assert!(got.contains(want), "{got}");
        }
    }
}
