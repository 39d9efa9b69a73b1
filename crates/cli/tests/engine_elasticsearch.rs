//! `elasticsearch@8` end to end through `vers`, served by the built-in vers search: the
//! seed's index config (Pattern 4's `products` with its snowball analyzer, Pattern 3's
//! mappings file), a checkpoint seeded with the official Python client by the service's name,
//! then two branches of the checkpoint that each index a product and see the seed and only
//! their own product, while the root environment sees neither. And Pattern 3's matrix,
//! `elasticsearch: [7, 8]`, each cell answering as its major to its major's official client.

mod common;

use std::path::PathBuf;

use common::*;

const STACK: &str = r#"
name: search-e2e
services:
  elasticsearch:
    template: elasticsearch@8
    config:
      indices:
        - name: products
          settings:
            analysis:
              analyzer:
                product_analyzer:
                  type: custom
                  tokenizer: standard
                  filter: [lowercase, snowball]
          mappings:
            properties:
              name: { type: text, analyzer: product_analyzer }
              category: { type: keyword }
        - name: orders
          mappings: ./mappings/orders.json
checkpoints:
  - name: seeded
    after: PYTHON scripts/seed.py
tests:
  search:
    command: PYTHON scripts/branch.py
    parallel: true
    branches:
      - name: a
        env: { MARK: a }
      - name: b
        env: { MARK: b }
"#;

const ORDERS_MAPPING: &str =
    r#"{"properties": {"total": {"type": "double"}, "placed_at": {"type": "date"}}}"#;

/// Checks the configured indices and seeds the catalogue through the service's name.
const SEED: &str = r#"
import os
from elasticsearch import Elasticsearch
es = Elasticsearch("http://elasticsearch:9200")
settings = es.indices.get_settings(index="products")["products"]["settings"]["index"]
assert settings["analysis"]["analyzer"]["product_analyzer"]["filter"] == ["lowercase", "snowball"], settings
orders = es.indices.get_mapping(index="orders")["orders"]["mappings"]["properties"]
assert orders["total"]["type"] == "double" and orders["placed_at"]["type"] == "date", orders
for i, (name, cat) in enumerate([("Running Shoe", "shoes"), ("Trail running shoes", "shoes"), ("Leather Boots", "boots")]):
    es.index(index="products", id=f"seed-{i}", document={"name": name, "category": cat})
es.index(index="orders", id="o1", document={"total": 12.5, "placed_at": "2024-05-01"})
es.indices.refresh(index="products,orders")
hits = es.search(index="products", query={"match": {"name": "runs shoes"}})["hits"]["hits"]
assert sorted(h["_id"] for h in hits) == ["seed-0", "seed-1"], hits
print("seeded")
"#;

/// One branch: indexes its product, then sees the seed and only its own product.
const BRANCH: &str = r#"
import os, time
from elasticsearch import Elasticsearch
es = Elasticsearch("http://elasticsearch:9200")
mark = os.environ["MARK"]
es.index(index="products", id=f"branch-{mark}", document={"name": f"Branch {mark} running shoe", "category": mark}, refresh=True)
time.sleep(1)
ids = sorted(h["_id"] for h in es.search(index="products", size=50)["hits"]["hits"])
assert ids == ["branch-" + mark, "seed-0", "seed-1", "seed-2"], ids
shoes = es.search(index="products", query={"match": {"name": "running shoes"}})["hits"]["total"]["value"]
assert shoes == 3, shoes
cats = {b["key"] for b in es.search(index="products", size=0, aggs={"c": {"terms": {"field": "category"}}})["aggregations"]["c"]["buckets"]}
assert cats == {"shoes", "boots", mark}, cats
assert es.count(index="orders")["count"] == 1
print("branch", mark, ids)
"#;

/// The Python of the test virtual environment (the official Elasticsearch client).
fn python() -> PathBuf {
    let venv = std::env::var_os("VERS_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/vers/test-venv"));
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh",
        python.display()
    );
    python
}

#[test]
fn elasticsearch_branches_of_a_checkpoint_see_the_seed_and_only_their_own_documents() {
    let python = python();
    let p = TempProject::new(&STACK.replace("PYTHON", &python.display().to_string()));
    p.write("mappings/orders.json", ORDERS_MAPPING);
    p.write("scripts/seed.py", SEED);
    p.write("scripts/branch.py", BRANCH);

    let out = p.vers(&["integration", "up"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    // Nothing is silently substituted: `up` and `status` name the stand-in.
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        said.contains("elasticsearch (elasticsearch@8) is served by vers search")
            && said.contains("a stand-in: Elasticsearch 8 REST API subset"),
        "{said}"
    );
    let status = p.json(&["integration", "status", "--json"]);
    let engine = &status["environments"][0]["services"][0]["engine"];
    assert_eq!(engine["version"], "8.15.0", "{status:#}");
    assert_eq!(engine["source"], "built in", "{status:#}");
    assert!(
        engine["implementation"]
            .as_str()
            .unwrap()
            .starts_with("vers search "),
        "{status:#}"
    );
    assert!(
        engine["stand_in"]
            .as_str()
            .unwrap()
            .contains("not Elasticsearch"),
        "{status:#}"
    );
    assert!(stdout(&p.vers(&["integration", "status"])).contains(", stand-in"));
    let report = p.json(&[
        "integration",
        "test",
        "--suite",
        "search",
        "--parallel",
        "--json",
    ]);
    assert_eq!(report["summary"]["passed"], 2, "{report:#}");

    // The root environment kept the checkpoint's documents and saw no branch's product.
    let check = format!(
        "{} -c \"from elasticsearch import Elasticsearch; es = Elasticsearch('http://elasticsearch:9200'); print(sorted(h['_id'] for h in es.search(index='products', size=50)['hits']['hits']))\"",
        python.display()
    );
    let out = p.vers(&["execute", &check]);
    assert_eq!(
        stdout(&out).trim(),
        "['seed-0', 'seed-1', 'seed-2']",
        "{}",
        stderr(&out)
    );
}

const MATRIX_STACK: &str = r#"
name: search-matrix
services:
  elasticsearch:
    template: elasticsearch@8
    config:
      indices:
        - name: products
          mappings: ./mappings/products.json
checkpoints:
  - name: loaded
    after: sh scripts/load.sh
tests:
  versions:
    command: PYTHON scripts/version.py
    branches:
      - name: client
matrix:
  elasticsearch: [7, 8]
"#;

const LOAD: &str = r#"set -e
curl -sS --fail-with-body -X PUT 'http://elasticsearch:9200/products/_doc/1?refresh=true' -H 'Content-Type: application/json' -d '{"name": "Running Shoe"}'
"#;

/// Talks to the cell's server with the official client of its major.
const VERSION: &str = r#"
import os
major = os.environ["VERS_MATRIX_ELASTICSEARCH"]
if major == "7":
    from elasticsearch7 import Elasticsearch
else:
    from elasticsearch import Elasticsearch
es = Elasticsearch("http://elasticsearch:9200")
number = es.info()["version"]["number"]
assert number.startswith(major + "."), (major, number)
hits = es.search(index="products", body={"query": {"match": {"name": "runs"}}})["hits"]["hits"]
assert [h["_id"] for h in hits] == ["1"], hits
print("answered as", number)
"#;

#[test]
fn pattern_three_matrix_runs_elasticsearch_7_and_8() {
    let python = python();
    let p = TempProject::new(&MATRIX_STACK.replace("PYTHON", &python.display().to_string()));
    p.write(
        "mappings/products.json",
        r#"{"properties": {"name": {"type": "text", "analyzer": "english"}}}"#,
    );
    p.write("scripts/load.sh", LOAD);
    p.write("scripts/version.py", VERSION);
    let report = p.json(&["integration", "matrix", "--json"]);
    assert_eq!(
        report["summary"],
        serde_json::json!({"passed": 2, "failed": 0}),
        "{report:#}"
    );
    for major in [7, 8] {
        let cell = report["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["combination"]["elasticsearch"] == major)
            .unwrap_or_else(|| panic!("no cell {major}: {report:#}"));
        let log =
            std::fs::read_to_string(cell["suites"][0]["branches"][0]["log"].as_str().unwrap())
                .unwrap();
        assert!(log.contains(&format!("answered as {major}.")), "{log}");
    }
}
