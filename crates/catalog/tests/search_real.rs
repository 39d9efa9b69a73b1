//! A real Elasticsearch named by `VERS_ENGINE_ELASTICSEARCH` is preferred to the stand-in and
//! configured as a single node with its data in the data directory. The install here is a
//! stand-in directory laid out like an Elasticsearch tarball (no Elasticsearch can be
//! installed on the machines this suite runs on); the launch it gets is what a real one gets.
//! One test in its own binary: it sets a process-wide environment variable.

mod support;

use std::os::unix::fs::PermissionsExt;

use serde_json::json;
use support::{ctx, dirs};
use vers_catalog::{template_for, EngineSource};

#[test]
fn a_real_install_is_found_by_its_jar_and_launched_as_a_single_node() {
    let home = tempfile::tempdir().unwrap();
    for d in ["bin", "lib", "config", "plugins/analysis-icu"] {
        std::fs::create_dir_all(home.path().join(d)).unwrap();
    }
    let launcher = home.path().join("bin/elasticsearch");
    std::fs::write(&launcher, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&launcher, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(home.path().join("lib/elasticsearch-8.11.1.jar"), b"").unwrap();
    std::fs::write(home.path().join("config/jvm.options"), b"-Xss1m\n").unwrap();
    std::env::set_var("VERS_ENGINE_ELASTICSEARCH", home.path());

    let t = template_for("elasticsearch").unwrap();
    let e = t.engine(Some("8")).unwrap();
    assert_eq!((e.version.as_str(), e.stand_in.is_none()), ("8.11.1", true));
    assert_eq!(e.source, EngineSource::Path);
    let seven = t.engine(Some("7")).unwrap();
    assert!(
        seven.stand_in.is_some(),
        "no real 7 here: the stand-in serves @7"
    );

    let d = dirs();
    let c = ctx(
        "search",
        "elasticsearch",
        &d,
        vec![19200],
        json!({"security": false, "plugins": ["analysis-icu"]}),
    );
    let l = t.launch(&c, &e).unwrap();
    assert_eq!(
        l.program,
        launcher
            .canonicalize()
            .unwrap()
            .parent()
            .unwrap()
            .join("elasticsearch")
    );
    let args = l.args.join(" ");
    for want in [
        "-E discovery.type=single-node",
        "-E network.host=127.0.0.1",
        "-E http.port=19200",
        "-E transport.host=127.0.0.1",
        "-E xpack.security.enabled=false",
        &format!("-E path.data={}", d.data.join("data").display()),
    ] {
        assert!(args.contains(want), "{want} missing from {args}");
    }
    let conf = std::path::PathBuf::from(&l.env["ES_PATH_CONF"]);
    assert_eq!(
        std::fs::read(conf.join("jvm.options")).unwrap(),
        b"-Xss1m\n"
    );
    assert!(l.env["ES_JAVA_OPTS"].contains("-Xmx512m"));

    let c = ctx(
        "search",
        "elasticsearch",
        &d,
        vec![9200],
        json!({"plugins": ["analysis-kuromoji"]}),
    );
    let err = t.launch(&c, &e).unwrap_err().to_string();
    assert!(
        err.contains("analysis-kuromoji") && err.contains("elasticsearch-plugin install"),
        "{err}"
    );
    let c = ctx(
        "search",
        "elasticsearch",
        &d,
        vec![9200],
        json!({"security": true}),
    );
    let err = t.launch(&c, &e).unwrap_err().to_string();
    assert!(
        err.contains("config.security") && err.contains("8.11.1"),
        "{err}"
    );
}
