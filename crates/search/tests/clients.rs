//! vers search judged by the official clients: `elasticsearch` 8 against the Elasticsearch 8
//! flavor, `elasticsearch7` against 7, `opensearch-py` against OpenSearch 2.

mod support;

use vers_search::Flavor;

#[test]
fn elasticsearch_8_python_client() {
    let dir = tempfile::tempdir().unwrap();
    let url = support::start_in_process(Flavor::Elasticsearch8, dir.path());
    let out = support::run_python("es8_client.py", &[&url]);
    assert!(out.contains("es8 client checks passed"), "{out}");
}

#[test]
fn elasticsearch_7_python_client() {
    let dir = tempfile::tempdir().unwrap();
    let url = support::start_in_process(Flavor::Elasticsearch7, dir.path());
    let out = support::run_python("es7_client.py", &[&url]);
    assert!(out.contains("es7 client checks passed"), "{out}");
}

#[test]
fn opensearch_python_client() {
    let dir = tempfile::tempdir().unwrap();
    let url = support::start_in_process(Flavor::OpenSearch2, dir.path());
    let out = support::run_python("opensearch_client.py", &[&url]);
    assert!(out.contains("opensearch client checks passed"), "{out}");
}
