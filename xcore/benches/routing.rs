//! Routing overhead against hand-written axum, measured in the same run.
//!
//! * `routing/xcore_macro` vs `routing/axum_by_hand`: the same handler behind
//!   a `#[route]` (plugin router, no app middleware) and behind a plain
//!   `axum::Router`. Target: within noise (ratio ≈ 1.0).
//! * `routing/xcore_by_hand`: the same plugin implementing `Plugin` by hand,
//!   to separate the macro's cost (none expected) from xcore's mounting.
//! * `guard/admin` vs `guard/public`: the cost of verifying an HS256 bearer
//!   token and checking a role, against the same route unguarded.
//! * `session/admin_*` vs `session/public_*`: a token issued by `/auth/login`
//!   (with a session) on a guarded route, checked against the in-process
//!   cache or Redis, against the same request on an unguarded route, both
//!   through the full app.
//! * `status/xcore_macro` vs `status/axum_by_hand`: a `status = 201` route
//!   (the handler's 200 rewritten by a response layer) against a hand-written
//!   handler returning `(StatusCode::CREATED, ..)`. A `GET` so that the
//!   request is the same as above; only the status path differs.
//! * `limit/limited` vs `routing/xcore_macro`: the same route with an
//!   in-process `#[rate_limit]` it never reaches (target: ≥ 0.95 of the
//!   unlimited route's throughput, i.e. a time ratio ≤ 1.05).
//! * `app/full_stack` vs `routing/axum_by_hand`: the whole `App::into_router`
//!   (request id, tracing span, JSON errors, panic guard, body limit), for
//!   information.
//!
//! Run with `cargo bench -p xcore --bench routing`; the ratios are printed
//! after criterion's own report. To profile one route instead, set
//! `XCORE_PROFILE_PATH` (e.g. `/bench/limit/7`): the bench then sends that
//! request 400,000 times through the plugin router and exits, which
//! `valgrind --tool=callgrind` can count instruction by instruction.

mod support;

use std::time::Duration;

use axum::Router;
use criterion::{Criterion, criterion_group};
use serde::Serialize;
use support::{measure, print_ratios, redis_url, request};
use tokio::runtime::Runtime;
use xcore::prelude::*;

#[derive(Serialize)]
struct Item {
    id: u64,
    name: &'static str,
}

async fn show_item(Path(id): Path<u64>) -> Json<Item> {
    Json(Item {
        id,
        name: "clavier",
    })
}

struct Bench;

#[plugin(prefix = "/bench")]
impl Bench {
    #[route(get, "/items/{id}")]
    async fn show(id: Path<u64>) -> Json<Item> {
        show_item(id).await
    }

    #[route(get, "/admin/items/{id}", auth = "admin")]
    async fn show_admin(id: Path<u64>) -> Json<Item> {
        show_item(id).await
    }

    #[route(get, "/created/{id}", status = 201)]
    async fn created(id: Path<u64>) -> Json<Item> {
        show_item(id).await
    }

    /// The `/items/{id}` route with a limit it never reaches: the cost of
    /// counting, not of refusing (a path of the same length, so that only
    /// the limit differs).
    #[route(get, "/limit/{id}")]
    #[rate_limit(1_000_000_000, per = "second", key = ip)]
    async fn limited(id: Path<u64>) -> Json<Item> {
        show_item(id).await
    }
}

async fn created_item(id: Path<u64>) -> (StatusCode, Json<Item>) {
    (StatusCode::CREATED, show_item(id).await)
}

/// The same routes written as a `Plugin` by hand, without the macros.
struct ByHand;

impl xcore::Plugin for ByHand {
    fn meta(&self) -> xcore::PluginMeta {
        xcore::PluginMeta::new("by_hand").prefix("/bench")
    }
    fn routes(self: std::sync::Arc<Self>) -> xcore::Routes {
        xcore::Routes::new()
            .route(xcore::RouteInfo::get("/items/{id}"), show_item)
            .route(
                xcore::RouteInfo::get("/admin/items/{id}").guard(Guard::role("admin")),
                show_item,
            )
    }
}

/// Ratios measured in interleaved rounds, printed with criterion's.
static INTERLEAVED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn app() -> App {
    App::new(xcore::testing::config())
        .expect("app")
        .plugin(Bench)
}

fn benches(c: &mut Criterion) {
    let rt = support::runtime();
    let token = {
        let app = app();
        let claims =
            xcore::security::Claims::new("1", Duration::from_secs(3600)).with_roles(["admin"]);
        xcore::security::create_token(app.jwt_keys(), &claims).expect("token")
    };

    // The same two routes as the plugin, so both routers match alike.
    let by_hand = Router::new()
        .route("/bench/items/{id}", axum::routing::get(show_item))
        .route("/bench/admin/items/{id}", axum::routing::get(show_item))
        .route("/bench/created/{id}", axum::routing::get(created_item));
    let plain = rt.block_on(app().into_plain_router()).expect("router");
    let manual = rt
        .block_on(
            App::new(xcore::testing::config())
                .expect("app")
                .plugin(ByHand)
                .into_plain_router(),
        )
        .expect("router");
    let full = rt.block_on(app().into_router()).expect("router");
    if let Ok(path) = std::env::var("XCORE_PROFILE_PATH") {
        let path: &'static str = Box::leak(path.into_boxed_str());
        let make = || request(path, None);
        support::interleaved(&rt, &plain, make(), &plain, make(), 1, 100_000);
        std::process::exit(0);
    }

    measure(
        c,
        &rt,
        "routing/axum_by_hand",
        by_hand.clone(),
        request("/bench/items/7", None),
    );
    measure(
        c,
        &rt,
        "routing/xcore_macro",
        plain.clone(),
        request("/bench/items/7", None),
    );
    measure(
        c,
        &rt,
        "routing/xcore_by_hand",
        manual,
        request("/bench/items/7", None),
    );
    measure(
        c,
        &rt,
        "status/axum_by_hand",
        by_hand.clone(),
        request("/bench/created/7", None),
    );
    measure(
        c,
        &rt,
        "status/xcore_macro",
        plain.clone(),
        request("/bench/created/7", None),
    );
    measure(
        c,
        &rt,
        "limit/limited",
        plain.clone(),
        request("/bench/limit/7", None),
    );
    let (ratio, limited, unlimited) = support::interleaved(
        &rt,
        &plain,
        request("/bench/limit/7", None),
        &plain,
        request("/bench/items/7", None),
        41,
        20_000,
    );
    INTERLEAVED.lock().expect("interleaved").push(format!(
        "  rate-limited / unlimited route, plugin router, interleaved  {ratio:.3}   ({limited:.0} ns vs {unlimited:.0} ns; throughput {:.3})",
        1.0 / ratio
    ));
    let (ratio, limited, unlimited) = support::interleaved(
        &rt,
        &full,
        request("/bench/limit/7", None),
        &full,
        request("/bench/items/7", None),
        41,
        20_000,
    );
    INTERLEAVED.lock().expect("interleaved").push(format!(
        "  rate-limited / unlimited route, full app, interleaved       {ratio:.3}   ({limited:.0} ns vs {unlimited:.0} ns; throughput {:.3})",
        1.0 / ratio
    ));
    measure(
        c,
        &rt,
        "guard/public",
        plain.clone(),
        request("/bench/items/7", Some(&token)),
    );
    measure(
        c,
        &rt,
        "guard/admin",
        plain,
        request("/bench/admin/items/7", Some(&token)),
    );
    measure(
        c,
        &rt,
        "app/full_stack",
        full,
        request("/bench/items/7", None),
    );
    session_benches(c, &rt);
}

/// A full app whose admin logged in through `/auth`: its token has a
/// session, so the guard checks it against the cache.
fn session_app(rt: &Runtime, redis: Option<&str>) -> (Router, String) {
    let mut config = xcore::testing::config().with_cache_url(redis);
    config.cache.prefix = support::prefix();
    config.admin.email = Some("admin@example.com".into());
    config.admin.password = Some("bench password".into());
    let (router, state) = rt
        .block_on(App::new(config).expect("app").plugin(Bench).into_parts())
        .expect("app");
    let pair = rt
        .block_on(
            state
                .accounts()
                .login("admin@example.com", "bench password"),
        )
        .expect("login");
    let xcore::accounts::LoginOutcome::Tokens(pair) = pair else {
        panic!("the bench admin has no second factor");
    };
    (router, pair.access_token)
}

fn session_benches(c: &mut Criterion, rt: &Runtime) {
    let (memory, token) = session_app(rt, None);
    measure(
        c,
        rt,
        "session/public_memory",
        memory.clone(),
        request("/bench/items/7", Some(&token)),
    );
    measure(
        c,
        rt,
        "session/admin_memory",
        memory,
        request("/bench/admin/items/7", Some(&token)),
    );
    match redis_url(rt) {
        Some(url) => {
            let (redis, token) = session_app(rt, Some(&url));
            measure(
                c,
                rt,
                "session/public_redis",
                redis.clone(),
                request("/bench/items/7", Some(&token)),
            );
            measure(
                c,
                rt,
                "session/admin_redis",
                redis,
                request("/bench/admin/items/7", Some(&token)),
            );
        }
        None => eprintln!("Redis unreachable: session/*_redis skipped"),
    }
}

criterion_group! {
    name = routing;
    config = support::criterion();
    targets = benches
}

fn main() {
    routing();
    Criterion::default().configure_from_args().final_summary();
    print_ratios(&[
        (
            "#[route] router / hand-written axum",
            "routing/xcore_macro",
            "routing/axum_by_hand",
        ),
        (
            "#[route] router / hand-written Plugin impl",
            "routing/xcore_macro",
            "routing/xcore_by_hand",
        ),
        (
            "status = 201 route / hand-written (CREATED, Json)",
            "status/xcore_macro",
            "status/axum_by_hand",
        ),
        (
            "rate-limited route (in-process) / the same route unlimited",
            "limit/limited",
            "routing/xcore_macro",
        ),
        (
            "auth = \"admin\" route / unguarded route",
            "guard/admin",
            "guard/public",
        ),
        (
            "session-token admin route / public (memory)",
            "session/admin_memory",
            "session/public_memory",
        ),
        (
            "session-token admin route / public (Redis)",
            "session/admin_redis",
            "session/public_redis",
        ),
        (
            "full App stack / hand-written axum",
            "app/full_stack",
            "routing/axum_by_hand",
        ),
    ]);
    for line in INTERLEAVED.lock().expect("interleaved").iter() {
        println!("{line}");
    }
}
