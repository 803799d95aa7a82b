//! The process's Prometheus metrics (`GET /metrics`, docs/operations.md#metrics).
//! Counters and histograms are updated where things happen (the request
//! middleware, the database writer, the job runner); the gauges that describe
//! state (open organizations, sizes, queues) are read when scraped.
//!
//! Labels are `&'static str` and integers, so counting a request allocates
//! nothing once its route has been seen: route templates are interned.

use std::collections::HashSet;
use std::sync::{OnceLock, RwLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: &'static str,
    pub route: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: &'static str,
    pub route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DatabaseLabels {
    pub database: &'static str,
}

fn latency_histogram() -> Histogram {
    // 1 ms … ~16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

fn commit_histogram() -> Histogram {
    // 0.1 ms … ~1.6 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 15))
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub request_seconds: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub commit_seconds: Histogram,
    pub jobs: Family<JobLabels, Counter>,
    pub open_organizations: Gauge,
    pub writer_queue_depth: Gauge,
    pub read_queue_depth: Gauge,
    pub indexer_lag: Gauge,
    pub database_bytes: Family<DatabaseLabels, Gauge>,
    pub index_bytes: Gauge,
    routes: RwLock<HashSet<&'static str>>,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("harmonia");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template and status",
            requests.clone(),
        );
        let request_seconds =
            Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request, by route template",
            request_seconds.clone(),
        );
        let commit_seconds = commit_histogram();
        registry.register(
            "writer_commit_duration_seconds",
            "Time of one database writer batch, from its first statement to its commit",
            commit_seconds.clone(),
        );
        let jobs = Family::<JobLabels, Counter>::default();
        registry.register(
            "job_runs",
            "Background job runs finished since start, by outcome",
            jobs.clone(),
        );
        let open_organizations = Gauge::default();
        registry.register(
            "open_organizations",
            "Organizations whose database is open now",
            open_organizations.clone(),
        );
        let writer_queue_depth = Gauge::default();
        registry.register(
            "writer_queue_depth",
            "Write jobs waiting for a database writer (control and open organizations)",
            writer_queue_depth.clone(),
        );
        let read_queue_depth = Gauge::default();
        registry.register(
            "read_queue_depth",
            "Reads waiting for a database connection (control and open organizations)",
            read_queue_depth.clone(),
        );
        let indexer_lag = Gauge::default();
        registry.register(
            "indexer_lag_records",
            "Changed records not yet in their organization's search index (open organizations)",
            indexer_lag.clone(),
        );
        let database_bytes = Family::<DatabaseLabels, Gauge>::default();
        registry.register(
            "database_size_bytes",
            "Size of the SQLite files (with their write-ahead logs)",
            database_bytes.clone(),
        );
        let index_bytes = Gauge::default();
        registry.register(
            "search_index_size_bytes",
            "Size of every organization's search index",
            index_bytes.clone(),
        );
        Metrics {
            registry,
            requests,
            request_seconds,
            commit_seconds,
            jobs,
            open_organizations,
            writer_queue_depth,
            read_queue_depth,
            indexer_lag,
            database_bytes,
            index_bytes,
            routes: RwLock::new(HashSet::new()),
        }
    }

    /// Counts one answered request. `route` is the matched route template
    /// (`/api/v1/orgs/{org}/contacts/{id}`), never the raw path: ids would
    /// make a series per record.
    pub fn request(&self, method: &'static str, route: &str, status: u16, took: Duration) {
        let route = self.intern(route);
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status,
            })
            .inc();
        self.request_seconds
            .get_or_create(&RouteLabels { method, route })
            .observe(took.as_secs_f64());
    }

    fn intern(&self, route: &str) -> &'static str {
        if let Some(found) = self
            .routes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(route)
        {
            return found;
        }
        let mut routes = self.routes.write().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = routes.get(route) {
            return found;
        }
        // Route templates are a fixed set from the router: each is leaked once.
        let leaked: &'static str = Box::leak(route.to_owned().into_boxed_str());
        routes.insert(leaked);
        leaked
    }

    /// The exposition text (Prometheus text format / OpenMetrics).
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

static ENABLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Turns counting on (`serve` does when /metrics is served at all): with
/// metrics off the hot paths skip even the atomic increments.
pub fn enable() {
    ENABLED.store(true, std::sync::atomic::Ordering::Relaxed);
}

pub fn enabled() -> bool {
    ENABLED.load(std::sync::atomic::Ordering::Relaxed)
}

/// The one set of metrics of this process.
pub fn get() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// An HTTP method as a static label (others are counted as `OTHER`).
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_interned_once_and_counted_by_template() {
        let m = Metrics::new();
        m.request(
            "GET",
            "/api/v1/orgs/{org}/contacts/{id}",
            200,
            Duration::from_millis(3),
        );
        m.request(
            "GET",
            "/api/v1/orgs/{org}/contacts/{id}",
            200,
            Duration::from_millis(5),
        );
        m.request("GET", "/healthz", 503, Duration::from_millis(1));
        let a = m.intern("/healthz");
        let b = m.intern("/healthz");
        assert!(std::ptr::eq(a, b));
        let text = m.encode();
        assert!(
            text.contains(
                r#"harmonia_http_requests_total{method="GET",route="/api/v1/orgs/{org}/contacts/{id}",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains(
            r#"harmonia_http_requests_total{method="GET",route="/healthz",status="503"} 1"#
        ));
        assert!(text.contains("harmonia_http_request_duration_seconds_bucket"));
        assert!(text.ends_with("# EOF\n"));
    }
}
