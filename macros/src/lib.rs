//! `#[derive(WitDefault)]`: `Default` for the Rust types that wit-bindgen (the guest) and
//! wasmtime's `bindgen!` (the host) generate from `wit/types.wit`.
//!
//! Both generators take a list of extra derives and apply it to every generated type, records
//! and enums alike. The standard `#[derive(Default)]` cannot be in that list, because it needs a
//! `#[default]` attribute on one case of each enum, and neither generator can add one. This
//! derive fills that gap so a request can be written as
//! `ImageRequest { positive_prompt: "…".into(), ..Default::default() }` on both sides:
//! - a record (struct) defaults every field (`none`, empty, zero, false);
//! - an enum defaults to its first case, which the WIT documents as the default (for example
//!   `delivery` is `sync` first, as Runware's own default); an enum whose first case carries a
//!   payload gets no `Default`.

use proc_macro::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields, parse_macro_input};

/// Implements `Default` as described in the crate documentation.
#[proc_macro_derive(WitDefault)]
pub fn derive_wit_default(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let body = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(fields) => {
                let names = fields.named.iter().map(|f| &f.ident);
                quote! { Self { #( #names: ::core::default::Default::default(), )* } }
            }
            Fields::Unnamed(fields) => {
                let values = fields
                    .unnamed
                    .iter()
                    .map(|_| quote!(::core::default::Default::default()));
                quote! { Self( #( #values, )* ) }
            }
            Fields::Unit => quote! { Self },
        },
        Data::Enum(e) => match e.variants.first() {
            Some(first) if matches!(first.fields, Fields::Unit) => {
                let case = &first.ident;
                quote! { Self::#case }
            }
            _ => return TokenStream::new(),
        },
        Data::Union(_) => return TokenStream::new(),
    };
    quote! {
        impl #impl_generics ::core::default::Default for #name #ty_generics #where_clause {
            fn default() -> Self {
                #body
            }
        }
    }
    .into()
}
