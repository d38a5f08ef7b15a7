//! What both benchmarks share: in-process requests through a router, timed
//! per benchmark so ratios between two of them (same run) can be printed.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, header};
use criterion::Criterion;
use tokio::runtime::Runtime;
use tower::ServiceExt;

// glibc's allocator makes timings depend on what ran earlier in the process
// (the same router measured first or third differed by ~15% here); mimalloc,
// which production servers often use, gives stable, comparable figures.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Total time and iterations per benchmark.
static TOTALS: Mutex<BTreeMap<&'static str, (Duration, u64)>> = Mutex::new(BTreeMap::new());

/// Criterion's settings for both benches: enough samples for stable means,
/// short enough for a 2-core machine.
pub fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(60)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

/// A single-threaded runtime with timers (the database pool needs them).
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A `GET path` request factory, with a bearer token if given.
pub fn request(path: &'static str, token: Option<&str>) -> impl Fn() -> Request<Body> {
    let authorization = token.map(|t| format!("Bearer {t}"));
    move || {
        let mut builder = Request::get(path);
        if let Some(value) = &authorization {
            builder = builder.header(header::AUTHORIZATION, value);
        }
        builder.body(Body::empty()).expect("request")
    }
}

/// Benchmarks `router` answering `make()` requests (each response read in
/// full), and records the totals under `name`.
pub fn measure(
    c: &mut Criterion,
    rt: &Runtime,
    name: &'static str,
    router: Router,
    make: impl Fn() -> Request<Body>,
) {
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let elapsed = rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let response = router.clone().oneshot(make()).await.expect("infallible");
                    assert!(response.status().is_success());
                    black_box(
                        to_bytes(response.into_body(), usize::MAX)
                            .await
                            .expect("body"),
                    );
                }
                start.elapsed()
            });
            record(name, elapsed, iters);
            elapsed
        });
    });
}

/// Adds `iters` runs taking `elapsed` in all to `name`'s totals (for
/// benchmarks timing something else than a request).
pub fn record(name: &'static str, elapsed: Duration, iters: u64) {
    let mut totals = TOTALS.lock().expect("totals");
    let entry = totals.entry(name).or_default();
    entry.0 += elapsed;
    entry.1 += iters;
}

/// Redis from `XCORE_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`),
/// if it answers.
pub fn redis_url(rt: &Runtime) -> Option<String> {
    let url =
        std::env::var("XCORE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let mut config = xcore::testing::config().with_cache_url(Some(&url));
    config.cache.timeout_ms = 1000;
    let cache = xcore::cache::Cache::connect(&config.cache).ok()?;
    rt.block_on(cache.set("bench-ping", "1", 5))
        .ok()
        .map(|_| url)
}

/// A cache prefix of this process, so runs never read each other's entries.
pub fn prefix() -> String {
    format!("xcore-bench-{}:", std::process::id())
}

/// Prints `label  numerator/denominator` for each pair measured in this run.
pub fn print_ratios(pairs: &[(&str, &str, &str)]) {
    let totals = TOTALS.lock().expect("totals");
    let mean = |name: &str| {
        totals
            .get(name)
            .map(|(total, iters)| total.as_secs_f64() * 1e9 / *iters as f64)
    };
    println!("\nratios (mean time per request, same run):");
    for (label, numerator, denominator) in pairs {
        if let (Some(n), Some(d)) = (mean(numerator), mean(denominator)) {
            println!("  {label:<46} {:>7.3}   ({n:.0} ns vs {d:.0} ns)", n / d);
        }
    }
}

/// Interleaved rounds of `a` and `b` (each round: `batch` requests to one,
/// then to the other, the order alternating), so drift of the machine hits
/// both alike: the median of the rounds' time ratios a/b, and the medians
/// of each in ns per request. For comparisons that must hold within a few
/// per cent, where consecutive criterion groups drift more than that.
// The cache bench shares this module without using it.
#[allow(dead_code)]
pub fn interleaved(
    rt: &Runtime,
    a: &Router,
    make_a: impl Fn() -> Request<Body>,
    b: &Router,
    make_b: impl Fn() -> Request<Body>,
    rounds: usize,
    batch: usize,
) -> (f64, f64, f64) {
    let time = |router: &Router, make: &dyn Fn() -> Request<Body>| {
        rt.block_on(async {
            let start = Instant::now();
            for _ in 0..batch {
                let response = router.clone().oneshot(make()).await.expect("infallible");
                assert!(response.status().is_success());
                black_box(
                    to_bytes(response.into_body(), usize::MAX)
                        .await
                        .expect("body"),
                );
            }
            start.elapsed().as_secs_f64() * 1e9 / batch as f64
        })
    };
    // Warm both up.
    time(a, &make_a);
    time(b, &make_b);
    let mut ratios = Vec::with_capacity(rounds);
    let mut times_a = Vec::with_capacity(rounds);
    let mut times_b = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let (ta, tb) = if round % 2 == 0 {
            let ta = time(a, &make_a);
            (ta, time(b, &make_b))
        } else {
            let tb = time(b, &make_b);
            (time(a, &make_a), tb)
        };
        ratios.push(ta / tb);
        times_a.push(ta);
        times_b.push(tb);
    }
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    (median(ratios), median(times_a), median(times_b))
}
