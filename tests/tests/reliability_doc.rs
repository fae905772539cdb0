//! `docs/reliability.md` is checked against the tests it cites: every test a table row names
//! (`path::function`) exists in that file, every row names a test or is marked pending, and
//! every test of the reliability suites (`RELIABILITY_SUITES`) appears in the document.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Test files whose every test must be listed in the document.
const RELIABILITY_SUITES: &[&str] = &[
    "tests/tests/exactly_once.rs",
    "tests/tests/failover.rs",
    "tests/tests/faults_kill_keygen.rs",
    "tests/tests/faults_kill_reshare.rs",
    "tests/tests/faults_kill_sign.rs",
    "tests/tests/faults_nats.rs",
    "tests/tests/faults_node.rs",
    "tests/tests/faults_restart.rs",
    "tests/tests/hostile.rs",
    "tests/tests/hostile_proof.rs",
    "tests/tests/secret_hygiene.rs",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn must_read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The cells of every row of the tables whose first column is `Scenario` (header and
/// separator rows excluded).
fn table_rows(doc: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut in_table = false;
    for line in doc.lines().map(str::trim) {
        if !(line.starts_with('|') && line.ends_with('|')) {
            in_table = false;
            continue;
        }
        let cells: Vec<String> = line
            .trim_matches('|')
            .split('|')
            .map(|cell| cell.trim().to_owned())
            .collect();
        if cells.first().map(String::as_str) == Some("Scenario") {
            in_table = true;
        } else if in_table
            && !cells
                .iter()
                .all(|c| c.chars().all(|ch| ch == '-' || ch == ':'))
        {
            rows.push(cells);
        }
    }
    rows
}

/// The `path::function` references in a cell (each in backticks).
fn test_refs(cell: &str) -> Vec<(String, String)> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|quoted| {
            let (path, function) = quoted.rsplit_once("::")?;
            Some((path.to_owned(), function.to_owned()))
        })
        .collect()
}

/// Names of the test functions in a Rust file (`#[test]` or `#[tokio::test…]`, also inside a
/// `proptest!` block).
fn test_functions(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut armed = false;
    for line in source.lines().map(str::trim) {
        if line.starts_with("#[test]") || line.starts_with("#[tokio::test") {
            armed = true;
            continue;
        }
        if armed {
            if let Some(rest) = line.split("fn ").nth(1) {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                names.push(name);
                armed = false;
            }
        }
    }
    names
}

#[test]
fn every_row_names_tests_that_exist_or_is_marked_pending() {
    let doc = must_read(&root().join("docs/reliability.md"));
    let rows = table_rows(&doc);
    assert!(rows.len() >= 30, "only {} rows", rows.len());
    let mut problems = Vec::new();
    for row in &rows {
        assert_eq!(
            row.len(),
            4,
            "scenario | expected | observed | test: {row:?}"
        );
        let refs = test_refs(&row[3]);
        if refs.is_empty() {
            if !row[3].starts_with("pending") {
                problems.push(format!("{:?} names no test", row[0]));
            }
            continue;
        }
        for (path, function) in refs {
            let file = root().join(&path);
            if !file.exists() {
                problems.push(format!("{path} does not exist"));
                continue;
            }
            if !test_functions(&must_read(&file)).contains(&function) {
                problems.push(format!("{path} has no test {function}"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn every_reliability_suite_test_is_in_the_document() {
    let doc = must_read(&root().join("docs/reliability.md"));
    let cited: BTreeSet<(String, String)> = table_rows(&doc)
        .iter()
        .flat_map(|row| test_refs(&row[3]))
        .collect();
    let mut missing = Vec::new();
    for suite in RELIABILITY_SUITES {
        for function in test_functions(&must_read(&root().join(suite))) {
            if !cited.contains(&((*suite).to_owned(), function.clone())) {
                missing.push(format!("{suite}::{function}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "tests missing from docs/reliability.md: {missing:#?}"
    );
}

#[test]
fn the_parser_finds_tests_and_references() {
    let source = "#[test]\nfn a() {}\n#[tokio::test(flavor = \"multi_thread\")]\nasync fn b() {}\nfn helper() {}\n";
    assert_eq!(test_functions(source), ["a", "b"]);
    assert_eq!(
        test_refs("`x.rs::a`, `y.rs::b` and `plain`"),
        [
            ("x.rs".to_owned(), "a".to_owned()),
            ("y.rs".to_owned(), "b".to_owned())
        ]
    );
}
