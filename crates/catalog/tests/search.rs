//! The `elasticsearch` and `opensearch` templates served by the built-in vers search: the
//! `vers mock elasticsearch` command line, its probe, the setup requests that create the
//! configured indices (mappings inline or from a file), quiesce, connection variables, and
//! the config keys the stand-in refuses.

mod support;

use serde_json::json;
use support::{ctx, dirs};
use vers_catalog::{template_for, EngineSource, Probe};

#[test]
fn elasticsearch_8_is_served_by_the_labelled_stand_in() {
    let t = template_for("elasticsearch").unwrap();
    let e = t.engine(Some("8")).unwrap();
    assert_eq!(
        e.source,
        EngineSource::Builtin,
        "no Elasticsearch is installable here"
    );
    assert_eq!((e.major.as_str(), e.version.starts_with("8.")), ("8", true));
    let s = e.stand_in.clone().expect("labelled as a stand-in");
    assert!(
        s.implementation.starts_with("vers search ") && s.implementation.contains("(tantivy "),
        "{s}"
    );
    assert!(s.note.contains("not Elasticsearch"), "{s}");
    let e7 = t.engine(Some("7")).unwrap();
    assert!(e7.version.starts_with("7.17.") && e7.stand_in.is_some());
    let os = template_for("opensearch").unwrap().engine(None).unwrap();
    assert!(os.version.starts_with("2.") && os.stand_in.unwrap().note.contains("not OpenSearch"));
    let missing = t.engine(Some("6")).unwrap_err();
    assert!(missing.hint.contains("elasticsearch@7"), "{missing}");
}

#[test]
fn launch_probe_setup_quiesce_and_env() {
    let t = template_for("elasticsearch").unwrap();
    let e = t.engine(Some("8")).unwrap();
    let d = dirs();
    std::fs::create_dir_all(d.project.join("mappings")).unwrap();
    std::fs::write(
        d.project.join("mappings/products.json"),
        r#"{"properties": {"name": {"type": "text"}, "price": {"type": "float"}}}"#,
    )
    .unwrap();
    let config = json!({"indices": [
        {"name": "products", "mappings": "./mappings/products.json"},
        {"name": "catalog", "settings": {"analysis": {"analyzer": {"product_analyzer": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "snowball"]}}}}}
    ]});
    let c = ctx("search", "elasticsearch", &d, vec![19200], config.clone());
    let l = t.launch(&c, &e).unwrap();
    assert_eq!(l.program, c.vers_exe);
    let joined = l.args.join(" ");
    assert!(
        joined.starts_with("mock elasticsearch --listen 127.0.0.1 --port 19200 --data-dir "),
        "{joined}"
    );
    assert!(
        joined.contains("--major 8 --product elasticsearch --cluster-name search"),
        "{joined}"
    );
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.run.join("config.json")).unwrap()).unwrap();
    assert_eq!(written, config);
    assert_eq!(
        t.health(&c, &e),
        Probe::Http {
            port: 19200,
            path: "/_cluster/health".into(),
            headers: vec![]
        }
    );
    let setup = t.setup(&c, &e).unwrap();
    assert_eq!(setup.len(), 2);
    assert_eq!(setup[0].program.to_str(), Some("curl"));
    assert_eq!(
        setup[0].args.last().unwrap(),
        "http://127.0.0.1:19200/products"
    );
    let body: serde_json::Value =
        serde_json::from_str(&setup[0].args[setup[0].args.len() - 2]).unwrap();
    assert_eq!(body["mappings"]["properties"]["price"]["type"], "float");
    let body: serde_json::Value =
        serde_json::from_str(&setup[1].args[setup[1].args.len() - 2]).unwrap();
    assert_eq!(
        body["settings"]["analysis"]["analyzer"]["product_analyzer"]["filter"],
        json!(["lowercase", "snowball"])
    );
    assert!(t.quiesce(&c, &e)[0]
        .args
        .last()
        .unwrap()
        .ends_with("/_flush"));
    assert_eq!(
        t.connection_env(&c)
            .get("ELASTICSEARCH_URL")
            .map(String::as_str),
        Some("http://search:19200")
    );
    assert_eq!(t.http_ports(&c), vec![19200]);
}

#[test]
fn keys_the_stand_in_cannot_honour_are_errors_naming_it() {
    let t = template_for("elasticsearch").unwrap();
    let e = t.engine(Some("8")).unwrap();
    let d = dirs();
    let c = ctx(
        "search",
        "elasticsearch",
        &d,
        vec![9200],
        json!({"security": {"enabled": true}}),
    );
    let err = t.launch(&c, &e).unwrap_err().to_string();
    assert!(
        err.contains("config.security") && err.contains("vers search"),
        "{err}"
    );
    let c = ctx(
        "search",
        "elasticsearch",
        &d,
        vec![9200],
        json!({"security": false, "plugins": ["analysis-icu"]}),
    );
    let err = t.launch(&c, &e).unwrap_err().to_string();
    assert!(
        err.contains("config.plugins") && err.contains("analysis-icu"),
        "{err}"
    );
    let c = ctx(
        "search",
        "elasticsearch",
        &d,
        vec![9200],
        json!({"indices": [{"name": "x", "mappings": "./nope.json"}]}),
    );
    let err = t.launch(&c, &e).unwrap_err().to_string();
    assert!(
        err.contains("config.indices[0].mappings") && err.contains("nope.json"),
        "{err}"
    );
}
