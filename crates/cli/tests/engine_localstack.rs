//! `localstack` end to end through `vers`, with the seed's config (Pattern 4's `s3`): boto3
//! checks the buckets' CORS and ACL and seeds an object by the service's name from a
//! checkpoint script, then two branches of the checkpoint each store an invoice with the AWS
//! SDK for JavaScript v3 and see the seed and only their own invoice, while the root
//! environment sees neither.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const STACK: &str = r#"
name: aws-e2e
services:
  s3:
    template: localstack
    config:
      services: [s3]
      s3_buckets:
        - name: product-images
          cors:
            - AllowedOrigins: ["*"]
              AllowedMethods: [GET, PUT]
        - name: order-invoices
          acl: private
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

/// Checks the configured buckets and seeds the catalogue through the service's name.
const SEED: &str = r#"
import boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url="http://s3:4566", region_name="us-east-1",
                  aws_access_key_id="test", aws_secret_access_key="test",
                  config=Config(s3={"addressing_style": "path"}))
rules = s3.get_bucket_cors(Bucket="product-images")["CORSRules"]
assert rules == [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "PUT"]}], rules
grants = s3.get_bucket_acl(Bucket="order-invoices")["Grants"]
assert [g["Permission"] for g in grants] == ["FULL_CONTROL"], grants
s3.put_object(Bucket="product-images", Key="products/1.png", Body=b"seed image")
print("seeded")
"#;

/// One branch: stores its invoice, then checks it sees the seed and only its own invoice.
const ISOLATION: &str = r#"
const sdk = require(process.env.CLIENT_DIR + '/node_modules/@aws-sdk/client-s3');
const s3 = new sdk.S3Client({
  endpoint: 'http://s3:4566', region: 'us-east-1', forcePathStyle: true,
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
});
(async () => {
  const mark = process.env.MARK;
  await s3.send(new sdk.PutObjectCommand({ Bucket: 'order-invoices', Key: `invoices/${mark}.pdf`, Body: `invoice ${mark}` }));
  await new Promise((r) => setTimeout(r, 1000));
  const listed = await s3.send(new sdk.ListObjectsV2Command({ Bucket: 'order-invoices' }));
  const keys = (listed.Contents || []).map((o) => o.Key);
  const seed = await (await s3.send(new sdk.GetObjectCommand({ Bucket: 'product-images', Key: 'products/1.png' }))).Body.transformToString();
  const cors = await s3.send(new sdk.GetBucketCorsCommand({ Bucket: 'product-images' }));
  console.log(JSON.stringify({ mark, keys, seed, methods: cors.CORSRules[0].AllowedMethods }));
  if (keys.length !== 1 || keys[0] !== `invoices/${mark}.pdf` || seed !== 'seed image') process.exit(1);
})().catch((e) => { console.error(e); process.exit(1); });
"#;

/// The Python of the test virtual environment (boto3).
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

/// Installs the AWS SDK for JavaScript v3's S3 client into `dir` with npm.
fn install_node_sdk(dir: &Path) {
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
        .arg("@aws-sdk/client-s3@3")
        .output()
        .expect("npm must be installed (scripts/setup.sh)");
    assert!(
        out.status.success(),
        "npm install @aws-sdk/client-s3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn localstack_branches_of_a_checkpoint_see_the_seed_and_only_their_own_objects() {
    let python = python();
    let p = TempProject::new(&STACK.replace("PYTHON", &python.display().to_string()));
    p.write("scripts/seed.py", SEED);
    p.write("scripts/isolation.js", ISOLATION);
    let client_dir = p.path().join("client");
    install_node_sdk(&client_dir);

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
        .env("NODE_NO_WARNINGS", "1")
        .env("VERS_PASS_ENV", "CLIENT_DIR,NODE_NO_WARNINGS")
        .env("CI", "true")
        .env_remove("VERS_ENV")
        .output()
        .unwrap();
    let report = json_of(&out);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(report["summary"]["passed"], 2, "{report:#}");

    // The root environment kept the checkpoint's objects and saw no branch's invoice.
    let check = format!(
        "{} -c \"import boto3; from botocore.config import Config; s3 = boto3.client('s3', endpoint_url='http://s3:4566', region_name='us-east-1', aws_access_key_id='t', aws_secret_access_key='t', config=Config(s3={{'addressing_style': 'path'}})); print(s3.list_objects_v2(Bucket='order-invoices')['KeyCount'], s3.get_object(Bucket='product-images', Key='products/1.png')['Body'].read().decode())\"",
        python.display()
    );
    let out = p.vers(&["execute", &check]);
    assert_eq!(stdout(&out).trim(), "0 seed image", "{}", stderr(&out));
}
