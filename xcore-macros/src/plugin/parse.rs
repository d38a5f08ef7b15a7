//! Tokens of `#[plugin(...)]` to typed arguments.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprArray, ExprLit, Lit, LitStr, Meta, Token, Type};

use crate::diagnostics::Errors;

/// `#[plugin(...)]`, parsed; every key is optional.
#[derive(Default)]
pub(crate) struct PluginArgs {
    pub name: Option<LitStr>,
    pub version: Option<LitStr>,
    pub prefix: Option<LitStr>,
    pub tags: Vec<LitStr>,
    pub description: Option<LitStr>,
    pub migrations: Option<LitStr>,
    /// `config = Type`: the type its `[plugins.<name>]` section is read as.
    pub config: Option<Type>,
    /// `depends_on = ["catalogue", "auth@^1"]`.
    pub depends_on: Vec<LitStr>,
}

const OPTIONS: &str = "name, version, prefix, tags, description, migrations, config, depends_on";

pub(crate) fn parse(args: TokenStream, errors: &mut Errors) -> PluginArgs {
    let mut parsed = PluginArgs::default();
    let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args) {
        Ok(metas) => metas,
        Err(error) => {
            errors.push(error);
            return parsed;
        }
    };
    let mut seen: Vec<(String, Span)> = Vec::new();
    for meta in metas {
        let Meta::NameValue(pair) = &meta else {
            errors.error(
                meta.span(),
                format!("expected `key = value`, e.g. `#[plugin(name = \"shop\", prefix = \"/shop\")]`; keys: {OPTIONS}"),
            );
            continue;
        };
        let Some(key) = pair.path.get_ident() else {
            errors.error(
                pair.path.span(),
                format!("unknown option; expected one of {OPTIONS}"),
            );
            continue;
        };
        let key_name = key.to_string();
        if let Some((_, previous)) = seen.iter().find(|(k, _)| *k == key_name) {
            errors.duplicate(
                key.span(),
                format!("`{key_name}` is given twice"),
                *previous,
                format!("`{key_name}` first given here"),
            );
            continue;
        }
        seen.push((key_name.clone(), key.span()));
        match key_name.as_str() {
            "name" => parsed.name = string(&pair.value, "name", errors),
            "version" => parsed.version = string(&pair.value, "version", errors),
            "prefix" => parsed.prefix = string(&pair.value, "prefix", errors),
            "description" => parsed.description = string(&pair.value, "description", errors),
            "tags" => parsed.tags = tags(&pair.value, errors),
            "migrations" => parsed.migrations = string(&pair.value, "migrations", errors),
            "config" => parsed.config = config_type(&pair.value, errors),
            "depends_on" => parsed.depends_on = strings(&pair.value, "depends_on", errors),
            "requires" | "dependencies" | "depends" | "after" => errors.error(
                key.span(),
                format!("unknown option `{key_name}`: the plugins this one needs are `depends_on = [\"name\", ...]`"),
            ),
            "settings" | "configuration" => errors.error(
                key.span(),
                format!("unknown option `{key_name}`: the type of the plugin's section is `config = MyConfig`"),
            ),
            "migration" | "migrations_dir" | "migrations_path" => errors.error(
                key.span(),
                format!("unknown option `{key_name}`: the folder of SQL files is `migrations = \"migrations/...\"`"),
            ),
            "path" | "mount" | "base" => errors.error(
                key.span(),
                format!("unknown option `{key_name}`: the mount path is `prefix`"),
            ),
            "tag" => errors.error(
                key.span(),
                "unknown option `tag`: write `tags = [\"a\", \"b\"]`",
            ),
            other => errors.error(
                key.span(),
                format!("unknown option `{other}`; expected one of {OPTIONS}"),
            ),
        }
    }
    parsed
}

fn string(value: &Expr, what: &str, errors: &mut Errors) -> Option<LitStr> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Some(lit.clone()),
        other => {
            errors.error(other.span(), format!("`{what}` takes a string literal"));
            None
        }
    }
}

fn tags(value: &Expr, errors: &mut Errors) -> Vec<LitStr> {
    strings(value, "tags", errors)
}

/// `["a", "b"]`, or one string.
fn strings(value: &Expr, what: &str, errors: &mut Errors) -> Vec<LitStr> {
    match value {
        Expr::Array(ExprArray { elems, .. }) => elems
            .iter()
            .filter_map(|e| string(e, what, errors))
            .collect(),
        other => string(other, what, errors).into_iter().collect(),
    }
}

/// `config = path::To::Type`.
fn config_type(value: &Expr, errors: &mut Errors) -> Option<Type> {
    match value {
        Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => {
            syn::parse2::<Type>(quote::ToTokens::to_token_stream(&path.path)).ok()
        }
        other => {
            errors.error(
                other.span(),
                "`config` takes a type, e.g. `config = CatalogueConfig` (a struct deriving `Deserialize` and `JsonSchema`)",
            );
            None
        }
    }
}
