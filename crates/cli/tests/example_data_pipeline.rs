//! `examples/data-pipeline` (seed 000 Pattern 3 as written) from a copy: `up` builds the three
//! ETL workers, loads the source, runs the full ETL and validates it (the seed's checkpoints);
//! `test --parallel` runs all four suites, every branch in its own copy of `validated`, and
//! every branch must pass. And one cell of the seed's matrix, the one farthest from the
//! defaults (PostgreSQL 14 from the engine cache, Elasticsearch 7 through its own client).

mod common;
mod example_support;

use common::*;
use example_support::*;

#[test]
fn data_pipeline_example_passes_every_branch() {
    let p = example_project("data-pipeline");
    let out = p.vers(&["integration", "validate"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let out = p.vers(&["integration", "up"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let out = p.vers(&["integration", "test", "--parallel", "--json"]);
    let report = json_of(&out);
    assert_all_passed(
        &report,
        &[
            (
                "extraction",
                &[
                    "full-extraction",
                    "incremental-extraction",
                    "cdc-extraction",
                ],
            ),
            (
                "transformation",
                &["customer-aggregation", "order-metrics", "product-analytics"],
            ),
            (
                "loading",
                &["warehouse-load", "elasticsearch-sync", "full-pipeline"],
            ),
            (
                "data-quality",
                &[
                    "row-counts-match",
                    "aggregations-correct",
                    "no-duplicates",
                    "referential-integrity",
                ],
            ),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
}

const BRANCHES: usize = 13;

#[test]
fn data_pipeline_matrix_cell_postgres_14_elasticsearch_7_passes() {
    let p = example_project("data-pipeline");
    let out = p.vers(&[
        "integration",
        "matrix",
        "--filter",
        "postgres=14,elasticsearch=7",
        "--json",
    ]);
    let report = json_of(&out);
    let results = report["results"].as_array().expect("results");
    assert_eq!(results.len(), 1, "{report:#}");
    let cell = &results[0];
    assert_eq!(
        cell["combination"],
        serde_json::json!({"postgres": 14, "elasticsearch": 7}),
        "{report:#}"
    );
    let suites = serde_json::json!({ "suites": cell["suites"].clone() });
    let statuses = statuses(&suites);
    let passed: usize = statuses
        .values()
        .map(|b| b.values().filter(|s| *s == "passed").count())
        .sum();
    assert_eq!(passed, BRANCHES, "{statuses:?}\n{}", failed_logs(&suites));
    assert_eq!(cell["status"], "passed", "{}", failed_logs(&suites));
    assert_eq!(out.status.code(), Some(0));
}
