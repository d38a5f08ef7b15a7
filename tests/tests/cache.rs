//! The cache service and `#[cached]` on every backend: in-process and Redis
//! (one suite, run against each), plus outages and single-flight.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::services::{self, TestCache};
use serde::{Deserialize, Serialize};
use xcore::cache::{Cache, CacheError};
use xcore::prelude::*;
use xcore::testing::TestClient;

/// Counts handler runs, to tell hits from misses independently of headers.
#[derive(Default)]
struct Shop {
    runs: AtomicUsize,
    slow: bool,
}

impl Shop {
    fn ran(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }

    async fn run(&self) -> usize {
        if self.slow {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.runs.fetch_add(1, Ordering::SeqCst) + 1
    }
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Page {
    run: usize,
    text: String,
}

#[plugin(name = "shop", prefix = "/shop")]
impl Shop {
    #[route(get, "/produits")]
    #[cached(ttl = 300, key = "produits:all")]
    async fn produits(&self) -> Json<Page> {
        Json(Page {
            run: self.run().await,
            text: "produits".into(),
        })
    }

    #[route(get, "/produits/{id}")]
    #[cached(ttl = 300, key = "produits:{id}")]
    async fn produit(&self, Path(id): Path<u32>) -> Json<Page> {
        Json(Page {
            run: self.run().await,
            text: format!("produit {id}"),
        })
    }

    #[route(post, "/produits", auth = "admin")]
    async fn ajouter(cache: Cache) -> xcore::Result<String> {
        Ok(cache.flush_pattern("produits:*").await?.to_string())
    }

    #[route(get, "/recherche")]
    #[cached(ttl = 300)]
    async fn recherche(
        &self,
        Query(q): Query<std::collections::HashMap<String, String>>,
    ) -> String {
        format!(
            "{} {}",
            self.run().await,
            q.get("q").map_or("", String::as_str)
        )
    }

    #[route(get, "/moi", auth)]
    #[cached(ttl = 300)]
    async fn moi(&self, user: CurrentUser) -> String {
        format!("{} {}", self.run().await, user.id())
    }

    #[route(get, "/annonce", auth)]
    #[cached(ttl = 300, shared)]
    async fn annonce(&self) -> String {
        format!("{} annonce", self.run().await)
    }

    #[route(get, "/court")]
    #[cached(ttl = 1)]
    async fn court(&self) -> String {
        self.run().await.to_string()
    }

    #[route(get, "/absent")]
    #[cached(ttl = 300)]
    async fn absent(&self) -> xcore::Result<String> {
        self.run().await;
        Err(Error::NotFound("nothing here".into()))
    }

    #[route(get, "/valeur")]
    async fn valeur(cache: Cache) -> xcore::Result<String> {
        Ok(cache.get("compteur").await?.unwrap_or_default())
    }
}

/// Another plugin writing keys with the same names.
struct Other;

#[plugin(name = "other", prefix = "/other")]
impl Other {
    #[route(post, "/flush")]
    async fn flush(cache: Cache) -> xcore::Result<String> {
        Ok(cache.flush_pattern("*").await?.to_string())
    }
}

async fn client_for(cache: &TestCache, shop: Shop) -> TestClient {
    let config = cache.apply(common::config());
    TestClient::new(App::new(config).expect("app").plugin(shop).plugin(Other))
        .await
        .expect("app")
}

fn run_of(response: &xcore::testing::TestResponse) -> usize {
    response.json::<Page>().run
}

#[tokio::test]
async fn cache_operations_behave_alike_on_every_backend() {
    for backend in services::caches() {
        let config = backend.apply(common::config());
        let cache = Cache::connect(&config.cache)
            .expect("cache")
            .scoped("suite");
        let name = backend.name;

        assert_eq!(cache.get("cle").await.expect(name), None, "{name}");
        cache.set("cle", "valeur", 60).await.expect(name);
        assert_eq!(
            cache.get("cle").await.expect(name).as_deref(),
            Some("valeur"),
            "{name}"
        );
        assert!(cache.exists("cle").await.expect(name), "{name}");
        assert!(cache.delete("cle").await.expect(name), "{name}");
        assert!(!cache.delete("cle").await.expect(name), "{name}");
        assert!(!cache.exists("cle").await.expect(name), "{name}");

        for key in [
            "produits:1",
            "produits:2",
            "produits:all",
            "prix:1",
            "produitsX",
        ] {
            cache.set(key, "x", 60).await.expect(name);
        }
        assert_eq!(
            cache.flush_pattern("produits:*").await.expect(name),
            3,
            "{name}"
        );
        assert!(cache.exists("prix:1").await.expect(name), "{name}");
        assert!(cache.exists("produitsX").await.expect(name), "{name}");
        assert_eq!(
            cache.flush_pattern("prix:[0-9]").await.expect(name),
            1,
            "{name}"
        );

        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Stats {
            vues: u32,
        }
        cache
            .set_json("stats", &Stats { vues: 3 }, 60)
            .await
            .expect(name);
        assert_eq!(
            cache.get_json::<Stats>("stats").await.expect(name),
            Some(Stats { vues: 3 })
        );
        assert!(
            matches!(
                cache.get_json::<Vec<u8>>("stats").await,
                Err(CacheError::Decode(_))
            ),
            "{name}"
        );
        let computed = AtomicUsize::new(0);
        for _ in 0..3 {
            let value: u32 = cache
                .get_or_set("calcul", 60, || async {
                    computed.fetch_add(1, Ordering::SeqCst);
                    Ok(42)
                })
                .await
                .expect(name);
            assert_eq!(value, 42);
        }
        assert_eq!(computed.load(Ordering::SeqCst), 1, "{name}: computed once");

        assert!(
            matches!(cache.set("zero", "x", 0).await, Err(CacheError::ZeroTtl)),
            "{name}"
        );
        cache.set("ephemere", "x", 1).await.expect(name);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert!(
            !cache.exists("ephemere").await.expect(name),
            "{name}: TTL honoured"
        );
        assert_eq!(cache.get("ephemere").await.expect(name), None, "{name}");
    }
}

#[tokio::test]
async fn plugins_cannot_touch_each_others_keys() {
    for backend in services::caches() {
        let client = client_for(&backend, Shop::default()).await;
        let shop = client.cache("shop");
        let other = client.cache("other");
        shop.set("compteur", "7", 60).await.expect(backend.name);
        assert_eq!(
            other.get("compteur").await.expect(backend.name),
            None,
            "{}",
            backend.name
        );
        assert_eq!(
            client.post("/other/flush").send().await.text(),
            "0",
            "{}",
            backend.name
        );
        assert_eq!(
            client.get("/shop/valeur").send().await.text(),
            "7",
            "{}",
            backend.name
        );
    }
}

#[tokio::test]
async fn cached_route_misses_then_hits() {
    for backend in services::caches() {
        let client = client_for(&backend, Shop::default()).await;
        let first = client.get("/shop/produits").send().await;
        assert_eq!(first.status(), 200, "{}", backend.name);
        assert_eq!(first.header("x-cache"), Some("miss"), "{}", backend.name);
        let second = client.get("/shop/produits").send().await;
        assert_eq!(second.header("x-cache"), Some("hit"), "{}", backend.name);
        assert_eq!(second.header("content-type"), Some("application/json"));
        assert_eq!(first.bytes(), second.bytes(), "{}: same body", backend.name);
        assert_eq!(run_of(&second), 1, "{}: the handler ran once", backend.name);
    }
}

#[tokio::test]
async fn the_plugin_invalidates_exactly_with_flush_pattern() {
    for backend in services::caches() {
        let client = client_for(&backend, Shop::default()).await;
        let admin = client.token("1", &["admin"]).expect("token");
        assert_eq!(run_of(&client.get("/shop/produits").send().await), 1);
        assert_eq!(run_of(&client.get("/shop/produits/4").send().await), 2);
        assert_eq!(
            run_of(&client.get("/shop/produits").send().await),
            1,
            "{}",
            backend.name
        );
        let flushed = client.post("/shop/produits").bearer(&admin).send().await;
        assert_eq!(
            flushed.text(),
            "2",
            "{}: both produits:* entries",
            backend.name
        );
        assert_eq!(
            run_of(&client.get("/shop/produits").send().await),
            3,
            "{}",
            backend.name
        );
    }
}

#[tokio::test]
async fn default_keys_follow_the_path_and_query() {
    for backend in services::caches() {
        let client = client_for(&backend, Shop::default()).await;
        assert_eq!(
            client.get("/shop/recherche?q=pain").send().await.text(),
            "1 pain"
        );
        assert_eq!(
            client.get("/shop/recherche?q=lait").send().await.text(),
            "2 lait"
        );
        assert_eq!(
            client.get("/shop/recherche?q=pain").send().await.text(),
            "1 pain",
            "{}",
            backend.name
        );
    }
}

#[tokio::test]
async fn guarded_routes_are_cached_per_user_unless_shared() {
    for backend in services::caches() {
        let client = client_for(&backend, Shop::default()).await;
        let ada = client.token("ada", &[]).expect("token");
        let bob = client.token("bob", &[]).expect("token");
        assert_eq!(
            client.get("/shop/moi").bearer(&ada).send().await.text(),
            "1 ada"
        );
        assert_eq!(
            client.get("/shop/moi").bearer(&bob).send().await.text(),
            "2 bob",
            "{}",
            backend.name
        );
        assert_eq!(
            client.get("/shop/moi").bearer(&ada).send().await.text(),
            "1 ada",
            "{}",
            backend.name
        );
        assert_eq!(
            client.get("/shop/moi").send().await.status(),
            401,
            "the guard runs before the cache"
        );

        assert_eq!(
            client.get("/shop/annonce").bearer(&ada).send().await.text(),
            "3 annonce"
        );
        assert_eq!(
            client.get("/shop/annonce").bearer(&bob).send().await.text(),
            "3 annonce",
            "{}",
            backend.name
        );
    }
}

#[tokio::test]
async fn only_successes_are_cached_and_entries_expire() {
    for backend in services::caches() {
        let shop = Shop::default();
        let client = client_for(&backend, shop).await;
        assert_eq!(client.get("/shop/absent").send().await.status(), 404);
        let again = client.get("/shop/absent").send().await;
        assert_eq!(again.status(), 404);
        assert_eq!(
            again.header("x-cache"),
            Some("miss"),
            "{}: errors are not stored",
            backend.name
        );

        assert_eq!(client.get("/shop/court").send().await.text(), "3");
        assert_eq!(client.get("/shop/court").send().await.text(), "3");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(
            client.get("/shop/court").send().await.text(),
            "4",
            "{}: ttl = 1 s",
            backend.name
        );
    }
}

#[tokio::test]
async fn fifty_concurrent_misses_run_the_handler_once() {
    for backend in services::caches() {
        let shop = Arc::new(Shop {
            runs: AtomicUsize::new(0),
            slow: true,
        });
        // The plugin value is moved into the app; keep a way to read its counter.
        let counter = Arc::clone(&shop);
        let config = backend.apply(common::config());
        let client = TestClient::new(App::new(config).expect("app").plugin(SharedShop(shop)))
            .await
            .expect("app");
        let requests = (0..50).map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.get("/shared/produits").send().await })
        });
        let responses = futures_join(requests).await;
        assert!(
            responses.iter().all(|r| r.status() == 200),
            "{}",
            backend.name
        );
        assert_eq!(
            counter.ran(),
            1,
            "{}: one handler run for 50 requests",
            backend.name
        );
        let misses = responses
            .iter()
            .filter(|r| r.header("x-cache") == Some("miss"))
            .count();
        assert_eq!(misses, 1, "{}", backend.name);
    }
}

/// `Shop` behind an `Arc` the test keeps, mounted under another name.
struct SharedShop(Arc<Shop>);

#[plugin(name = "shared", prefix = "/shared")]
impl SharedShop {
    #[route(get, "/produits")]
    #[cached(ttl = 300, key = "produits:all")]
    async fn produits(&self) -> Json<Page> {
        Json(Page {
            run: self.0.run().await,
            text: "produits".into(),
        })
    }
}

async fn futures_join<T: Send + 'static>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for handle in handles.collect::<Vec<_>>() {
        out.push(handle.await.expect("task"));
    }
    out
}

#[tokio::test]
async fn an_unreachable_redis_serves_cached_routes_uncached() {
    let config = common::config().with_cache_url(Some("redis://127.0.0.1:1"));
    let client = TestClient::new(App::new(config).expect("app").plugin(Shop::default()))
        .await
        .expect("the app starts without its cache");
    for expected_run in 1..=3 {
        let response = client.get("/shop/produits").send().await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.header("x-cache"), Some("bypass"));
        assert_eq!(run_of(&response), expected_run);
    }
    // Direct cache calls fail with an error the handler turns into a 503.
    let response = client.get("/shop/valeur").send().await;
    assert_eq!(response.status(), 503);
    assert_eq!(common::error_code(&response), "service_unavailable");
}

#[tokio::test]
async fn killing_the_redis_connection_mid_run_keeps_cached_routes_answering() {
    let Some(mut backend) = services::caches().into_iter().find(|c| c.name == "redis") else {
        return;
    };
    // The app signs in as a user of its own, so that only its connections
    // are killed: the other tests share this Redis and must not lose theirs.
    let mut redis_user = services::OwnRedisUser::create(&mut backend).await;

    let client = client_for(&backend, Shop::default()).await;
    assert_eq!(
        client.get("/shop/produits").send().await.header("x-cache"),
        Some("miss")
    );
    assert_eq!(
        client.get("/shop/produits").send().await.header("x-cache"),
        Some("hit")
    );

    // Kill every connection of the app, as a failover or an operator would.
    let killed = redis_user.kill_connections().await;
    assert!(killed >= 1, "the app's connections were killed");

    let mut states = Vec::new();
    for _ in 0..10 {
        let response = client.get("/shop/produits").send().await;
        assert_eq!(response.status(), 200, "never a 500 while Redis reconnects");
        states.push(response.header("x-cache").unwrap_or("").to_owned());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        states.last().map(String::as_str),
        Some("hit"),
        "reconnected: {states:?}"
    );
    redis_user.remove().await;
}

/// Routes that probe the response cache's edges.
struct Edges;

static PLAIN_RUNS: AtomicUsize = AtomicUsize::new(0);

#[plugin(name = "edges", prefix = "/edges")]
impl Edges {
    #[route(get, "/a/{id}")]
    #[cached(ttl = 300, key = "k:{id}")]
    async fn a(Path(id): Path<String>) -> String {
        format!("a {id}")
    }

    #[route(get, "/b/{id}")]
    #[cached(ttl = 300, key = "k:{id}:d")]
    async fn b(Path(id): Path<String>) -> String {
        format!("b {id}")
    }

    #[route(get, "/file")]
    #[cached(ttl = 300)]
    async fn file() -> impl IntoResponse {
        use xcore::http::header;
        (
            [
                (header::CACHE_CONTROL, "max-age=60"),
                (header::CONTENT_SECURITY_POLICY, "default-src 'none'"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"a.txt\"",
                ),
            ],
            "file",
        )
    }

    #[route(get, "/plain")]
    #[cached(ttl = 300)]
    async fn plain() -> String {
        (PLAIN_RUNS.fetch_add(1, Ordering::SeqCst) + 1).to_string()
    }

    /// A public route that reads the credentials without saying so in its
    /// types.
    #[route(get, "/whoami")]
    #[cached(ttl = 300)]
    async fn whoami(headers: xcore::http::HeaderMap) -> String {
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("anonymous")
            .to_owned()
    }

    /// The same with an API key, the guard's other credential.
    #[route(get, "/keyholder")]
    #[cached(ttl = 300)]
    async fn keyholder(headers: xcore::http::HeaderMap) -> String {
        headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("anonymous")
            .to_owned()
    }
}

#[tokio::test]
async fn the_response_cache_keeps_keys_apart_headers_whole_and_credentials_out() {
    for backend in services::caches() {
        let config = backend.apply(common::config());
        let client = TestClient::new(App::new(config).expect("app").plugin(Edges))
            .await
            .expect("app");
        // `k:{id}:d` for 5 and `k:{id}` for `5:d` are different entries.
        assert_eq!(client.get("/edges/b/5").send().await.text(), "b 5");
        assert_eq!(
            client.get("/edges/a/5:d").send().await.text(),
            "a 5:d",
            "{}",
            backend.name
        );

        let miss = client.get("/edges/file").send().await;
        let hit = client.get("/edges/file").send().await;
        assert_eq!(hit.header("x-cache"), Some("hit"));
        for response in [&miss, &hit] {
            assert_eq!(response.header("cache-control"), Some("max-age=60"));
            assert_eq!(
                response.header("content-security-policy"),
                Some("default-src 'none'")
            );
            assert_eq!(
                response.header("content-disposition"),
                Some("attachment; filename=\"a.txt\"")
            );
        }

        // A query the handler never reads does not make new entries.
        let first = client.get("/edges/plain?junk=1").send().await.text();
        for junk in 2..20 {
            let again = client
                .get(&format!("/edges/plain?junk={junk}"))
                .send()
                .await;
            assert_eq!(again.header("x-cache"), Some("hit"), "{}", backend.name);
            assert_eq!(again.text(), first);
        }

        // Credentials on a public route: neither served the shared entry
        // nor stored into it.
        assert_eq!(client.get("/edges/whoami").send().await.text(), "anonymous");
        let with_token = client
            .get("/edges/whoami")
            .header("authorization", "Bearer someone")
            .send()
            .await;
        assert_eq!(with_token.text(), "Bearer someone", "{}", backend.name);
        assert_eq!(with_token.header("x-cache"), Some("bypass"));
        let anonymous = client.get("/edges/whoami").send().await;
        assert_eq!(anonymous.text(), "anonymous");
        assert_eq!(anonymous.header("x-cache"), Some("hit"));
    }
}

/// An `X-API-Key` authenticates as `Authorization` does: on a public
/// cached route the request is neither served the shared entry nor stored
/// into it (issue 27, row 6: it was stored, then served to anyone).
#[tokio::test]
async fn an_api_key_on_a_public_route_is_a_credential_too() {
    for backend in services::caches() {
        let config = backend.apply(common::config());
        let client = TestClient::new(App::new(config).expect("app").plugin(Edges))
            .await
            .expect("app");
        let with_key = client
            .get("/edges/keyholder")
            .header("x-api-key", "xk_someone")
            .send()
            .await;
        assert_eq!(with_key.text(), "xk_someone", "{}", backend.name);
        assert_eq!(
            with_key.header("x-cache"),
            Some("bypass"),
            "{}",
            backend.name
        );
        let anonymous = client.get("/edges/keyholder").send().await;
        assert_eq!(anonymous.text(), "anonymous", "{}", backend.name);
        assert_eq!(
            anonymous.header("x-cache"),
            Some("miss"),
            "{}",
            backend.name
        );
    }
}
