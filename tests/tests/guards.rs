//! Route guards over HTTP: 401 for every kind of bad token, 403 for a valid
//! token without the right, the handler only when the guard passes.

use crate::common;

use std::time::Duration;

use common::{SECRET, client, error_code};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use xcore::prelude::*;
use xcore::security::Claims;
use xcore::testing::TestClient;

pub struct Guarded;

#[plugin(prefix = "/g")]
impl Guarded {
    #[route(get, "/public")]
    async fn public() -> &'static str {
        "public"
    }

    #[route(get, "/signed-in", auth)]
    async fn signed_in(user: CurrentUser) -> String {
        format!("hello {}", user.id())
    }

    #[route(get, "/admin", auth = "admin")]
    async fn admin() -> &'static str {
        "admin"
    }

    #[route(get, "/staff", auth = ["editor", "admin"])]
    async fn staff() -> &'static str {
        "staff"
    }

    #[route(get, "/archive", permission = "items:archive")]
    async fn archive() -> &'static str {
        "archive"
    }

    #[route(get, "/admin-archive", auth = "admin", permission = "items:archive")]
    async fn admin_archive() -> &'static str {
        "admin archive"
    }

    #[route(get, "/maybe")]
    async fn maybe(user: Option<CurrentUser>) -> String {
        user.map_or_else(|| "anonymous".to_owned(), |u| format!("user {}", u.id()))
    }
}

async fn app() -> TestClient {
    client(Guarded).await
}

fn sign(header: &Header, claims: &Claims, secret: &[u8]) -> String {
    jsonwebtoken::encode(header, claims, &EncodingKey::from_secret(secret)).expect("sign")
}

async fn assert_unauthorized(client: &TestClient, token: Option<&str>, challenge: &str) {
    for path in ["/g/signed-in", "/g/admin", "/g/archive"] {
        let mut request = client.get(path);
        if let Some(token) = token {
            request = request.bearer(token);
        }
        let response = request.send().await;
        assert_eq!(response.status(), 401, "{path} with {token:?}");
        assert_eq!(
            response.header("www-authenticate"),
            Some(challenge),
            "{path}"
        );
        assert_eq!(error_code(&response), "unauthorized");
    }
}

#[tokio::test]
async fn public_route_needs_nothing() {
    let response = app().await.get("/g/public").send().await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text(), "public");
}

#[tokio::test]
async fn missing_token_is_401_with_bare_challenge() {
    let client = app().await;
    assert_unauthorized(&client, None, "Bearer").await;
    let basic = client
        .get("/g/signed-in")
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await;
    assert_eq!(basic.status(), 401);
}

#[tokio::test]
async fn token_signed_with_another_key_is_401() {
    let client = app().await;
    let claims = client.claims("1").with_roles(["admin"]);
    let forged = sign(
        &Header::new(Algorithm::HS256),
        &claims,
        b"some other secret of the same length!",
    );
    assert_unauthorized(&client, Some(&forged), r#"Bearer error="invalid_token""#).await;
}

#[tokio::test]
async fn unsigned_alg_none_token_is_401() {
    use std::fmt::Write;
    let client = app().await;
    let claims = client
        .claims("1")
        .with_roles(["admin"])
        .with_permissions(["items:archive"]);
    let b64 = |bytes: &[u8]| -> String {
        // base64url without padding, written out to stay independent of the library under test
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                let _ = out.write_char(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        out
    };
    let header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = b64(&serde_json::to_vec(&claims).expect("claims"));
    for token in [
        format!("{header}.{payload}."),
        format!("{header}.{payload}"),
    ] {
        assert_unauthorized(&client, Some(&token), r#"Bearer error="invalid_token""#).await;
    }
}

#[tokio::test]
async fn token_with_another_algorithm_and_the_right_secret_is_401() {
    let client = app().await;
    let claims = client.claims("1").with_roles(["admin"]);
    let swapped = sign(&Header::new(Algorithm::HS512), &claims, SECRET.as_bytes());
    assert_unauthorized(&client, Some(&swapped), r#"Bearer error="invalid_token""#).await;
}

#[tokio::test]
async fn expired_token_is_401_and_says_so() {
    let client = app().await;
    let claims = client
        .expired_claims("1", Duration::from_secs(3600))
        .with_roles(["admin"]);
    let token = client.token_for(&claims).expect("token");
    assert_unauthorized(&client, Some(&token), r#"Bearer error="invalid_token""#).await;
    let response = client.get("/g/admin").bearer(&token).send().await;
    let body: serde_json::Value = response.json();
    assert_eq!(body["error"]["message"], "token expired");
}

#[tokio::test]
async fn malformed_tokens_are_401() {
    let client = app().await;
    for token in [
        "garbage",
        "a.b.c",
        "a.b",
        "....",
        "eyJhbGciOiJIUzI1NiJ9.e30.sig",
    ] {
        assert_unauthorized(&client, Some(token), r#"Bearer error="invalid_token""#).await;
    }
    let empty = client
        .get("/g/admin")
        .header("authorization", "Bearer ")
        .send()
        .await;
    assert_eq!(empty.status(), 401);
}

#[tokio::test]
async fn bad_tokens_are_not_echoed() {
    let client = app().await;
    let response = client
        .get("/g/admin")
        .bearer("secret-looking.token.value")
        .send()
        .await;
    assert!(!response.text().contains("secret-looking"));
}

#[tokio::test]
async fn valid_token_without_the_role_is_403() {
    let client = app().await;
    let reader = client.token("7", &["reader"]).expect("token");
    let response = client.get("/g/admin").bearer(&reader).send().await;
    assert_eq!(response.status(), 403);
    assert_eq!(error_code(&response), "forbidden");
    assert_eq!(response.header("www-authenticate"), None);
    assert_eq!(
        client.get("/g/staff").bearer(&reader).send().await.status(),
        403
    );
}

#[tokio::test]
async fn role_guards_admit_the_right_roles() {
    let client = app().await;
    let admin = client.token("1", &["admin"]).expect("token");
    let editor = client.token("2", &["editor"]).expect("token");
    let admin_response = client.get("/g/admin").bearer(&admin).send().await;
    assert_eq!(admin_response.status(), 200);
    assert_eq!(admin_response.text(), "admin");
    assert_eq!(
        client.get("/g/staff").bearer(&admin).send().await.status(),
        200
    );
    assert_eq!(
        client.get("/g/staff").bearer(&editor).send().await.status(),
        200
    );
    assert_eq!(
        client.get("/g/admin").bearer(&editor).send().await.status(),
        403
    );
}

#[tokio::test]
async fn signed_in_route_sees_the_user() {
    let client = app().await;
    let token = client.token("42", &[]).expect("token");
    let response = client.get("/g/signed-in").bearer(&token).send().await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text(), "hello 42");
}

#[tokio::test]
async fn permission_guards_check_the_token_permissions() {
    let client = app().await;
    let archivist = client
        .token_for(&client.claims("3").with_permissions(["items:archive"]))
        .expect("token");
    let admin = client.token("1", &["admin"]).expect("token");
    let both = client
        .token_for(
            &client
                .claims("1")
                .with_roles(["admin"])
                .with_permissions(["items:archive"]),
        )
        .expect("token");
    assert_eq!(
        client
            .get("/g/archive")
            .bearer(&archivist)
            .send()
            .await
            .status(),
        200
    );
    let denied = client.get("/g/archive").bearer(&admin).send().await;
    assert_eq!(denied.status(), 403);
    assert!(denied.text().contains("items:archive"));
    assert_eq!(
        client
            .get("/g/admin-archive")
            .bearer(&archivist)
            .send()
            .await
            .status(),
        403
    );
    assert_eq!(
        client
            .get("/g/admin-archive")
            .bearer(&admin)
            .send()
            .await
            .status(),
        403
    );
    assert_eq!(
        client
            .get("/g/admin-archive")
            .bearer(&both)
            .send()
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn optional_user_is_none_without_token_and_401_with_a_bad_one() {
    let client = app().await;
    assert_eq!(client.get("/g/maybe").send().await.text(), "anonymous");
    let token = client.token("9", &["reader"]).expect("token");
    assert_eq!(
        client.get("/g/maybe").bearer(&token).send().await.text(),
        "user 9"
    );
    assert_eq!(
        client
            .get("/g/maybe")
            .bearer("forged.token.here")
            .send()
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn guard_runs_before_the_handler_extractors() {
    // A bad path parameter must not reveal anything before authentication.
    pub struct Typed;
    #[plugin(prefix = "/t")]
    impl Typed {
        #[route(get, "/{id}", auth = "admin")]
        async fn show(Path(id): Path<u64>) -> String {
            id.to_string()
        }
    }
    let client = client(Typed).await;
    assert_eq!(client.get("/t/not-a-number").send().await.status(), 401);
    let admin = client.token("1", &["admin"]).expect("token");
    assert_eq!(
        client
            .get("/t/not-a-number")
            .bearer(&admin)
            .send()
            .await
            .status(),
        422
    );
    assert_eq!(client.get("/t/5").bearer(&admin).send().await.text(), "5");
}

#[tokio::test]
async fn claims_round_trip_through_the_guard() {
    let client = app().await;
    let claims = Claims::new("77", Duration::from_secs(60)).with_email("a@b.c");
    let token = client.token_for(&claims).expect("token");
    let response = client.get("/g/signed-in").bearer(&token).send().await;
    assert_eq!(response.text(), "hello 77");
}
