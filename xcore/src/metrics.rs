//! Prometheus metrics at `/metrics` when `metrics.enabled`: requests and
//! latency by route template and status, response-cache outcomes by
//! plugin, authentication failures by reason, rate-limit refusals, the
//! password-hashing queue and the database pool.
//!
//! Requests are counted by a layer that reads what the answer says about
//! itself (its route template, its `x-cache` header, the refusal an
//! error left in its extensions), so no service needs to know metrics
//! exist.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::error::Refusal;
use crate::web::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    plugin: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

type Histograms = Family<RequestLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 8 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

/// The app's metrics.
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Histograms,
    cache: Family<CacheLabels, Counter>,
    auth_failures: Family<ReasonLabels, Counter>,
    rate_limited: Family<RouteLabels, Counter>,
    hash_queue: Gauge,
    pool_size: Gauge,
    pool_idle: Gauge,
    /// Route template → plugin, for the cache outcomes.
    plugins: HashMap<String, String>,
}

impl Metrics {
    /// The metrics of an app whose routes (template, plugin) are these.
    pub(crate) fn new(routes: impl IntoIterator<Item = (String, String)>) -> Arc<Self> {
        let mut registry = Registry::with_prefix("xcore");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: Histograms = Family::new_with_constructor(latency_histogram);
        let cache = Family::<CacheLabels, Counter>::default();
        let auth_failures = Family::<ReasonLabels, Counter>::default();
        let rate_limited = Family::<RouteLabels, Counter>::default();
        let hash_queue = Gauge::default();
        let pool_size = Gauge::default();
        let pool_idle = Gauge::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request",
            latency.clone(),
        );
        registry.register(
            "cache_responses",
            "Answers of cached routes: hit, miss or bypass (cache down)",
            cache.clone(),
        );
        registry.register(
            "auth_failures",
            "Refused authentications, by reason",
            auth_failures.clone(),
        );
        registry.register(
            "rate_limited",
            "Requests refused by a rate limit",
            rate_limited.clone(),
        );
        registry.register(
            "password_hashes_in_flight",
            "Password hashes running or waiting",
            hash_queue.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Database connections open",
            pool_size.clone(),
        );
        registry.register(
            "db_pool_idle_connections",
            "Database connections open and idle",
            pool_idle.clone(),
        );
        Arc::new(Metrics {
            registry,
            requests,
            latency,
            cache,
            auth_failures,
            rate_limited,
            hash_queue,
            pool_size,
            pool_idle,
            plugins: routes.into_iter().collect(),
        })
    }

    fn record(&self, method: &str, route: &str, response: &Response, seconds: f64) {
        let status = response.status().as_u16();
        let labels = RequestLabels {
            method: method.to_owned(),
            route: route.to_owned(),
            status,
        };
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&labels).observe(seconds);
        if let Some(outcome) = response
            .headers()
            .get("x-cache")
            .and_then(|v| v.to_str().ok())
        {
            let plugin = self.plugins.get(route).cloned().unwrap_or_default();
            self.cache
                .get_or_create(&CacheLabels {
                    plugin,
                    outcome: outcome.to_owned(),
                })
                .inc();
        }
        match response.extensions().get::<Refusal>() {
            Some(Refusal::Auth(reason)) => {
                self.auth_failures
                    .get_or_create(&ReasonLabels {
                        reason: (*reason).to_owned(),
                    })
                    .inc();
            }
            Some(Refusal::Throttled) => {
                self.auth_failures
                    .get_or_create(&ReasonLabels {
                        reason: "throttled".to_owned(),
                    })
                    .inc();
            }
            Some(Refusal::RateLimited) => {
                self.rate_limited
                    .get_or_create(&RouteLabels {
                        route: route.to_owned(),
                    })
                    .inc();
            }
            None => {}
        }
    }

    /// The exposition, with the gauges read now: OpenMetrics when the
    /// scraper asks for it (Prometheus does), else the classic Prometheus
    /// text format (`promtool`, older scrapers).
    pub(crate) fn render(&self, state: &AppState, openmetrics: bool) -> String {
        let text = self.render_openmetrics(state);
        if openmetrics {
            text
        } else {
            prometheus_text(&text)
        }
    }

    fn render_openmetrics(&self, state: &AppState) -> String {
        let hashes = state.accounts().hash_pool().in_flight();
        self.hash_queue
            .set(i64::try_from(hashes).unwrap_or(i64::MAX));
        let pool = state.db().pool();
        self.pool_size.set(i64::from(pool.size()));
        self.pool_idle
            .set(i64::try_from(pool.num_idle()).unwrap_or(i64::MAX));
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            return String::new();
        }
        text
    }
}

/// The content type of each format.
pub(crate) const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
pub(crate) const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// OpenMetrics text turned into the Prometheus text format 0.0.4: a
/// counter's `# HELP` and `# TYPE` name its samples' `_total` name (in
/// OpenMetrics they name the family), and `# UNIT` and `# EOF` go.
fn prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let described = ["# HELP ", "# TYPE "].into_iter().find_map(|tag| {
            let rest = line.strip_prefix(tag)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{tag}{name}_total {tail}"))
        });
        match described {
            Some(line) => out.push_str(&line),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// The layer's work: time the request, then count what the answer says.
pub(crate) async fn track(metrics: Arc<Metrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    metrics.record(&method, &route, &response, started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    #[test]
    fn counters_are_described_under_their_sample_name_in_the_prometheus_format() {
        let open = "# HELP x_requests Requests.\n# TYPE x_requests counter\n\
                    x_requests_total{a=\"b\"} 1\n# HELP x_up Up.\n# TYPE x_up gauge\n\
                    # UNIT x_up seconds\nx_up 1\n# EOF\n";
        assert_eq!(
            super::prometheus_text(open),
            "# HELP x_requests_total Requests.\n# TYPE x_requests_total counter\n\
             x_requests_total{a=\"b\"} 1\n# HELP x_up Up.\n# TYPE x_up gauge\nx_up 1\n"
        );
    }
}
