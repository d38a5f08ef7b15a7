//! Key and tag templates filled from a request: `{param}` from the path,
//! `{query.name}` from the query string, `{user}` from the guard. One
//! place, so a cached route's key, its tags and a writing route's
//! `#[invalidates]` read the same values the same way.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Query, RawPathParams, Request};
use xcore_rules::cache::{KeyTemplate, Part};

use crate::web::guard::CurrentUser;

/// What a request gives the placeholders of some templates.
pub(crate) struct Values {
    path: HashMap<String, String>,
    query: HashMap<String, String>,
    user: Option<String>,
}

impl Values {
    /// The values `templates` read from `request` (only those: a template
    /// without `{query.…}` never parses the query string).
    pub(crate) async fn of<'a>(
        request: Request,
        templates: impl Iterator<Item = &'a KeyTemplate> + Clone,
    ) -> (Request, Values) {
        let user = request
            .extensions()
            .get::<CurrentUser>()
            .map(|u| u.id().to_owned());
        let needs_path = templates.clone().any(|t| t.path_params().next().is_some());
        let needs_query = templates.clone().any(KeyTemplate::uses_query);
        if !needs_path && !needs_query {
            let values = Values {
                path: HashMap::new(),
                query: HashMap::new(),
                user,
            };
            return (request, values);
        }
        let (mut parts, body) = request.into_parts();
        let path = if needs_path {
            RawPathParams::from_request_parts(&mut parts, &())
                .await
                .map(|params| {
                    params
                        .iter()
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect()
                })
                .unwrap_or_default()
        } else {
            HashMap::new()
        };
        let query = if needs_query {
            Query::try_from_uri(&parts.uri)
                .map(|Query(q)| q)
                .unwrap_or_default()
        } else {
            HashMap::new()
        };
        (
            Request::from_parts(parts, body),
            Values { path, query, user },
        )
    }

    /// `template` filled in; `None` when it needs a user and there is none.
    pub(crate) fn render(&self, template: &KeyTemplate) -> Option<String> {
        let mut text = String::new();
        for part in template.parts() {
            match part {
                Part::Literal(literal) => text.push_str(literal),
                Part::Path(name) => {
                    push_escaped(&mut text, self.path.get(name).map_or("", String::as_str));
                }
                Part::Query(name) => {
                    push_escaped(&mut text, self.query.get(name).map_or("", String::as_str));
                }
                Part::User => push_escaped(&mut text, self.user.as_deref()?),
            }
        }
        Some(text)
    }
}

/// A value placed in a key: `%` and `:` percent-encoded, so a value can
/// never forge the key of another (`x:{id}` with id `5:d` is not `x:5:d`).
pub(crate) fn push_escaped(key: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '%' => key.push_str("%25"),
            ':' => key.push_str("%3A"),
            c => key.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_in_keys_cannot_forge_another_key() {
        let mut a = String::from("x:");
        push_escaped(&mut a, "5:d");
        assert_eq!(a, "x:5%3Ad");
        let mut b = String::from("x:");
        push_escaped(&mut b, "5%3Ad");
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn templates_read_the_query_and_need_a_user_where_they_name_one() {
        let template = KeyTemplate::parse("p:{query.page}").expect("template");
        let request = Request::builder()
            .uri("/x?page=2:3")
            .body(axum::body::Body::empty())
            .expect("request");
        let (_, values) = Values::of(request, std::iter::once(&template)).await;
        assert_eq!(values.render(&template).as_deref(), Some("p:2%3A3"));
        let user = KeyTemplate::parse("u:{user}").expect("template");
        assert_eq!(values.render(&user), None);
    }
}
