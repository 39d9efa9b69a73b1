//! `mariadb@10` end to end through `vers`: databases, users and an init script from the
//! config, PyMySQL seeding by the service's name from a checkpoint script, and two branches of
//! the checkpoint that each write and see the seed and only their own rows, while the root
//! environment sees neither.

mod common;

use std::path::PathBuf;

use common::*;

const STACK: &str = r#"
name: maria-e2e
services:
  mariadb:
    template: mariadb@10
    config:
      databases: [shop]
      users:
        - name: app
          password: app-pw
          grants: [ALL]
      init_scripts: [sql/schema.sql]
checkpoints:
  - name: seeded
    after: PYTHON scripts/seed.py
tests:
  isolation:
    command: PYTHON scripts/isolation.py
    parallel: true
    branches:
      - name: a
        env: { MARK: a }
      - name: b
        env: { MARK: b }
"#;

const SCHEMA: &str =
    "CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(40) NOT NULL);\n";

const COMMON: &str = r#"
import pymysql
def connect():
    return pymysql.connect(host="mariadb", user="app", password="app-pw", database="shop", autocommit=True, connect_timeout=10)
"#;

const SEED: &str = r#"
from common import connect
with connect().cursor() as cur:
    cur.execute("INSERT INTO items (name) VALUES ('seed')")
    cur.execute("SELECT COUNT(*) FROM items")
    print("seeded", cur.fetchone()[0])
"#;

const ISOLATION: &str = r#"
import os, time
from common import connect
mark = os.environ["MARK"]
with connect().cursor() as cur:
    cur.execute("INSERT INTO items (name) VALUES (%s)", (mark,))
    time.sleep(1)
    cur.execute("SELECT name FROM items ORDER BY id")
    names = [r[0] for r in cur.fetchall()]
print(mark, names)
assert names == ["seed", mark], names
"#;

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
fn mariadb_branches_of_a_checkpoint_see_the_seed_and_only_their_own_rows() {
    let python = python();
    let p = TempProject::new(&STACK.replace("PYTHON", &python.display().to_string()));
    p.write("sql/schema.sql", SCHEMA);
    p.write("scripts/common.py", COMMON);
    p.write("scripts/seed.py", SEED);
    p.write("scripts/isolation.py", ISOLATION);
    let out = p.vers(&["integration", "up"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let report = p.json(&[
        "integration",
        "test",
        "--suite",
        "isolation",
        "--parallel",
        "--json",
    ]);
    assert_eq!(report["summary"]["passed"], 2, "{report:#}");

    // The root environment has only the seed; root reaches it without a password.
    let check = format!(
        "{} -c \"import pymysql; c = pymysql.connect(host='mariadb', user='root', database='shop'); cur = c.cursor(); cur.execute('SELECT GROUP_CONCAT(name) FROM items'); print(cur.fetchone()[0])\"",
        python.display()
    );
    let out = p.vers(&["execute", &check]);
    assert_eq!(stdout(&out).trim(), "seed", "{}", stderr(&out));
}
