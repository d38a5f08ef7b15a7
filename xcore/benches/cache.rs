//! The route cache against the work it saves, measured in the same run.
//!
//! * `cache/hit_memory` vs `cache/direct`: a `#[cached]` route answered from
//!   the in-process cache against a route returning the same bytes directly
//!   (no work to save: the pure cost of the cache). Target: direct / hit ≥ 0.9.
//! * `cache/hit_redis` vs `cache/hit_memory`: the same hit served by Redis
//!   over loopback (`XCORE_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`;
//!   skipped when Redis does not answer).
//!
//! Run with `cargo bench -p xcore --bench cache`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::http::{Request, header};
use criterion::{Criterion, criterion_group};
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

// glibc's allocator makes timings depend on what ran earlier in the process
// (the same router measured first or third differed by ~15% here); mimalloc,
// which production servers often use, gives stable, comparable figures.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

static TOTALS: Mutex<BTreeMap<&'static str, (Duration, u64)>> = Mutex::new(BTreeMap::new());

fn router(rt: &Runtime, redis: Option<&str>) -> Router {
    let mut config = xcore::testing::config().with_cache_url(redis);
    config.cache.prefix = format!("xcore-bench-{}:", std::process::id());
    rt.block_on(
        App::new(config)
            .expect("app")
            .plugin(Catalogue)
            .into_plain_router(),
    )
    .expect("router")
}

fn measure(
    c: &mut Criterion,
    rt: &Runtime,
    name: &'static str,
    router: Router,
    path: &'static str,
) {
    // Warm the entry so every measured request is a hit.
    rt.block_on(async {
        let request = Request::get(path).body(Body::empty()).expect("request");
        router.clone().oneshot(request).await.expect("infallible");
    });
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let elapsed = rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let request = Request::get(path).body(Body::empty()).expect("request");
                    let response = router.clone().oneshot(request).await.expect("infallible");
                    assert!(response.status().is_success());
                    black_box(
                        to_bytes(response.into_body(), usize::MAX)
                            .await
                            .expect("body"),
                    );
                }
                start.elapsed()
            });
            let mut totals = TOTALS.lock().expect("totals");
            let entry = totals.entry(name).or_default();
            entry.0 += elapsed;
            entry.1 += iters;
            elapsed
        });
    });
}

fn redis_url(rt: &Runtime) -> Option<String> {
    let url =
        std::env::var("XCORE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let reachable = rt.block_on(async {
        let client = redis::Client::open(url.as_str()).ok()?;
        let mut conn = tokio::time::timeout(
            Duration::from_secs(1),
            client.get_multiplexed_async_connection(),
        )
        .await
        .ok()?
        .ok()?;
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .ok()
    });
    reachable.map(|_| url)
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let memory = router(&rt, None);
    measure(c, &rt, "cache/direct", memory.clone(), "/catalogue/direct");
    measure(c, &rt, "cache/hit_memory", memory, "/catalogue/produits");
    match redis_url(&rt) {
        Some(url) => measure(
            c,
            &rt,
            "cache/hit_redis",
            router(&rt, Some(&url)),
            "/catalogue/produits",
        ),
        None => eprintln!("Redis unreachable: cache/hit_redis skipped"),
    }
}

fn print_ratios() {
    let totals = TOTALS.lock().expect("totals");
    let mean = |name: &str| {
        totals
            .get(name)
            .map(|(total, iters)| total.as_secs_f64() * 1e9 / *iters as f64)
    };
    println!("\nratios (mean time per request, same run):");
    if let (Some(direct), Some(hit)) = (mean("cache/direct"), mean("cache/hit_memory")) {
        println!(
            "  direct / #[cached] memory hit (target >= 0.9)   {:>6.3}   ({direct:.0} ns vs {hit:.0} ns)",
            direct / hit
        );
    }
    if let (Some(redis), Some(memory)) = (mean("cache/hit_redis"), mean("cache/hit_memory")) {
        println!(
            "  Redis hit / memory hit                          {:>6.3}   ({redis:.0} ns vs {memory:.0} ns)",
            redis / memory
        );
    }
}

criterion_group! {
    name = cache;
    config = Criterion::default()
        .sample_size(60)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}

fn main() {
    cache();
    Criterion::default().configure_from_args().final_summary();
    print_ratios();
}
