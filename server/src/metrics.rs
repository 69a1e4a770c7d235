//! Prometheus metrics for operators (`GET /metrics`): counts and gauges only, never content,
//! ids or names. Each application has its own registry, so tests can run many side by side.

use prometheus::{Encoder, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

use crate::auth::limits::Limit;

/// The metrics of one running Cairn.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Automerge changes committed to storage.
    pub changes_stored: IntCounter,
    /// Times a plan was found not to fit the document schema (it is kept and synced anyway).
    pub schema_mismatches: IntCounter,
    /// Sync messages refused (authorship, malformed data, floods, …).
    pub sync_refusals: IntCounter,
    /// Sync steps (a message taken in, or an answer worked out) done by the shortcut for the
    /// everyday exchange.
    pub sync_shortcut_steps: IntCounter,
    /// Sync steps left to automerge's general code.
    pub sync_general_steps: IntCounter,
    /// Plan documents read from storage into memory (a REST read of a plan nobody is syncing
    /// loads it once, shared by everyone asking at the same time).
    pub plan_loads: IntCounter,
    /// Passwords hashed or checked with argon2 on sign-up and sign-in: the costly work that
    /// attempt limits keep in check.
    pub password_hashes: IntCounter,
    /// Attempts refused by an attempt limit (login, registration, codes), by limit.
    rate_limited: IntCounterVec,
    /// Bytes waiting to be sent on all sync connections (each bounded by `max_outbox_bytes`).
    pub outbox_bytes: IntGauge,
    /// Presence sessions the loaded plans remember (to drop duplicates).
    pub presence_sessions: IntGauge,
    plans_not_fitting: IntGauge,
    plans_with_open_conflicts: IntGauge,
    open_connections: IntGauge,
    loaded_plans: IntGauge,
}

// Metric names and help texts are constants in this file: construction cannot fail at run time.
#[allow(clippy::expect_used)]
fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let counter = IntCounter::new(name, help).expect("a valid metric name");
    let _ = registry.register(Box::new(counter.clone()));
    counter
}

#[allow(clippy::expect_used)]
fn counter_by(registry: &Registry, name: &str, help: &str, label: &str) -> IntCounterVec {
    let counter = IntCounterVec::new(Opts::new(name, help), &[label]).expect("a valid metric name");
    let _ = registry.register(Box::new(counter.clone()));
    counter
}

#[allow(clippy::expect_used)]
fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let gauge = IntGauge::new(name, help).expect("a valid metric name");
    let _ = registry.register(Box::new(gauge.clone()));
    gauge
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every Cairn metric.
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("cairn".into()), None).unwrap_or_default();
        Self {
            changes_stored: counter(
                &registry,
                "changes_stored_total",
                "Automerge changes committed to storage.",
            ),
            schema_mismatches: counter(
                &registry,
                "plan_schema_mismatches_total",
                "Times a plan document was found not to fit the schema (kept and synced anyway).",
            ),
            sync_refusals: counter(
                &registry,
                "sync_refusals_total",
                "Sync messages refused with an error.",
            ),
            sync_shortcut_steps: counter(
                &registry,
                "sync_shortcut_steps_total",
                "Sync messages taken in and answers worked out by the shortcut for the everyday exchange.",
            ),
            sync_general_steps: counter(
                &registry,
                "sync_general_steps_total",
                "Sync messages taken in and answers worked out by automerge's general sync code.",
            ),
            plan_loads: counter(
                &registry,
                "plan_loads_total",
                "Plan documents read from storage into memory.",
            ),
            password_hashes: counter(
                &registry,
                "password_hashes_total",
                "Passwords hashed or checked with argon2 on sign-up and sign-in.",
            ),
            rate_limited: {
                let counter = counter_by(
                    &registry,
                    "rate_limited_total",
                    "Attempts refused with 429 by an attempt limit (login, registration, codes).",
                    "limit",
                );
                // Every limit shows from the start, at 0.
                for limit in Limit::ALL {
                    let _ = counter.get_metric_with_label_values(&[limit.name()]);
                }
                counter
            },
            outbox_bytes: gauge(
                &registry,
                "sync_outbox_bytes",
                "Bytes waiting to be sent on all sync connections.",
            ),
            presence_sessions: gauge(
                &registry,
                "sync_presence_sessions",
                "Presence sessions remembered by the plans in memory (to drop duplicates).",
            ),
            plans_not_fitting: gauge(
                &registry,
                "plans_not_fitting_schema",
                "Plans flagged as not fitting the document schema.",
            ),
            plans_with_open_conflicts: gauge(
                &registry,
                "plans_with_open_conflicts",
                "Plans whose members set a field differently at once and have not settled it \
                 (recorded when a plan is quiet).",
            ),
            open_connections: gauge(
                &registry,
                "sync_connections",
                "Open sync WebSocket connections.",
            ),
            loaded_plans: gauge(
                &registry,
                "plans_in_memory",
                "Plan documents loaded in memory.",
            ),
            registry,
        }
    }

    /// Count an attempt refused by `limit`.
    pub fn rate_limited(&self, limit: Limit) {
        if let Ok(counter) = self
            .rate_limited
            .get_metric_with_label_values(&[limit.name()])
        {
            counter.inc();
        }
    }

    /// The Prometheus text exposition, with the gauges set to the given current values.
    pub fn render(
        &self,
        plans_not_fitting: u64,
        plans_with_open_conflicts: u64,
        open_connections: usize,
        loaded_plans: usize,
    ) -> String {
        self.plans_not_fitting
            .set(i64::try_from(plans_not_fitting).unwrap_or(i64::MAX));
        self.plans_with_open_conflicts
            .set(i64::try_from(plans_with_open_conflicts).unwrap_or(i64::MAX));
        self.open_connections
            .set(i64::try_from(open_connections).unwrap_or(i64::MAX));
        self.loaded_plans
            .set(i64::try_from(loaded_plans).unwrap_or(i64::MAX));
        let mut buffer = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8(buffer).unwrap_or_default()
    }
}
