//! The shipped Grafana dashboard and Prometheus alert rules (`deploy/monitoring/`) parse, have
//! the expected structure, every expression in them is PromQL (`promql-parser`), and they
//! reference only metrics the node defines in `mpcium_node::metrics`, so renaming a metric without
//! updating them fails here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use mpcium_node::metrics;
use mpcium_testkit::metric_names;
use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr, VectorSelector};
use serde_json::Value;

fn monitoring_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/monitoring")
}

fn must_read(name: &str) -> String {
    let path = monitoring_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `expr` string anywhere in `value`.
fn exprs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("expr", Value::String(expr)) => out.push(expr.clone()),
                    _ => exprs(inner, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| exprs(item, out)),
        _ => {}
    }
}

/// Whether `name` is a defined metric or one of the series a defined histogram expands to.
fn is_defined(name: &str) -> bool {
    if metrics::ALL.contains(&name) {
        return true;
    }
    ["_bucket", "_sum", "_count"]
        .iter()
        .any(|suffix| name.strip_suffix(suffix) == Some(metrics::REQUEST_DURATION_SECONDS))
}

fn assert_all_defined(file: &str, exprs: &[String]) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for expr in exprs {
        for name in metric_names(expr) {
            assert!(
                is_defined(&name),
                "{file} uses {name}, which crates/node/src/metrics.rs does not define (in: {expr})"
            );
            used.insert(name);
        }
    }
    used
}

#[test]
fn metric_names_are_found_whole_and_only_as_identifiers() {
    assert_eq!(
        metric_names("sum(rate(mpcium_requests_total{a=\"b\"}[5m])) / x_mpcium_no"),
        vec!["mpcium_requests_total".to_owned()]
    );
    assert!(is_defined("mpcium_request_duration_seconds_bucket"));
    assert!(!is_defined("mpcium_requests_total_bucket"));
    assert!(!is_defined("mpcium_made_up"));
}

#[test]
fn the_alert_rules_cover_every_promised_condition_with_defined_metrics() {
    let rules: Value = serde_saphyr::from_str(&must_read("prometheus-alerts.yaml")).unwrap();
    assert_eq!(rules["kind"], "PrometheusRule");
    let groups = rules["spec"]["groups"].as_array().unwrap();
    let mut alerts = BTreeSet::new();
    for group in groups {
        assert!(group["name"].is_string());
        for rule in group["rules"].as_array().unwrap() {
            let name = rule["alert"].as_str().unwrap();
            assert!(alerts.insert(name.to_owned()), "alert {name} twice");
            assert!(rule["expr"].is_string(), "{name} has no expr");
            assert!(rule["labels"]["severity"].is_string(), "{name}");
            assert!(rule["annotations"]["summary"].is_string(), "{name}");
        }
    }
    for promised in [
        "MpciumNodeNotReady",
        "MpciumHighErrorRate",
        "MpciumSigningLatencyP99High",
        "MpciumBackupTooOld",
        "MpciumNatsReconnectStorm",
        "MpciumPresignaturePoolEmpty",
    ] {
        assert!(alerts.contains(promised), "missing alert {promised}");
    }
    let mut found = Vec::new();
    exprs(&rules, &mut found);
    let used = assert_all_defined("prometheus-alerts.yaml", &found);
    assert!(used.contains(metrics::NODE_READY));
    assert!(used.contains(metrics::NATS_RECONNECTS_TOTAL));
}

#[test]
fn the_dashboard_is_grafana_json_over_defined_metrics_only() {
    let dashboard: Value = serde_json::from_str(&must_read("grafana-dashboard.json")).unwrap();
    assert!(dashboard["title"].is_string());
    assert!(dashboard["uid"].is_string());
    assert!(dashboard["schemaVersion"].is_u64());
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(!panels.is_empty());
    let mut ids = BTreeSet::new();
    for panel in panels {
        assert!(ids.insert(panel["id"].as_u64().unwrap()), "panel id twice");
        assert!(panel["title"].is_string());
        assert!(panel["gridPos"]["w"].is_u64());
        assert!(!panel["targets"].as_array().unwrap().is_empty());
    }
    let mut found = Vec::new();
    exprs(&dashboard["panels"], &mut found);
    let used = assert_all_defined("grafana-dashboard.json", &found);
    // The dashboard shows every metric the node exports.
    for name in metrics::ALL {
        let shown = used.iter().any(|u| u.starts_with(name));
        assert!(shown, "the dashboard does not show {name}");
    }
}

/// The metric name of every series selector in `expr`; a selector without one is `None`.
fn selector_names(expr: &Expr, out: &mut Vec<Option<String>>) {
    let named = |vs: &VectorSelector| {
        vs.name.clone().or_else(|| {
            vs.matchers
                .matchers
                .iter()
                .find(|m| m.name == "__name__" && m.op == MatchOp::Equal)
                .map(|m| m.value.clone())
        })
    };
    match expr {
        Expr::VectorSelector(vs) => out.push(named(vs)),
        Expr::MatrixSelector(ms) => out.push(named(&ms.vs)),
        Expr::Aggregate(a) => {
            selector_names(&a.expr, out);
            if let Some(param) = &a.param {
                selector_names(param, out);
            }
        }
        Expr::Unary(u) => selector_names(&u.expr, out),
        Expr::Binary(b) => {
            selector_names(&b.lhs, out);
            selector_names(&b.rhs, out);
        }
        Expr::Paren(p) => selector_names(&p.expr, out),
        Expr::Subquery(q) => selector_names(&q.expr, out),
        Expr::Call(call) => call.args.args.iter().for_each(|a| selector_names(a, out)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

#[test]
fn every_expression_parses_as_promql_and_selects_only_defined_metrics() {
    let rules: Value = serde_saphyr::from_str(&must_read("prometheus-alerts.yaml")).unwrap();
    let dashboard: Value = serde_json::from_str(&must_read("grafana-dashboard.json")).unwrap();
    let mut checked = 0;
    for (file, value) in [
        ("prometheus-alerts.yaml", &rules),
        ("grafana-dashboard.json", &dashboard),
    ] {
        let mut found = Vec::new();
        exprs(value, &mut found);
        assert!(!found.is_empty(), "{file} has no expressions");
        for text in &found {
            let expr = parser::parse(text).unwrap_or_else(|e| panic!("{file}: {e} in: {text}"));
            let mut names = Vec::new();
            selector_names(&expr, &mut names);
            assert!(!names.is_empty(), "{file}: selects no series: {text}");
            let names: BTreeSet<String> = names
                .into_iter()
                .map(|n| n.unwrap_or_else(|| panic!("{file}: a selector names no metric: {text}")))
                .collect();
            for name in &names {
                assert!(
                    is_defined(name),
                    "{file} selects {name}, which crates/node/src/metrics.rs does not define (in: {text})"
                );
            }
            // The parser and the plain scan the other tests use agree on what is selected.
            let scanned: BTreeSet<String> = metric_names(text).into_iter().collect();
            assert_eq!(names, scanned, "{file}: {text}");
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} expressions");
}

#[test]
fn the_promql_check_rejects_what_it_should() {
    assert!(parser::parse("sum(rate(mpcium_requests_total[5m])").is_err());
    let mut names = Vec::new();
    selector_names(
        &parser::parse(r#"{__name__="mpcium_node_ready"} + on() {job="x"}"#).unwrap(),
        &mut names,
    );
    assert_eq!(names, vec![Some("mpcium_node_ready".to_owned()), None]);
}
