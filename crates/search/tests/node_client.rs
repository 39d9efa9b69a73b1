//! vers search judged by the official Node client, `@elastic/elasticsearch` 8, installed
//! from the npm registry into the target directory (once; later runs reuse it).

mod support;

use std::path::PathBuf;
use std::process::Command;

use vers_search::Flavor;

fn node_modules() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("node-elasticsearch-8");
    let modules = dir.join("node_modules");
    if modules.join("@elastic/elasticsearch/package.json").exists() {
        return modules;
    }
    std::fs::create_dir_all(&dir).unwrap();
    let status = Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--no-save",
            "@elastic/elasticsearch@8",
        ])
        .current_dir(&dir)
        .status()
        .expect("npm must be installed (scripts/setup.sh installs Node.js)");
    assert!(
        status.success(),
        "npm install @elastic/elasticsearch@8 failed"
    );
    modules
}

#[test]
fn elasticsearch_8_node_client() {
    let modules = node_modules();
    let dir = tempfile::tempdir().unwrap();
    let url = support::start_in_process(Flavor::Elasticsearch8, dir.path());
    let out = Command::new("node")
        .arg(support::script("node_client.js"))
        .arg(&url)
        .env("NODE_PATH", &modules)
        .output()
        .expect("node must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("node client checks passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
