//! Expansion of `#[derive(Bayesian)]`.
//!
//! Works on `proc_macro2` tokens so it can be unit-tested outside a compiler invocation.

use proc_macro2::{TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Field, Fields, Generics, Meta, Type, WherePredicate};

/// The helper attribute that leaves a field out.
const ATTRIBUTE: &str = "bayesian";

/// What a `#[bayesian]` attribute accepts, quoted in error messages.
const ACCEPTED: &str = "accepted: `#[bayesian(skip)]`, which leaves a field out of the KL term, \
                        `with_mode`, the posterior statistics and the checkpoint state";

/// Generates `impl ::bayesburn::Bayesian` for a struct with named fields.
///
/// Every field takes part unless it is marked `#[bayesian(skip)]`: it contributes its KL, is
/// switched by `with_mode`, reports its posterior statistics and its checkpoint state under its
/// field name, and restores that state from a checkpoint. Skipped fields are moved unchanged.
/// A field type that does not implement `Bayesian` is a compile error at that field.
pub fn expand(input: DeriveInput) -> syn::Result<TokenStream> {
    reject_attribute_on(&input.attrs, "the struct itself")?;
    let fields = named_fields(&input)?;

    let mut errors: Option<syn::Error> = None;
    let mut push = |e: syn::Error| match &mut errors {
        Some(all) => all.combine(e),
        None => errors = Some(e),
    };
    let mut bayesian = Vec::new();
    for &field in &fields {
        match is_skipped(field) {
            Ok(false) => bayesian.push(field),
            Ok(true) => {}
            Err(e) => push(e),
        }
    }
    if let Some(e) = errors {
        return Err(e);
    }
    if bayesian.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.ident,
            format!(
                "`{}` has no field that takes part in `#[derive(Bayesian)]`; remove \
                 `#[bayesian(skip)]` from the fields that hold variational weights, or remove \
                 `#[derive(Bayesian)]`",
                input.ident
            ),
        ));
    }

    let name = &input.ident;
    let generics = with_bounds(&input.generics, &bayesian);
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    // Each call names the trait through the field's type, spanned at that type: a field type
    // that is not `Bayesian` then fails right there, with the trait's `on_unimplemented`
    // message, once (rustc merges the identical errors of the three methods).
    let kl_terms = bayesian.iter().map(|f| {
        let (ident, ty) = (f.ident.as_ref().expect("named field"), &f.ty);
        quote_spanned! {ty.span()=>
            let kl = ::bayesburn::bayesian::add_kl(kl, <#ty as ::bayesburn::Bayesian>::kl(&self.#ident));
        }
    });
    let moved = fields.iter().map(|f| {
        let ident = f.ident.as_ref().expect("named field");
        let ty = &f.ty;
        if bayesian.iter().any(|b| b.ident == f.ident) {
            quote_spanned! {ty.span()=>
                #ident: <#ty as ::bayesburn::Bayesian>::with_mode(self.#ident, mode)
            }
        } else {
            quote! { #ident: self.#ident }
        }
    });
    let stats = bayesian.iter().map(|f| {
        let (ident, ty) = (f.ident.as_ref().expect("named field"), &f.ty);
        let path = ident.unraw().to_string();
        quote_spanned! {ty.span()=>
            <#ty as ::bayesburn::Bayesian>::collect_posterior_stats(
                &self.#ident,
                &::bayesburn::bayesian::join_path(prefix, #path),
                out,
            );
        }
    });

    let layer_states = bayesian.iter().map(|f| {
        let (ident, ty) = (f.ident.as_ref().expect("named field"), &f.ty);
        let path = ident.unraw().to_string();
        quote_spanned! {ty.span()=>
            <#ty as ::bayesburn::Bayesian>::collect_layer_states(
                &self.#ident,
                &::bayesburn::bayesian::join_path(prefix, #path),
                out,
            );
        }
    });
    let restored = fields.iter().map(|f| {
        let ident = f.ident.as_ref().expect("named field");
        let ty = &f.ty;
        if bayesian.iter().any(|b| b.ident == f.ident) {
            let path = ident.unraw().to_string();
            quote_spanned! {ty.span()=>
                #ident: <#ty as ::bayesburn::Bayesian>::restore_layer_states(
                    self.#ident,
                    &::bayesburn::bayesian::join_path(prefix, #path),
                    states,
                )?
            }
        } else {
            quote! { #ident: self.#ident }
        }
    });

    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics ::bayesburn::Bayesian for #name #ty_generics #where_clause {
            fn kl(&self) -> ::core::option::Option<::bayesburn::burn::tensor::Tensor<1>> {
                let kl = ::core::option::Option::None;
                #(#kl_terms)*
                kl
            }

            fn with_mode(self, mode: ::bayesburn::Mode) -> Self {
                Self {
                    #(#moved,)*
                }
            }

            fn collect_posterior_stats(
                &self,
                prefix: &str,
                out: &mut ::std::vec::Vec<::bayesburn::LayerStats>,
            ) {
                #(#stats)*
            }

            fn collect_layer_states(
                &self,
                prefix: &str,
                out: &mut ::std::vec::Vec<::bayesburn::checkpoint::LayerState>,
            ) {
                #(#layer_states)*
            }

            fn restore_layer_states(
                self,
                prefix: &str,
                states: &mut ::bayesburn::checkpoint::LayerStates,
            ) -> ::bayesburn::Result<Self> {
                ::core::result::Result::Ok(Self {
                    #(#restored,)*
                })
            }
        }
    })
}

/// The named fields of a struct, or an error saying why the input is not one.
fn named_fields(input: &DeriveInput) -> syn::Result<Vec<&Field>> {
    let data = match &input.data {
        Data::Struct(data) => data,
        Data::Enum(e) => {
            return Err(syn::Error::new_spanned(
                e.enum_token,
                "`#[derive(Bayesian)]` does not support enums; derive Bayesian on a struct with named \
                 fields (to choose between layers at run time, use an `Option<Layer>` field per \
                 alternative)",
            ))
        }
        Data::Union(u) => {
            return Err(syn::Error::new_spanned(
                u.union_token,
                "`#[derive(Bayesian)]` does not support unions; derive Bayesian on a struct with named \
                 fields",
            ))
        }
    };
    match &data.fields {
        Fields::Named(named) => Ok(named.named.iter().collect()),
        Fields::Unnamed(unnamed) => Err(syn::Error::new_spanned(
            unnamed,
            "`#[derive(Bayesian)]` does not support tuple structs; use named fields \
             (`struct Net { hidden: BayesLinear, .. }`) so each layer's posterior \
             statistics can be reported under its field name",
        )),
        Fields::Unit => Err(syn::Error::new_spanned(
            &input.ident,
            "`#[derive(Bayesian)]` does not support unit structs; use a struct with named fields",
        )),
    }
}

/// Whether `field` is left out: marked `#[bayesian(skip)]` or burn's `#[module(skip)]`; an error
/// for any other `#[bayesian..]`.
fn is_skipped(field: &Field) -> syn::Result<bool> {
    let mut found: Option<&syn::Attribute> = None;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident(ATTRIBUTE)) {
        match &attr.meta {
            Meta::Path(path) => {
                return Err(syn::Error::new_spanned(
                    path,
                    "`#[bayesian]` is not needed: every field takes part unless it is marked \
                     `#[bayesian(skip)]`; remove the attribute",
                ))
            }
            Meta::List(list) if list.tokens.to_string() == "skip" => {}
            Meta::List(list) => {
                return Err(syn::Error::new_spanned(
                    &list.tokens,
                    format!("unknown argument `{}` to `#[bayesian]`; {ACCEPTED}", list.tokens),
                ))
            }
            Meta::NameValue(nv) => {
                return Err(syn::Error::new_spanned(nv, format!("`#[bayesian = ..]` is not supported; {ACCEPTED}")))
            }
        }
        if found.is_some() {
            return Err(syn::Error::new_spanned(attr, "duplicate `#[bayesian(skip)]` on this field; write it once"));
        }
        found = Some(attr);
    }
    Ok(found.is_some() || is_module_skip(field))
}

/// Whether `field` is marked `#[module(skip)]`: burn keeps such a field out of the module (no
/// parameters, any type), so it can hold no variational weights and is left out here too.
pub(crate) fn is_module_skip(field: &Field) -> bool {
    field.attrs.iter().any(|attr| {
        attr.path().is_ident("module")
            && matches!(&attr.meta, Meta::List(list) if list.tokens.clone().into_iter().any(
                |tt| matches!(tt, TokenTree::Ident(i) if i == "skip")
            ))
    })
}

/// Errors on a `#[bayesian]` placed anywhere but on a field.
fn reject_attribute_on(attrs: &[syn::Attribute], place: &str) -> syn::Result<()> {
    match attrs.iter().find(|a| a.path().is_ident(ATTRIBUTE)) {
        Some(attr) => Err(syn::Error::new_spanned(
            attr,
            format!(
                "`#[bayesian]` is not allowed on {place}; to leave a field out, put `#[bayesian(skip)]` on that field"
            ),
        )),
        None => Ok(()),
    }
}

/// The input's generics plus `FieldType: ::bayesburn::Bayesian` for every field taking part
/// whose type mentions a generic parameter. Concrete field types are checked where the methods
/// use them: as where-clause predicates they would be "trivial bounds", which stable Rust
/// rejects at the bound with a pointer to the unstable `trivial_bounds` feature (rust#48214).
fn with_bounds(generics: &Generics, bayesian: &[&Field]) -> Generics {
    let mut generics = generics.clone();
    let predicates: Vec<WherePredicate> = bayesian
        .iter()
        .filter(|f| mentions_generic(&f.ty, &generics))
        .map(|f| {
            let ty = &f.ty;
            syn::parse_quote_spanned! {ty.span()=> #ty: ::bayesburn::Bayesian }
        })
        .collect();
    generics.make_where_clause().predicates.extend(predicates);
    generics
}

/// Whether `ty` names one of the generic parameters (type, const or lifetime) of `generics`,
/// or `Self`: such a type can only be checked inside the impl.
fn mentions_generic(ty: &Type, generics: &Generics) -> bool {
    let mut types = vec!["Self".to_string()];
    let mut lifetimes = Vec::new();
    for param in &generics.params {
        match param {
            syn::GenericParam::Type(t) => types.push(t.ident.to_string()),
            syn::GenericParam::Const(c) => types.push(c.ident.to_string()),
            syn::GenericParam::Lifetime(l) => lifetimes.push(l.lifetime.ident.to_string()),
        }
    }
    fn walk(tokens: TokenStream, types: &[String], lifetimes: &[String]) -> bool {
        let mut after_quote = false;
        tokens.into_iter().any(|tt| {
            let found = match &tt {
                TokenTree::Ident(i) if after_quote => lifetimes.iter().any(|n| i == n),
                TokenTree::Ident(i) => types.iter().any(|n| i == n),
                TokenTree::Group(g) => walk(g.stream(), types, lifetimes),
                _ => false,
            };
            after_quote = matches!(&tt, TokenTree::Punct(p) if p.as_char() == '\'');
            found
        })
    }
    walk(ty.to_token_stream(), &types, &lifetimes)
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
    fn expansion_of_a_generic_struct() {
        let input: DeriveInput = syn::parse_quote! {
            pub struct Net<M: Module, const N: usize>
            where
                M: Clone,
            {
                head: BayesLinear,
                blocks: Vec<M>,
                r#skip: Option<McDropout>,
                activation: Relu,
                #[bayesian(skip)]
                frozen: Vec<M>,
                #[module(skip)]
                config: M,
            }
        };
        insta::assert_snapshot!(pretty(expand(input).unwrap()));
    }

    #[test]
    fn bounds_only_for_field_types_naming_a_parameter() {
        let generics: Generics = syn::parse_quote!(<'a, T, const N: usize>);
        let yes: [Type; 6] = [
            syn::parse_quote!(Option<Box<Self>>),
            syn::parse_quote!(T),
            syn::parse_quote!(Vec<Option<T>>),
            syn::parse_quote!([Layer; N]),
            syn::parse_quote!(&'a Layer),
            syn::parse_quote!(<T as Trait>::Layer),
        ];
        let no: [Type; 3] = [syn::parse_quote!(Layer), syn::parse_quote!(Vec<Tee>), syn::parse_quote!(a::Layer)];
        for ty in &yes {
            assert!(mentions_generic(ty, &generics), "{}", ty.to_token_stream());
        }
        for ty in &no {
            assert!(!mentions_generic(ty, &generics), "{}", ty.to_token_stream());
        }
    }

    #[test]
    fn rejects_what_it_cannot_derive() {
        let cases: [(DeriveInput, &str); 7] = [
            (
                syn::parse_quote!(
                    enum Net {
                        A,
                    }
                ),
                "struct with named fields",
            ),
            (syn::parse_quote!(union Net { a: u32 }), "struct with named fields"),
            (
                syn::parse_quote!(
                    struct Net(BayesLinear);
                ),
                "use named fields",
            ),
            (
                syn::parse_quote!(
                    struct Net;
                ),
                "named fields",
            ),
            (
                syn::parse_quote!(
                    struct Net {
                        #[bayesian(skip)]
                        a: Relu,
                    }
                ),
                "has no field that takes part",
            ),
            (
                syn::parse_quote!(
                    struct Net {
                        #[bayesian(foo)]
                        a: L,
                    }
                ),
                "unknown argument `foo`",
            ),
            (
                syn::parse_quote!(
                    #[bayesian]
                    struct Net {
                        a: L,
                    }
                ),
                "put `#[bayesian(skip)]` on that field",
            ),
        ];
        for (input, expected) in cases {
            let message = error(input);
            assert!(message.contains(expected), "{message:?} lacks {expected:?}");
        }
        let duplicate: DeriveInput = syn::parse_quote!(
            struct Net {
                #[bayesian(skip)]
                #[bayesian(skip)]
                a: L,
                b: L,
            }
        );
        assert!(error(duplicate).contains("duplicate"));
        let name_value: DeriveInput = syn::parse_quote!(
            struct Net {
                #[bayesian = "x"]
                a: L,
            }
        );
        assert!(error(name_value).contains("accepted: `#[bayesian(skip)]`"));
        let bare: DeriveInput = syn::parse_quote!(
            struct Net {
                #[bayesian]
                a: L,
            }
        );
        assert!(error(bare).contains("`#[bayesian]` is not needed"));
    }

    #[test]
    fn reports_every_bad_attribute_at_once() {
        let input: DeriveInput = syn::parse_quote! {
            struct Net { #[bayesian(a)] a: L, #[bayesian(b)] b: L }
        };
        let errors: Vec<String> = expand(input).unwrap_err().into_iter().map(|e| e.to_string()).collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
    }
}
