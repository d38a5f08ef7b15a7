//! Cache tags: entries of one plugin invalidated by another, by
//! `Cache::invalidate_tags` or a route's `#[invalidates]`, on the in-process
//! cache and on Redis, with one instance and two.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::services::{self, TestCache};
use xcore::cache::{Cache, CacheError};
use xcore::prelude::*;
use xcore::testing::{TestClient, TestResponse};

/// Plugin A: a borrower's loans, cached per user and tagged.
#[derive(Default)]
struct Prets {
    runs: AtomicUsize,
}

#[plugin(name = "prets", prefix = "/prets")]
impl Prets {
    #[route(get, "/mes-prets", auth)]
    #[cached(ttl = 300, key = "mes-prets:{user}", tags = ["livres", "prets:{user}"])]
    async fn mes_prets(&self, user: CurrentUser) -> String {
        let run = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
        format!("{} run {run}", user.id())
    }
}

/// Plugin B: writes that make A's entries stale.
struct Livres;

#[plugin(name = "livres", prefix = "/livres")]
impl Livres {
    #[route(delete, "/{id}", auth, status = 204)]
    #[invalidates("livres")]
    async fn supprimer(Path(_id): Path<u32>) {}

    /// A write that fails: nothing is invalidated.
    #[route(post, "/echec", auth)]
    #[invalidates("livres")]
    async fn echec() -> xcore::Result<()> {
        Err(Error::NotFound("no such book".into()))
    }

    /// The user's own loans only, by hand.
    #[route(post, "/rendre", auth, status = 204)]
    async fn rendre(cache: Cache, user: CurrentUser) -> xcore::Result<()> {
        cache
            .invalidate_tags([format!("prets:{}", user.id())])
            .await?;
        Ok(())
    }
}

async fn instance(cache: &TestCache) -> TestClient {
    let config = cache.apply(common::config());
    let app = App::new(config)
        .expect("app")
        .plugin(Prets::default())
        .plugin(Livres);
    TestClient::new(app).await.expect("app")
}

async fn loans(client: &TestClient, token: &str) -> TestResponse {
    let response = client.get("/prets/mes-prets").bearer(token).send().await;
    assert_eq!(response.status(), 200, "{}", response.text());
    response
}

fn state(response: &TestResponse) -> &str {
    response.header("x-cache").unwrap_or("none")
}

#[tokio::test]
async fn a_route_of_one_plugin_invalidated_by_another_is_a_miss_next_time() {
    for backend in services::caches() {
        let name = backend.name;
        let client = instance(&backend).await;
        let ada = client.token("ada", &[]).expect("token");
        let bob = client.token("bob", &[]).expect("token");
        assert_eq!(state(&loans(&client, &ada).await), "miss", "{name}");
        assert_eq!(state(&loans(&client, &bob).await), "miss", "{name}");
        assert_eq!(state(&loans(&client, &ada).await), "hit", "{name}");

        let failed = client.post("/livres/echec").bearer(&ada).send().await;
        assert_eq!(failed.status(), 404, "{name}");
        assert_eq!(
            state(&loans(&client, &ada).await),
            "hit",
            "{name}: a failed write invalidates nothing"
        );

        let deleted = client.delete("/livres/7").bearer(&ada).send().await;
        assert_eq!(deleted.status(), 204, "{name}");
        let after = loans(&client, &ada).await;
        assert_eq!(state(&after), "miss", "{name}");
        assert_eq!(after.text(), "ada run 3", "{name}");
        assert_eq!(state(&loans(&client, &bob).await), "miss", "{name}");

        // A per-user tag: only that user's entry goes.
        let returned = client.post("/livres/rendre").bearer(&bob).send().await;
        assert_eq!(returned.status(), 204, "{name}");
        assert_eq!(state(&loans(&client, &bob).await), "miss", "{name}");
        assert_eq!(state(&loans(&client, &ada).await), "hit", "{name}");
    }
}

#[tokio::test]
async fn two_instances_on_redis_both_miss_after_one_invalidates() {
    let Some(redis) = services::caches().into_iter().find(|c| c.url.is_some()) else {
        return;
    };
    let one = instance(&redis).await;
    let two = instance(&redis).await;
    let ada = one.token("ada", &[]).expect("token");
    assert_eq!(state(&loans(&one, &ada).await), "miss");
    assert_eq!(state(&loans(&two, &ada).await), "hit", "shared entries");

    assert_eq!(
        two.delete("/livres/1").bearer(&ada).send().await.status(),
        204
    );
    assert_eq!(
        miss_within(&one, &ada).await,
        "miss",
        "the other instance, within a round trip"
    );
    assert_eq!(state(&loans(&two, &ada).await), "hit");

    // And by hand from a plugin's handle on the first instance.
    one.cache("livres")
        .invalidate_tags(["prets:ada"])
        .await
        .expect("invalidated");
    assert_eq!(miss_within(&two, &ada).await, "miss");
}

/// The cache state of `token`'s loans on `client` once it is a miss, asked
/// again until it is or a request started after the propagation time still
/// is not.
async fn miss_within(client: &TestClient, token: &str) -> String {
    let start = std::time::Instant::now();
    loop {
        let asked = start.elapsed();
        let response = loans(client, token).await;
        if state(&response) == "miss" || asked >= common::PROPAGATION_UNDER_LOAD {
            return state(&response).to_owned();
        }
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn tagged_values_go_with_their_tags_whichever_plugin_asks() {
    for backend in services::caches() {
        let name = backend.name;
        let config = backend.apply(common::config());
        let root = Cache::connect(&config.cache).expect("cache");
        let (prets, livres) = (root.scoped("prets"), root.scoped("livres"));
        prets
            .set_tagged("a", "1", 60, ["livres", "x"])
            .await
            .expect(name);
        prets.set_tagged("b", "2", 60, ["x"]).await.expect(name);
        prets.set("c", "3", 60).await.expect(name);
        livres
            .set_tagged("a", "4", 60, ["livres"])
            .await
            .expect(name);

        livres.invalidate_tags(["livres"]).await.expect(name);
        assert_eq!(prets.get("a").await.expect(name), None, "{name}");
        assert_eq!(livres.get("a").await.expect(name), None, "{name}");
        assert_eq!(prets.get("b").await.expect(name).as_deref(), Some("2"));
        assert_eq!(prets.get("c").await.expect(name).as_deref(), Some("3"));

        // Stored again after the invalidation: alive.
        prets
            .set_tagged("a", "5", 60, ["livres"])
            .await
            .expect(name);
        assert_eq!(prets.get("a").await.expect(name).as_deref(), Some("5"));
        // A tag nothing carries, and no tag at all, are fine.
        livres.invalidate_tags(["rien"]).await.expect(name);
        livres
            .invalidate_tags(Vec::<String>::new())
            .await
            .expect(name);
        assert!(matches!(
            prets.set_tagged("d", "6", 60, [""]).await,
            Err(CacheError::EmptyTag)
        ));
        assert!(matches!(
            prets.invalidate_tags([""]).await,
            Err(CacheError::EmptyTag)
        ));
    }
}

#[tokio::test]
async fn ten_thousand_entries_of_one_tag_go_in_one_call() {
    for backend in services::caches() {
        let name = backend.name;
        let config = backend.apply(common::config());
        let cache = Cache::connect(&config.cache).expect("cache").scoped("bulk");
        for i in 0..10_000 {
            cache
                .set_tagged(&format!("k{i}"), "v", 60, ["bulk"])
                .await
                .expect(name);
        }
        cache.set("untagged", "v", 60).await.expect(name);
        cache.invalidate_tags(["bulk"]).await.expect(name);
        for i in [0, 4_999, 9_999] {
            assert_eq!(cache.get(&format!("k{i}")).await.expect(name), None);
        }
        assert!(cache.exists("untagged").await.expect(name), "{name}");
        if let Some(url) = &backend.url {
            // The namespace's index lost them too: a flush costs what is left.
            let client = redis::Client::open(url.as_str()).expect("client");
            let mut conn = client
                .get_multiplexed_async_connection()
                .await
                .expect("connection");
            let index = format!("{}#index:bulk:", backend.prefix);
            let left: u64 = redis::cmd("ZCARD")
                .arg(&index)
                .query_async(&mut conn)
                .await
                .expect("zcard");
            assert_eq!(left, 1, "only the untagged key is indexed");
            cache.delete("untagged").await.expect(name);
            let left: u64 = redis::cmd("ZCARD")
                .arg(&index)
                .query_async(&mut conn)
                .await
                .expect("zcard");
            assert_eq!(left, 0, "a deleted key leaves the index");
        }
    }
}

#[tokio::test]
async fn flush_pattern_finds_counters_and_values_but_not_other_namespaces() {
    for backend in services::caches() {
        let name = backend.name;
        let config = backend.apply(common::config());
        let root = Cache::connect(&config.cache).expect("cache");
        let (mine, theirs) = (root.scoped("mine"), root.scoped("theirs"));
        mine.set("produits:1", "x", 60).await.expect(name);
        mine.increment("produits:vues", 60).await.expect(name);
        mine.set_json("produits:liste", &[1, 2], 60)
            .await
            .expect(name);
        theirs.set("produits:1", "y", 60).await.expect(name);
        assert_eq!(
            mine.flush_pattern("produits:*").await.expect(name),
            3,
            "{name}"
        );
        assert!(!mine.exists("produits:vues").await.expect(name), "{name}");
        assert_eq!(
            theirs.get("produits:1").await.expect(name).as_deref(),
            Some("y"),
            "{name}"
        );
        assert_eq!(mine.flush_pattern("*").await.expect(name), 0, "{name}");
    }
}
