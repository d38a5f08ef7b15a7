//! The plugin as a whole: its metadata (with defaults) and its routes,
//! checked against each other.

use heck::ToSnakeCase;
use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{ItemImpl, LitStr, Type};

use super::migrations::{self, MigrationFiles};
use super::parse::PluginArgs;
use xcore_rules::{name, path};

use crate::diagnostics::Errors;
use crate::route::Route;

pub(crate) struct PluginModel {
    pub self_ty: Type,
    pub name: LitStr,
    /// `None`: the version of the crate defining the plugin.
    pub version: Option<LitStr>,
    pub prefix: LitStr,
    pub tags: Vec<LitStr>,
    pub description: Option<LitStr>,
    pub routes: Vec<Route>,
    pub migrations: Vec<(i64, MigrationFiles)>,
    pub config: Option<Type>,
    pub depends_on: Vec<LitStr>,
    pub hooks: Vec<super::hooks::Hook>,
}

pub(crate) fn build(
    args: PluginArgs,
    item: &ItemImpl,
    routes: Vec<Route>,
    hooks: Vec<super::hooks::Hook>,
    errors: &mut Errors,
) -> Option<PluginModel> {
    let self_ty = (*item.self_ty).clone();
    let name = match args.name {
        Some(name) => {
            check_name(&name, errors);
            name
        }
        None => match type_ident(&self_ty) {
            Some(ident) => LitStr::new(&ident.to_string().to_snake_case(), ident.span()),
            None => {
                errors.error(
                    self_ty.span(),
                    "cannot derive a plugin name from this type: give one with `#[plugin(name = \"...\")]`",
                );
                return None;
            }
        },
    };
    let prefix = match args.prefix {
        Some(prefix) => {
            check_prefix(&prefix, errors);
            prefix
        }
        None => LitStr::new(&format!("/{}", name.value()), Span::call_site()),
    };
    check_routes(&routes, errors);
    for dependency in &args.depends_on {
        match name::dependency(&dependency.value()) {
            Err(invalid) => errors.error(dependency.span(), invalid),
            Ok(found) if found.name == name.value() => errors.error(
                dependency.span(),
                format!("plugin `{}` cannot depend on itself", found.name),
            ),
            Ok(_) => {}
        }
    }
    let migrations = args
        .migrations
        .as_ref()
        .map(|folder| migrations::collect(folder, errors))
        .unwrap_or_default();
    Some(PluginModel {
        self_ty,
        name,
        version: args.version,
        prefix,
        tags: args.tags,
        description: args.description,
        routes,
        migrations,
        config: args.config,
        depends_on: args.depends_on,
        hooks,
    })
}

fn type_ident(ty: &Type) -> Option<&syn::Ident> {
    match ty {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last().map(|s| &s.ident),
        _ => None,
    }
}

fn check_name(name: &LitStr, errors: &mut Errors) {
    if let Err(invalid) = name::plugin(&name.value()) {
        errors.error(name.span(), invalid);
    }
}

fn check_prefix(prefix: &LitStr, errors: &mut Errors) {
    if let Err(invalid) = path::prefix(&prefix.value()) {
        errors.error(prefix.span(), invalid);
    }
}

fn check_routes(routes: &[Route], errors: &mut Errors) {
    for (index, route) in routes.iter().enumerate() {
        for earlier in &routes[..index] {
            if earlier.method == route.method && earlier.path.value() == route.path.value() {
                errors.duplicate(
                    route.path.span(),
                    format!(
                        "duplicate route {} {}",
                        route.method.as_str(),
                        route.path.value()
                    ),
                    earlier.path.span(),
                    "the same route is first declared here",
                );
            } else if path::conflict(&earlier.segments, &route.segments) {
                errors.duplicate(
                    route.path.span(),
                    format!(
                        "route {} conflicts with {}: parameters at the same place must have the same name",
                        route.path.value(),
                        earlier.path.value()
                    ),
                    earlier.path.span(),
                    "the conflicting route is declared here",
                );
            }
        }
    }
}
