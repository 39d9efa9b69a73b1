//! `mongodb@7` end to end through `vers`, with the seed's config (Pattern 2's
//! `mongodb-inventory`): pymongo seeds it by name from a checkpoint script, then two branches of
//! the checkpoint each write with the official Node.js driver and see the seed and only their
//! own writes, while the root environment sees neither.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const STACK: &str = r#"
name: mongo-e2e
services:
  mongodb-inventory:
    template: mongodb@7
    config:
      databases: [inventory]
checkpoints:
  - name: seeded
    after: PYTHON scripts/seed.py
tests:
  isolation:
    command: node scripts/isolation.js
    parallel: true
    branches:
      - name: a
        env: { MARK: a }
      - name: b
        env: { MARK: b }
"#;

/// Seeds through the service's name, as the seed's inventory service's `MONGODB_URL` does.
const SEED: &str = r#"
from pymongo import MongoClient
db = MongoClient("mongodb://mongodb-inventory/inventory", serverSelectionTimeoutMS=10000).get_default_database()
assert "inventory" in db.client.list_database_names(), "config.databases did not create inventory"
db.products.create_index("sku", unique=True)
db.products.insert_many([{"sku": "A-1", "stock": 5}, {"sku": "B-2", "stock": 1}])
print("seeded", db.products.count_documents({}))
"#;

/// One branch: writes its mark and a stock change, then checks it sees the seed and only its
/// own writes.
const ISOLATION: &str = r#"
const { MongoClient, MongoServerError } = require(process.env.CLIENT_DIR + '/node_modules/mongodb');
(async () => {
  const client = new MongoClient('mongodb://mongodb-inventory/inventory', { serverSelectionTimeoutMS: 10000 });
  const db = client.db();
  const mark = process.env.MARK;
  await db.collection('marks').insertOne({ mark });
  await db.collection('products').updateOne({ sku: 'A-1' }, { $inc: { stock: mark === 'a' ? -1 : -2 } });
  try {
    await db.collection('products').insertOne({ sku: 'B-2' });
    throw new Error('the unique index on sku did not survive the checkpoint');
  } catch (e) {
    if (!(e instanceof MongoServerError) || e.code !== 11000) throw e;
  }
  await new Promise((r) => setTimeout(r, 1000));
  const marks = (await db.collection('marks').find().toArray()).map((d) => d.mark);
  const stock = (await db.collection('products').findOne({ sku: 'A-1' })).stock;
  const count = await db.collection('products').countDocuments();
  console.log(JSON.stringify({ mark, marks, stock, count }));
  const want = mark === 'a' ? 4 : 3;
  if (marks.length !== 1 || marks[0] !== mark || stock !== want || count !== 2) process.exit(1);
  await client.close();
})().catch((e) => { console.error(e); process.exit(1); });
"#;

/// The Python of the test virtual environment (pymongo).
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

/// Installs the official Node.js driver into `dir` with npm.
fn install_node_driver(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let out = Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--prefix",
        ])
        .arg(dir)
        .arg("mongodb@6")
        .output()
        .expect("npm must be installed (scripts/setup.sh)");
    assert!(
        out.status.success(),
        "npm install mongodb@6: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn mongodb_branches_of_a_checkpoint_see_the_seed_and_only_their_own_writes() {
    let python = python();
    let p = TempProject::new(&STACK.replace("PYTHON", &python.display().to_string()));
    p.write("scripts/seed.py", SEED);
    p.write("scripts/isolation.js", ISOLATION);
    let client_dir = p.path().join("client");
    install_node_driver(&client_dir);

    let out = p.vers(&["integration", "up"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let out = Command::new(vers_bin())
        .args([
            "integration",
            "test",
            "--suite",
            "isolation",
            "--parallel",
            "--json",
        ])
        .current_dir(p.path())
        .env("CLIENT_DIR", &client_dir)
        .env("VERS_PASS_ENV", "CLIENT_DIR")
        .env("CI", "true")
        .env_remove("VERS_ENV")
        .output()
        .unwrap();
    let report = json_of(&out);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(report["summary"]["passed"], 2, "{report:#}");

    // The root environment kept the checkpoint's data and saw no branch's writes.
    let check = format!(
        "{} -c \"from pymongo import MongoClient; db = MongoClient('mongodb://mongodb-inventory/inventory').inventory; print(db.marks.count_documents({{}}), db.products.find_one({{'sku': 'A-1'}})['stock'])\"",
        python.display()
    );
    let out = p.vers(&["execute", &check]);
    assert_eq!(stdout(&out).trim(), "0 5", "{}", stderr(&out));
}

/// A MongoDB that met a full disk (its storage engine panics: every operation fails while
/// `ping` still answers) works again after `chaos recover`: vers starts it again on its data,
/// which keeps what was written before the fill.
#[test]
fn mongodb_works_again_after_a_disk_fill_is_recovered() {
    let p = TempProject::new("name: mongo-fill\nservices:\n  mongodb:\n    template: mongodb@7\n");
    p.write("fill.py", include_str!("engine_mongodb_fill.py"));
    let py = python().display().to_string();
    p.ok(&["up"]);
    assert_eq!(
        p.ok(&["execute", &format!("{py} fill.py before")]).trim(),
        "ok"
    );
    p.ok(&[
        "chaos",
        "inject",
        "--service",
        "mongodb",
        "--action",
        "disk-fill",
        "--percentage",
        "99",
        "--no-checkpoint",
    ]);
    let filled = p.ok(&["execute", &format!("{py} fill.py fill")]);
    assert!(filled.contains("failed after"), "{filled}");
    p.ok(&["chaos", "recover"]);
    assert_eq!(
        p.ok(&["execute", &format!("{py} fill.py after")]).trim(),
        "1 True"
    );
}
