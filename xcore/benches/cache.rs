//! The route cache against the work it saves, measured in the same run.
//!
//! * `cache/hit_memory` vs `cache/direct`: a `#[cached]` route answered from
//!   the in-process cache against a route returning the same bytes directly
//!   (no work to save: the pure cost of the cache). Target: direct / hit ≥ 0.9,
//!   that is hit / direct ≤ 1.11 as printed.
//! * `cache/hit_redis` vs `cache/hit_memory`: the same hit served by Redis
//!   over loopback (`XCORE_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`;
//!   skipped when Redis does not answer).
//!
//! * `tags/invalidate_10000_*` vs `tags/invalidate_10_*`: one
//!   `invalidate_tags` of a tag carried by 10,000 entries against one of a
//!   tag carried by 10 (the entries stored again, untimed, before each):
//!   one call either way, so the ratio is what the server does per entry,
//!   not round trips.
//! * `flush/300k_unrelated` vs `flush/empty`: `flush_pattern("produits:*")`
//!   over a plugin's 10 keys with 300,000 unrelated keys in the same Redis
//!   database, against the same flush with none (target ≤ 2: the cost is
//!   the plugin's own keys).
//!
//! Run with `cargo bench -p xcore --bench cache`.

mod support;

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use criterion::{Criterion, criterion_group};
use std::time::{Duration, Instant};
use support::{measure, print_ratios, redis_url, request};

use tokio::runtime::Runtime;
use tower::ServiceExt;
use xcore::cache::Cache;
use xcore::prelude::*;

const BODY: &[u8] = br#"[{"id":1,"nom":"Clavier","prix_centimes":4990},{"id":2,"nom":"Souris","prix_centimes":1990}]"#;

fn body() -> ([(header::HeaderName, &'static str); 1], Bytes) {
    (
        [(header::CONTENT_TYPE, "application/json")],
        Bytes::from_static(BODY),
    )
}

struct Catalogue;

#[plugin(prefix = "/catalogue")]
impl Catalogue {
    #[route(get, "/direct")]
    async fn direct() -> ([(header::HeaderName, &'static str); 1], Bytes) {
        body()
    }

    #[route(get, "/produits")]
    #[cached(ttl = 3600, key = "produits:all")]
    async fn produits() -> ([(header::HeaderName, &'static str); 1], Bytes) {
        body()
    }
}

fn router(rt: &Runtime, redis: Option<&str>) -> Router {
    let mut config = xcore::testing::config().with_cache_url(redis);
    config.cache.prefix = support::prefix();
    rt.block_on(
        App::new(config)
            .expect("app")
            .plugin(Catalogue)
            .into_plain_router(),
    )
    .expect("router")
}

/// Measures hits: the entry is filled once before timing.
fn measure_hits(
    c: &mut Criterion,
    rt: &Runtime,
    name: &'static str,
    router: Router,
    path: &'static str,
) {
    rt.block_on(router.clone().oneshot(request(path, None)()))
        .expect("infallible");
    measure(c, rt, name, router, request(path, None));
}

/// `invalidate_tags` of a tag carried by `entries` entries, timed alone.
fn measure_invalidation(
    c: &mut Criterion,
    rt: &Runtime,
    name: &'static str,
    cache: &Cache,
    entries: usize,
) {
    let keys: Vec<String> = (0..entries).map(|i| format!("livre:{i}")).collect();
    let mut group = c.benchmark_group("tags");
    group.sample_size(10);
    group.bench_function(name.trim_start_matches("tags/"), |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                rt.block_on(async {
                    // Stored concurrently: the connection pipelines them.
                    let stores = keys
                        .iter()
                        .map(|key| cache.set_tagged(key, "{}", 600, ["livres"]));
                    for stored in futures_util::future::join_all(stores).await {
                        stored.expect("stored");
                    }
                    let start = Instant::now();
                    cache
                        .invalidate_tags(["livres"])
                        .await
                        .expect("invalidated");
                    elapsed += start.elapsed();
                });
            }
            support::record(name, elapsed, iters);
            elapsed
        });
    });
    group.finish();
}

/// `flush_pattern` over a plugin's 10 keys, timed alone.
fn measure_flush(c: &mut Criterion, rt: &Runtime, name: &'static str, cache: &Cache) {
    let mut group = c.benchmark_group("flush");
    group.sample_size(20);
    group.bench_function(name.trim_start_matches("flush/"), |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                rt.block_on(async {
                    for i in 0..10 {
                        cache
                            .set(&format!("produits:{i}"), "{}", 600)
                            .await
                            .expect("stored");
                    }
                    let start = Instant::now();
                    let flushed = cache.flush_pattern("produits:*").await.expect("flushed");
                    elapsed += start.elapsed();
                    assert_eq!(flushed, 10);
                });
            }
            support::record(name, elapsed, iters);
            elapsed
        });
    });
    group.finish();
}

/// Fills Redis with `count` keys no plugin owns (another prefix), or
/// removes them; pipelined by 10,000.
fn unrelated_keys(rt: &Runtime, url: &str, count: usize, remove: bool) {
    rt.block_on(async {
        let client = redis::Client::open(url).expect("client");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connection");
        let prefix = format!("xcore-bench-unrelated-{}:", std::process::id());
        for start in (0..count).step_by(10_000) {
            let mut pipe = redis::pipe();
            for i in start..(start + 10_000).min(count) {
                let key = format!("{prefix}{i}");
                if remove {
                    pipe.unlink(key).ignore();
                } else {
                    pipe.set_ex(key, "x", 600).ignore();
                }
            }
            let () = pipe.query_async(&mut conn).await.expect("pipeline");
        }
    });
}

fn benches(c: &mut Criterion) {
    let rt = support::runtime();
    tag_and_flush_benches(c, &rt);
    let memory = router(&rt, None);
    measure_hits(c, &rt, "cache/direct", memory.clone(), "/catalogue/direct");
    measure_hits(c, &rt, "cache/hit_memory", memory, "/catalogue/produits");
    match redis_url(&rt) {
        Some(url) => {
            let redis = router(&rt, Some(&url));
            measure_hits(c, &rt, "cache/hit_redis", redis, "/catalogue/produits");
        }
        None => eprintln!("Redis unreachable: cache/hit_redis skipped"),
    }
}

fn tag_and_flush_benches(c: &mut Criterion, rt: &Runtime) {
    let memory = Cache::memory(64 << 20).scoped("bench");
    measure_invalidation(c, rt, "tags/invalidate_10_memory", &memory, 10);
    measure_invalidation(c, rt, "tags/invalidate_10000_memory", &memory, 10_000);
    let Some(url) = redis_url(rt) else {
        eprintln!("Redis unreachable: tags/*_redis and flush/* skipped");
        return;
    };
    let mut config = xcore::testing::config().with_cache_url(Some(&url));
    config.cache.prefix = support::prefix();
    let redis = Cache::connect(&config.cache).expect("cache");
    let (livres, catalogue) = (redis.scoped("livres"), redis.scoped("catalogue"));
    measure_invalidation(c, rt, "tags/invalidate_10_redis", &livres, 10);
    measure_invalidation(c, rt, "tags/invalidate_10000_redis", &livres, 10_000);
    measure_flush(c, rt, "flush/empty", &catalogue);
    unrelated_keys(rt, &url, 300_000, false);
    measure_flush(c, rt, "flush/300k_unrelated", &catalogue);
    unrelated_keys(rt, &url, 300_000, true);
}

criterion_group! {
    name = cache;
    config = support::criterion();
    targets = benches
}

fn main() {
    cache();
    Criterion::default().configure_from_args().final_summary();
    print_ratios(&[
        (
            "#[cached] memory hit / direct (target <= 1.11)",
            "cache/hit_memory",
            "cache/direct",
        ),
        (
            "Redis hit / memory hit",
            "cache/hit_redis",
            "cache/hit_memory",
        ),
        (
            "invalidate a tag of 10,000 entries / of 10 (memory)",
            "tags/invalidate_10000_memory",
            "tags/invalidate_10_memory",
        ),
        (
            "invalidate a tag of 10,000 entries / of 10 (Redis)",
            "tags/invalidate_10000_redis",
            "tags/invalidate_10_redis",
        ),
        (
            "flush_pattern, 300,000 unrelated keys / none (target <= 2)",
            "flush/300k_unrelated",
            "flush/empty",
        ),
    ]);
}
