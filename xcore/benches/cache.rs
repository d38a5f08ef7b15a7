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
//! Run with `cargo bench -p xcore --bench cache`.

mod support;

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use criterion::{Criterion, criterion_group};
use support::{measure, print_ratios, redis_url, request};
use tokio::runtime::Runtime;
use tower::ServiceExt;
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

fn benches(c: &mut Criterion) {
    let rt = support::runtime();
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
    ]);
}
