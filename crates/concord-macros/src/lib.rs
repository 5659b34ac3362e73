//! Procedural macros that let the engine see a concept's signature without
//! the author writing it twice.
//!
//! * `#[concept]` on an `impl` block: every `pub fn` (async or not) whose name
//!   starts with `_` is a query, every other `pub fn` an action. Parameters
//!   become named arguments (camelCase), `Option<_>` parameters are optional,
//!   a `&mut ActionContext` / `&QueryContext` parameter receives the context,
//!   one `#[rest] name: Record` parameter collects undeclared keys, and
//!   `#[sensitive]` marks a secret parameter (its key is redacted in traces
//!   and logs everywhere).
//!   Actions return `T` or `Result<T, E>` with `T: Outputs` (the error case
//!   exists only for `Result`); queries return `Vec<T>` or `Result<Vec<T>,
//!   E>` (any number of rows), or `T` or `Result<T, E>` (exactly one row).
//!   `#[batch(method)]` on a query names its batched form: a method with the
//!   same parameters, each a `Vec` of the query's (one entry per input, in
//!   order), returning `Result<Vec<R>, E>` or `Vec<R>` where `R` is what the
//!   query returns for one input (its `Ok` type for a `Result`). The engine
//!   calls it when a where step has several frames; write it so that it
//!   answers each input as the query would, in fewer statements.
//!   `#[also_answers(_get)]` on a query says each of its rows is also what
//!   `_get` (a query of the same concept) returns for the input the row's
//!   fields give `_get`'s parameters; the engine then answers those `_get`
//!   calls in the same flow step from the rows instead of asking again.
//! * `#[derive(Outputs)]` on a struct (one success case / row shape) or an
//!   enum of struct and unit variants (one success case per variant).
//!
//! `#[concept(...)]` options: `name = "..."` (the name syncs use, default
//! the type's), `collection = "c"`, `unique = "c.field"`, `index =
//! "c.field"` (state), `sensitive = "key"` (a key redacted everywhere), and
//! the concept's role in the app, which only its spec declares: `entry =
//! "action"` (the action starts flows from outside) with `route = "key"`
//! (the input key whose literal names a route) or `route_template = "key"`
//! (routes are URL paths and templates such as `/users/:id`), optionally
//! `method = "key"` (what tells flows on one route apart), and `responds =
//! "action"` (once per responder: the actions that answer such a flow).
//! `Requesting` declares `entry = "request", route_template = "path",
//! method = "method", responds = "respond", responds = "respondWith"`; the
//! checker's coverage analysis, the route table and the explorer read it.
//!
//! Both accept `crate = path` (`#[concept(crate = concord_concept)]`,
//! `#[outputs(crate = concord_concept)]`) for use without the `concord` facade.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::{format_ident, quote, quote_spanned};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    Attribute, Data, DeriveInput, Expr, ExprLit, FnArg, Ident, ImplItem, ItemImpl, Lit, Meta, Pat, Path, ReturnType,
    Token, Type, Visibility, parse_macro_input,
};

/// Implements `Concept` for the type of an `impl` block. See the crate docs.
#[proc_macro_attribute]
pub fn concept(attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = parse_macro_input!(attr with Punctuated::<Meta, Token![,]>::parse_terminated);
    let imp = parse_macro_input!(item as ItemImpl);
    match expand_concept(args, imp) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Derives `Outputs`. See the crate docs.
#[proc_macro_derive(Outputs, attributes(outputs))]
pub fn derive_outputs(item: TokenStream) -> TokenStream {
    let input = parse_macro_input!(item as DeriveInput);
    match expand_outputs(input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn camel_case(name: &str) -> String {
    let name = name.strip_prefix("r#").unwrap_or(name);
    let (prefix, rest) = match name.strip_prefix('_') {
        Some(r) => ("_", r),
        None => ("", name),
    };
    let mut out = String::from(prefix);
    let mut upper = false;
    for c in rest.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn doc_of(attrs: &[Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .map(|l| l.strip_prefix(' ').unwrap_or(&l).to_string())
        .collect();
    lines.join("\n").trim().to_string()
}

fn crate_path(metas: &Punctuated<Meta, Token![,]>) -> syn::Result<Path> {
    for m in metas {
        if let Meta::NameValue(nv) = m
            && nv.path.is_ident("crate")
        {
            return match &nv.value {
                Expr::Path(p) => Ok(p.path.clone()),
                other => Err(syn::Error::new(
                    other.span(),
                    "expected a path, e.g. `crate = concord_concept`",
                )),
            };
        }
    }
    Ok(syn::parse_quote!(::concord))
}

fn last_segment(ty: &Type) -> Option<(&Ident, &syn::PathArguments)> {
    match ty {
        Type::Path(p) => p.path.segments.last().map(|s| (&s.ident, &s.arguments)),
        Type::Group(g) => last_segment(&g.elem),
        Type::Paren(p) => last_segment(&p.elem),
        _ => None,
    }
}

fn first_generic(args: &syn::PathArguments) -> Option<&Type> {
    match args {
        syn::PathArguments::AngleBracketed(a) => a.args.iter().find_map(|g| match g {
            syn::GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    }
}

/// (JSON type, optional) of a parameter type.
fn param_type(ty: &Type, krate: &Path) -> (TokenStream2, bool) {
    let Some((ident, args)) = last_segment(ty) else {
        return (quote!(#krate::ParamType::Any), false);
    };
    let name = ident.to_string();
    if name == "Option"
        && let Some(inner) = first_generic(args)
    {
        return (param_type(inner, krate).0, true);
    }
    let variant = match name.as_str() {
        "String" | "str" => quote!(String),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" | "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => {
            quote!(Integer)
        }
        "f32" | "f64" => quote!(Number),
        "bool" => quote!(Bool),
        "Vec" | "VecDeque" | "HashSet" | "BTreeSet" => quote!(List),
        "HashMap" | "BTreeMap" | "Map" | "Record" => quote!(Object),
        _ => quote!(Any),
    };
    (quote!(#krate::ParamType::#variant), false)
}

enum ParamRole {
    Context {
        mutable: bool,
    },
    Rest,
    Arg {
        key: String,
        optional: bool,
        sensitive: bool,
        ty: Box<Type>,
    },
}

fn expand_concept(args: Punctuated<Meta, Token![,]>, mut imp: ItemImpl) -> syn::Result<TokenStream2> {
    let krate = crate_path(&args)?;
    let self_ty = imp.self_ty.clone();
    let mut concept_name = last_segment(&self_ty)
        .map(|(i, _)| i.to_string())
        .ok_or_else(|| syn::Error::new(self_ty.span(), "#[concept] needs an impl block for a named type"))?;
    // (collection, unique fields, indexed fields), in declaration order.
    let mut collections: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
    let mut sensitive_keys: Vec<String> = Vec::new();
    // Roles: the entry actions, their route and method keys, the responders
    // (wire names), each with the span to point at if it names no action.
    let mut entries: Vec<(String, proc_macro2::Span)> = Vec::new();
    // The route key, and whether its values are URL path templates.
    let mut route_key: Option<(String, bool)> = None;
    let mut method_key: Option<String> = None;
    let mut responders: Vec<(String, proc_macro2::Span)> = Vec::new();
    for m in &args {
        let Meta::NameValue(nv) = m else {
            return Err(syn::Error::new(m.span(), "expected `key = value`"));
        };
        let key = nv.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
        if key == "crate" {
            continue;
        }
        let Expr::Lit(ExprLit {
            lit: Lit::Str(value), ..
        }) = &nv.value
        else {
            return Err(syn::Error::new(nv.value.span(), "expected a string"));
        };
        let text = value.value();
        let mut entry = |name: &str| -> usize {
            match collections.iter().position(|c| c.0 == name) {
                Some(i) => i,
                None => {
                    collections.push((name.to_string(), Vec::new(), Vec::new()));
                    collections.len() - 1
                }
            }
        };
        match key.as_str() {
            "name" => concept_name = text,
            "sensitive" => sensitive_keys.push(text),
            "entry" => entries.push((text, value.span())),
            "route" => route_key = Some((text, false)),
            "route_template" => route_key = Some((text, true)),
            "method" => method_key = Some(text),
            "responds" => responders.push((text, value.span())),
            "collection" => {
                entry(&text);
            }
            "unique" | "index" => {
                let Some((coll, field)) = text.split_once('.') else {
                    return Err(syn::Error::new(
                        value.span(),
                        "expected `collection.field`, e.g. \"users.username\"",
                    ));
                };
                let i = entry(coll);
                if key == "unique" {
                    collections[i].1.push(field.to_string());
                } else {
                    collections[i].2.push(field.to_string());
                }
            }
            _ => {
                return Err(syn::Error::new(
                    nv.path.span(),
                    "unknown option; expected `name`, `collection`, `unique`, `index`, `sensitive`, `entry`, `route`, `route_template`, `method`, `responds` or `crate`",
                ));
            }
        }
    }
    if !entries.is_empty() && route_key.is_none() {
        return Err(syn::Error::new(
            entries[0].1,
            "an entry action needs `route = \"key\"` (the input key that names its routes) or `route_template = \"key\"` (routes are URL paths such as `/users/:id`)",
        ));
    }
    if entries.is_empty()
        && let Some(span) = args.iter().find_map(|m| match m {
            Meta::NameValue(nv)
                if nv.path.is_ident("route") || nv.path.is_ident("route_template") || nv.path.is_ident("method") =>
            {
                Some(nv.path.span())
            }
            _ => None,
        })
    {
        return Err(syn::Error::new(
            span,
            "`route`, `route_template` and `method` describe an entry action; add `entry = \"action\"`",
        ));
    }
    let collection_specs: Vec<TokenStream2> = collections
        .iter()
        .map(|(name, unique, index)| {
            quote! {
                #krate::CollectionSpec {
                    name: format!("{}.{}", #concept_name, #name),
                    unique: vec![#(#unique.to_string()),*],
                    indexes: vec![#(#index.to_string()),*],
                }
            }
        })
        .collect();
    let concept_doc = doc_of(&imp.attrs);
    let mut action_specs = Vec::new();
    let mut query_specs = Vec::new();
    let mut action_arms = Vec::new();
    let mut query_arms = Vec::new();
    let mut batch_arms = Vec::new();
    let mut declared_actions: Vec<String> = Vec::new();

    for item in &mut imp.items {
        let ImplItem::Fn(f) = item else { continue };
        if !matches!(f.vis, Visibility::Public(_)) {
            continue;
        }
        let rust_name = f.sig.ident.clone();
        let wire = camel_case(&rust_name.to_string());
        let source = source_spot(&rust_name, &krate);
        let is_query = wire.starts_with('_');
        let full = format!("{concept_name}.{wire}");
        let doc = doc_of(&f.attrs);
        let mut also_answers: Vec<String> = Vec::new();
        while let Some(i) = f.attrs.iter().position(|a| a.path().is_ident("also_answers")) {
            let attr = f.attrs.remove(i);
            if !is_query {
                return Err(syn::Error::new(
                    attr.span(),
                    "`#[also_answers]` says which other queries a query's rows answer; actions have no rows",
                ));
            }
            let names = attr
                .parse_args_with(Punctuated::<Ident, Token![,]>::parse_terminated)
                .map_err(|e| syn::Error::new(e.span(), "expected `#[also_answers(_query, ...)]`"))?;
            also_answers.extend(names.iter().map(|n| camel_case(&n.to_string())));
        }
        let batch = match f.attrs.iter().position(|a| a.path().is_ident("batch")) {
            Some(i) => {
                let attr = f.attrs.remove(i);
                if !is_query {
                    return Err(syn::Error::new(
                        attr.span(),
                        "`#[batch]` names a query's batched form; actions run one at a time",
                    ));
                }
                Some(attr.parse_args::<Ident>().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "expected `#[batch(method)]`, naming the method that answers several inputs at once",
                    )
                })?)
            }
            None => None,
        };
        match f.sig.inputs.first() {
            Some(FnArg::Receiver(r)) if r.reference.is_some() && r.mutability.is_none() => {}
            _ => {
                return Err(syn::Error::new(
                    f.sig.span(),
                    "concept actions and queries take `&self` (state lives behind it or in the context)",
                ));
            }
        }
        let mut roles = Vec::new();
        for input in f.sig.inputs.iter_mut().skip(1) {
            let FnArg::Typed(pt) = input else { continue };
            let sensitive_attr = pt.attrs.iter().position(|a| a.path().is_ident("sensitive"));
            let sensitive = sensitive_attr.is_some();
            if let Some(i) = sensitive_attr {
                pt.attrs.remove(i);
            }
            let rest_attr = pt.attrs.iter().position(|a| a.path().is_ident("rest"));
            if let Some(i) = rest_attr {
                pt.attrs.remove(i);
                roles.push(ParamRole::Rest);
                continue;
            }
            let ctx = match &*pt.ty {
                Type::Reference(r) => last_segment(&r.elem)
                    .filter(|(i, _)| *i == "ActionContext" || *i == "QueryContext")
                    .map(|_| r.mutability.is_some()),
                _ => None,
            };
            if let Some(mutable) = ctx {
                roles.push(ParamRole::Context { mutable });
                continue;
            }
            let Pat::Ident(pi) = &*pt.pat else {
                return Err(syn::Error::new(
                    pt.pat.span(),
                    "parameters must be plain names: they become argument names",
                ));
            };
            let (_, optional) = param_type(&pt.ty, &krate);
            roles.push(ParamRole::Arg {
                key: camel_case(&pi.ident.to_string()),
                optional,
                sensitive,
                ty: pt.ty.clone(),
            });
        }
        let open = roles.iter().any(|r| matches!(r, ParamRole::Rest));
        let keys: Vec<&String> = roles
            .iter()
            .filter_map(|r| match r {
                ParamRole::Arg { key, .. } => Some(key),
                _ => None,
            })
            .collect();
        let param_specs = roles.iter().filter_map(|r| match r {
            ParamRole::Arg {
                key,
                optional,
                sensitive,
                ty,
            } => {
                let (pty, _) = param_type(ty, &krate);
                Some(quote!(#krate::ParamSpec {
                    name: #key.to_string(),
                    ty: #pty,
                    optional: #optional,
                    sensitive: #sensitive,
                }))
            }
            _ => None,
        });
        let ret: Type = match &f.sig.output {
            ReturnType::Default => syn::parse_quote!(()),
            ReturnType::Type(_, t) => (**t).clone(),
        };
        let mut decode = Vec::new();
        let mut call_args = Vec::new();
        if !open {
            decode.push(quote! {
                #krate::__private::reject_unknown_args(input, &[#(#keys),*], #full)?;
            });
        }
        for (i, role) in roles.iter().enumerate() {
            let var = format_ident!("__arg{}", i);
            match role {
                ParamRole::Context { mutable } => {
                    if is_query && *mutable {
                        return Err(syn::Error::new(f.sig.span(), "queries receive `&QueryContext`"));
                    }
                    call_args.push(if *mutable { quote!(&mut *ctx) } else { quote!(&*ctx) });
                }
                ParamRole::Rest => {
                    decode.push(quote! {
                        let #var: #krate::Record = input
                            .iter()
                            .filter(|(k, _)| ![#(#keys),*].contains(&k.as_str()))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect();
                    });
                    call_args.push(quote!(#var));
                }
                ParamRole::Arg { key, optional, ty, .. } => {
                    decode.push(quote! {
                        let #var: #ty = #krate::__private::decode_arg(input, #key, #optional, #full)?;
                    });
                    call_args.push(quote!(#var));
                }
            }
        }
        let call = if f.sig.asyncness.is_some() {
            quote!(self.#rust_name(#(#call_args),*).await)
        } else {
            quote!(self.#rust_name(#(#call_args),*))
        };
        if is_query {
            query_specs.push(quote! {
                #krate::QuerySpec {
                    name: #wire.to_string(),
                    doc: #doc.to_string(),
                    params: vec![#(#param_specs),*],
                    open_params: #open,
                    outputs: <#ret as #krate::IntoRows>::row_keys(),
                    exactly_one: <#ret as #krate::IntoRows>::exactly_one(),
                    source: #source,
                    also_answers: vec![#(#also_answers.to_string()),*],
                }
            });
            query_arms.push(quote! {
                #wire => {
                    #(#decode)*
                    #krate::IntoRows::into_rows(#call)
                }
            });
            if let Some(batch) = batch {
                batch_arms.push(batch_arm(&BatchedQuery {
                    krate: &krate,
                    wire: &wire,
                    full: &full,
                    method: &batch,
                    roles: &roles,
                    decode: &decode,
                    ret: &ret,
                    is_async: f.sig.asyncness.is_some(),
                    span: f.sig.span(),
                })?);
            }
        } else {
            let role = if entries.iter().any(|(e, _)| *e == wire) {
                let (route, templates) = route_key.clone().unwrap_or_default();
                let method = match &method_key {
                    Some(m) => quote!(Some(#m.to_string())),
                    None => quote!(None),
                };
                quote!(#krate::ActionRole::Entry(#krate::EntryRole {
                    route_key: #route.to_string(),
                    method_key: #method,
                    templates: #templates,
                }))
            } else if responders.iter().any(|(r, _)| *r == wire) {
                quote!(#krate::ActionRole::Responder)
            } else {
                quote!(#krate::ActionRole::Plain)
            };
            declared_actions.push(wire.clone());
            action_specs.push(quote! {
                #krate::ActionSpec {
                    name: #wire.to_string(),
                    doc: #doc.to_string(),
                    params: vec![#(#param_specs),*],
                    open_params: #open,
                    success: <#ret as #krate::IntoOutcome>::success_cases(),
                    error: <#ret as #krate::IntoOutcome>::has_error(),
                    role: #role,
                    source: #source,
                }
            });
            action_arms.push(quote! {
                #wire => {
                    let result: Result<#krate::Outcome, String> = async {
                        #(#decode)*
                        Ok(#krate::IntoOutcome::into_outcome(#call))
                    }.await;
                    match result {
                        Ok(outcome) => outcome,
                        Err(message) => #krate::Outcome::Error(message),
                    }
                }
            });
        }
    }
    for (name, span) in entries.iter().chain(&responders) {
        if !declared_actions.contains(name) {
            return Err(syn::Error::new(
                *span,
                format!(
                    "`{name}` is not an action of this concept; its actions are: {}",
                    declared_actions.join(", ")
                ),
            ));
        }
    }
    let batch_fn = if batch_arms.is_empty() {
        quote!()
    } else {
        quote! {
            #[allow(unused_variables, clippy::needless_borrow)]
            fn query_batch<'a>(
                &'a self,
                ctx: &'a #krate::QueryContext,
                query: &'a str,
                inputs: &'a [#krate::Record],
            ) -> #krate::BoxFuture<'a, Vec<Result<Vec<#krate::Record>, String>>> {
                Box::pin(async move {
                    match query {
                        #(#batch_arms)*
                        _ => {
                            let mut answers = Vec::with_capacity(inputs.len());
                            for input in inputs {
                                answers.push(#krate::Concept::query(self, ctx, query, input).await);
                            }
                            answers
                        }
                    }
                })
            }
        }
    };
    let (impl_generics, _, where_clause) = imp.generics.split_for_impl();
    let generated = quote! {
        #imp

        impl #impl_generics #krate::Concept for #self_ty #where_clause {
            fn spec(&self) -> #krate::ConceptSpec {
                #krate::ConceptSpec {
                    name: #concept_name.to_string(),
                    doc: #concept_doc.to_string(),
                    actions: vec![#(#action_specs),*],
                    queries: vec![#(#query_specs),*],
                    collections: vec![#(#collection_specs),*],
                    sensitive: vec![#(#sensitive_keys.to_string()),*],
                }
            }

            #[allow(unused_variables, clippy::needless_borrow)]
            fn perform<'a>(
                &'a self,
                ctx: &'a mut #krate::ActionContext,
                action: &'a str,
                input: &'a #krate::Record,
            ) -> #krate::BoxFuture<'a, #krate::Outcome> {
                Box::pin(async move {
                    match action {
                        #(#action_arms)*
                        other => #krate::Outcome::Error(format!("{} has no action `{}`", #concept_name, other)),
                    }
                })
            }

            #[allow(unused_variables, clippy::needless_borrow)]
            fn query<'a>(
                &'a self,
                ctx: &'a #krate::QueryContext,
                query: &'a str,
                input: &'a #krate::Record,
            ) -> #krate::BoxFuture<'a, Result<Vec<#krate::Record>, String>> {
                Box::pin(async move {
                    match query {
                        #(#query_arms)*
                        other => Err(format!("{} has no query `{}`", #concept_name, other)),
                    }
                })
            }

            #batch_fn
        }
    };
    Ok(generated)
}

/// What `batch_arm` needs to know of a query marked `#[batch(method)]`.
struct BatchedQuery<'a> {
    krate: &'a Path,
    wire: &'a str,
    full: &'a str,
    method: &'a Ident,
    roles: &'a [ParamRole],
    /// The query's argument decoding, reading `input`, binding `__argN`.
    decode: &'a [TokenStream2],
    ret: &'a Type,
    is_async: bool,
    span: proc_macro2::Span,
}

/// The `query_batch` arm of a batched query: decodes every input as the
/// query would (an input that does not decode gets the query's error),
/// gathers each argument into a column, calls the batched method once, and
/// hands out its answers in input order.
fn batch_arm(q: &BatchedQuery<'_>) -> syn::Result<TokenStream2> {
    let BatchedQuery {
        krate,
        wire,
        full,
        method,
        roles,
        decode,
        ret,
        ..
    } = q;
    let mut vars = Vec::new();
    let mut columns = Vec::new();
    let mut call_args = Vec::new();
    for (i, role) in roles.iter().enumerate() {
        match role {
            ParamRole::Context { .. } => call_args.push(quote!(&*ctx)),
            ParamRole::Rest | ParamRole::Arg { .. } => {
                let var = format_ident!("__arg{}", i);
                let column = format_ident!("__column{}", i);
                call_args.push(quote!(#column));
                vars.push(var);
                columns.push(column);
            }
        }
    }
    if vars.is_empty() {
        return Err(syn::Error::new(
            q.span,
            "a query without arguments answers every input alike; it has nothing to batch",
        ));
    }
    let call = if q.is_async {
        quote!(self.#method(#(#call_args),*).await)
    } else {
        quote!(self.#method(#(#call_args),*))
    };
    // A mismatch of row types is reported at the batched method's name.
    let same_rows = quote_spanned!(method.span()=> #krate::__private::same_rows::<#ret, _>);
    Ok(quote! {
        #wire => {
            let mut answers: Vec<Result<Vec<#krate::Record>, String>> = Vec::with_capacity(inputs.len());
            #(let mut #columns = Vec::with_capacity(inputs.len());)*
            let mut asked = Vec::with_capacity(inputs.len());
            for (n, input) in inputs.iter().enumerate() {
                let decoded = (|| -> Result<_, String> {
                    #(#decode)*
                    Ok((#(#vars,)*))
                })();
                match decoded {
                    Ok((#(#vars,)*)) => {
                        #(#columns.push(#vars);)*
                        asked.push(n);
                        answers.push(Ok(Vec::new()));
                    }
                    Err(message) => answers.push(Err(message)),
                }
            }
            if !asked.is_empty() {
                // Typed against the query's own rows: a batched form that
                // answers with another row type does not compile.
                let batched = #same_rows(#krate::__private::IntoAnswers::into_answers(#call));
                match batched {
                    Ok(items) if items.len() == asked.len() => {
                        for (n, item) in asked.into_iter().zip(items) {
                            answers[n] = #krate::IntoRows::into_rows(item);
                        }
                    }
                    Ok(items) => {
                        let message = format!(
                            "{}: its batched form gave {} answers for {} inputs",
                            #full,
                            items.len(),
                            asked.len()
                        );
                        for n in asked {
                            answers[n] = Err(message.clone());
                        }
                    }
                    Err(message) => {
                        for n in asked {
                            answers[n] = Err(message.clone());
                        }
                    }
                }
            }
            answers
        }
    })
}

fn expand_outputs(input: DeriveInput) -> syn::Result<TokenStream2> {
    let mut krate: Path = syn::parse_quote!(::concord);
    for a in &input.attrs {
        if a.path().is_ident("outputs") {
            let metas = a.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)?;
            krate = crate_path(&metas)?;
        }
    }
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let fields_of = |fields: &syn::Fields| -> syn::Result<Vec<(Ident, String)>> {
        match fields {
            syn::Fields::Named(n) => Ok(n
                .named
                .iter()
                .filter_map(|f| f.ident.clone())
                .map(|i| {
                    let key = camel_case(&i.to_string());
                    (i, key)
                })
                .collect()),
            syn::Fields::Unit => Ok(Vec::new()),
            syn::Fields::Unnamed(u) => Err(syn::Error::new(
                u.span(),
                "outputs need named fields: the field names are the output keys",
            )),
        }
    };
    let (cases, body) = match &input.data {
        Data::Struct(s) => {
            let fields = fields_of(&s.fields)?;
            let keys: Vec<&String> = fields.iter().map(|(_, k)| k).collect();
            let idents: Vec<&Ident> = fields.iter().map(|(i, _)| i).collect();
            (
                quote!(vec![vec![#(#keys.to_string()),*]]),
                quote! {
                    let mut record = #krate::Record::new();
                    #(record.insert(#keys.to_string(), #krate::__private::encode_field(self.#idents, #keys)?);)*
                    Ok(record)
                },
            )
        }
        Data::Enum(e) => {
            let mut cases = Vec::new();
            let mut arms = Vec::new();
            for v in &e.variants {
                let fields = fields_of(&v.fields)?;
                let keys: Vec<&String> = fields.iter().map(|(_, k)| k).collect();
                let idents: Vec<&Ident> = fields.iter().map(|(i, _)| i).collect();
                let vname = &v.ident;
                cases.push(quote!(vec![#(#keys.to_string()),*]));
                let pattern = match v.fields {
                    syn::Fields::Unit => quote!(Self::#vname),
                    _ => quote!(Self::#vname { #(#idents),* }),
                };
                arms.push(quote! {
                    #pattern => {
                        #(record.insert(#keys.to_string(), #krate::__private::encode_field(#idents, #keys)?);)*
                    }
                });
            }
            (
                quote!(vec![#(#cases),*]),
                quote! {
                    let mut record = #krate::Record::new();
                    match self { #(#arms)* }
                    Ok(record)
                },
            )
        }
        Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span(),
                "Outputs cannot be derived for unions",
            ));
        }
    };
    Ok(quote! {
        impl #impl_generics #krate::Outputs for #name #ty_generics #where_clause {
            fn cases() -> Vec<Vec<String>> {
                #cases
            }
            fn into_record(self) -> Result<#krate::Record, String> {
                #body
            }
        }
    })
}

/// Where `ident` is in the source, for editors: `Some(SourceSpot { .. })`
/// with an absolute path where the compiler gives a local file, else `None`.
fn source_spot(ident: &syn::Ident, krate: &syn::Path) -> TokenStream2 {
    let span = ident.span().unwrap();
    let Some(file) = span.local_file() else {
        return quote!(None);
    };
    let file = std::fs::canonicalize(&file).unwrap_or(file);
    let file = file.to_string_lossy().into_owned();
    let (line, column) = (span.line() as u32, span.column() as u32);
    quote!(Some(#krate::SourceSpot {
        file: #file.to_string(),
        line: #line,
        column: #column,
    }))
}

#[cfg(test)]
mod tests {
    use super::camel_case;

    #[test]
    fn camel_case_keeps_query_prefix() {
        assert_eq!(camel_case("_get_user"), "_getUser");
        assert_eq!(camel_case("tag_list"), "tagList");
        assert_eq!(camel_case("r#type"), "type");
        assert_eq!(camel_case("create"), "create");
    }
}
