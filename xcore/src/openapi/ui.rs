//! `GET /openapi.json` and the interactive `/docs` page (Swagger UI).
//!
//! Swagger UI's files are vendored in `xcore/assets/swagger-ui` (see its
//! `VERSION`) and compiled into the binary, so the page works offline and
//! loads nothing from a CDN. The page's own start-up script is served as a
//! file too: the page needs no inline script, and its Content-Security-Policy
//! allows scripts from the app's origin only.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use serde_json::json;

use crate::config::Config;
use crate::error::Error;

const BUNDLE: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js");
const STYLE: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui.css");
const FAVICON: &[u8] = include_bytes!("../../assets/swagger-ui/favicon-32x32.png");

/// Swagger UI styles elements inline; everything else comes from the app.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'; font-src 'self' data:; \
                   base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The files under the docs path, besides the page itself.
const ASSETS: [&str; 4] = [
    "swagger-ui-bundle.js",
    "swagger-ui.css",
    "favicon-32x32.png",
    "swagger-ui-init.js",
];

/// Paths the document and the page take, which no plugin may take.
pub(crate) fn reserved_paths(config: &Config) -> Vec<String> {
    let openapi = &config.openapi;
    let mut paths = Vec::new();
    if config.serves_openapi() {
        paths.push(openapi.path.clone());
        if config.serves_docs() {
            paths.push(openapi.docs_path.clone());
            paths.extend(
                ASSETS
                    .iter()
                    .map(|file| format!("{}/{file}", openapi.docs_path)),
            );
        }
    }
    paths
}

/// Checks the configured paths before anything is mounted.
pub(crate) fn check_config(config: &Config) -> Result<(), Error> {
    let openapi = &config.openapi;
    for (key, path) in [("path", &openapi.path), ("docs_path", &openapi.docs_path)] {
        let valid = path.starts_with('/')
            && path.len() > 1
            && !path.ends_with('/')
            && !path.contains(['{', '}', '*', '?', '#']);
        if !valid {
            return Err(Error::Config(format!(
                "openapi.{key} must start with `/`, not end with `/` and hold no parameters \
                 (got `{path}`)"
            )));
        }
    }
    if config.serves_docs() && openapi.path == openapi.docs_path {
        return Err(Error::Config(format!(
            "openapi.path and openapi.docs_path are both `{}`",
            openapi.path
        )));
    }
    Ok(())
}

/// Routes serving `document` and, when configured, the docs page.
pub(crate) fn router(config: &Config, document: &serde_json::Value) -> Result<Router, Error> {
    let openapi = &config.openapi;
    let mut router = Router::new();
    if !config.serves_openapi() {
        return Ok(router);
    }
    // Serialised once; each request shares the bytes.
    let body = Bytes::from(serde_json::to_vec(document).map_err(Error::internal)?);
    router = router.route(
        &openapi.path,
        get(move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], body) }
        }),
    );
    if !config.serves_docs() {
        return Ok(router);
    }
    let docs = &openapi.docs_path;
    let page = Bytes::from(page(&openapi.title, docs));
    let init = Bytes::from(init_script(&openapi.path));
    let asset = |content_type: &'static str, bytes: Bytes| {
        get(move || {
            let bytes = bytes.clone();
            async move { asset_response(content_type, bytes) }
        })
    };
    router = router
        .route(docs, asset("text/html; charset=utf-8", page))
        .route(
            &format!("{docs}/swagger-ui-init.js"),
            asset("text/javascript; charset=utf-8", init),
        )
        .route(
            &format!("{docs}/swagger-ui-bundle.js"),
            asset("text/javascript; charset=utf-8", Bytes::from_static(BUNDLE)),
        )
        .route(
            &format!("{docs}/swagger-ui.css"),
            asset("text/css; charset=utf-8", Bytes::from_static(STYLE)),
        )
        .route(
            &format!("{docs}/favicon-32x32.png"),
            asset("image/png", Bytes::from_static(FAVICON)),
        );
    Ok(router)
}

fn asset_response(content_type: &'static str, bytes: Bytes) -> Response {
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The asset URLs carry no version: a short cache keeps upgrades visible.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

fn page(title: &str, docs: &str) -> String {
    let title = escape_html(title);
    let docs = escape_html(docs);
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{docs}/swagger-ui.css">
<link rel="icon" type="image/png" href="{docs}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{docs}/swagger-ui-bundle.js"></script>
<script src="{docs}/swagger-ui-init.js"></script>
</body>
</html>
"#
    )
}

fn init_script(document_path: &str) -> String {
    // Tokens are kept in memory only (`persistAuthorization: false`): a
    // reload signs out rather than leaving a token in localStorage.
    let options = json!({
        "url": document_path,
        "dom_id": "#swagger-ui",
        "deepLinking": true,
        "persistAuthorization": false,
        "displayRequestDuration": true,
        "layout": "BaseLayout",
        // No call to the public validator service: the page stays offline.
        "validatorUrl": null,
    });
    format!(
        "window.addEventListener(\"load\", function () {{\n  \
           var options = {options};\n  \
           options.presets = [SwaggerUIBundle.presets.apis];\n  \
           window.ui = SwaggerUIBundle(options);\n\
         }});\n"
    )
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
