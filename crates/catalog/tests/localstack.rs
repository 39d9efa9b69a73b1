//! LocalStack for real (its community build, from the engine cache): the seed's buckets with
//! CORS and ACL, queues with a dead-letter queue, a topic delivering to a queue and a secret,
//! judged by boto3; its state, saved by `quiesce`, survives into a copy of the data directory
//! taken while the server is frozen (how checkpoints and branches work).

mod support;

use serde_json::{json, Value};
use support::{
    ctx, dirs, free_port, run_ok, run_python_against, start, wait_healthy, Dirs, Running,
};
use vers_catalog::{template_for, EngineBinary, InstanceCtx, Template};

fn engine(t: &dyn Template) -> EngineBinary {
    t.engine(None).unwrap_or_else(|missing| {
        panic!("{missing} (scripts/setup.sh runs `vers engines install localstack`)")
    })
}

fn endpoint(c: &InstanceCtx) -> String {
    format!("http://127.0.0.1:{}", c.ports[0])
}

/// Starts the template's server for `config` in `d`, waiting for its health probe.
fn serve(
    t: &dyn Template,
    engine: &EngineBinary,
    d: &Dirs,
    config: &Value,
) -> (InstanceCtx, Running) {
    let c = ctx("s3", "localstack", d, vec![free_port()], config.clone());
    assert!(t.init_data(&c, engine).unwrap().is_empty());
    let server = start(
        &t.launch(&c, engine).unwrap(),
        d.root.path().join("localstack.log"),
    );
    wait_healthy(&t.health(&c, engine), &server);
    (c, server)
}

/// Writes with `write`, quiesces, copies the frozen data directory, starts a second server on
/// the copy and checks it with `read`.
fn survives_a_frozen_copy(config: Value, check_setup: &str, write: &str, read: &str) {
    let t = template_for("localstack").unwrap();
    let engine = engine(t);
    assert!(
        engine.stand_in.is_none(),
        "LocalStack itself serves: {engine:?}"
    );
    let d = dirs();
    let (c, server) = serve(t, &engine, &d, &config);
    for step in t.setup(&c, &engine).unwrap() {
        run_ok(&step);
    }
    run_python_against(
        "localstack_client.py",
        &[check_setup, &endpoint(&c)],
        &server,
    );
    run_python_against("localstack_client.py", &[write, &endpoint(&c)], &server);
    for step in t.quiesce(&c, &engine) {
        run_ok(&step);
    }
    let copy = dirs();
    std::fs::remove_dir(&copy.data).unwrap();
    server.copy_while_frozen(&d.data, &copy.data);
    let (b, branch) = serve(t, &engine, &copy, &config);
    run_python_against("localstack_client.py", &[read, &endpoint(&b)], &branch);
}

#[test]
fn localstack_applies_the_seed_buckets_and_keeps_objects_across_a_frozen_copy() {
    survives_a_frozen_copy(
        json!({
            "services": ["s3"],
            "s3_buckets": [
                {"name": "product-images", "cors": [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "PUT"]}]},
                {"name": "order-invoices", "acl": "private"},
            ],
        }),
        "s3-setup",
        "s3-write",
        "s3-read",
    );
}

#[test]
fn localstack_keeps_queues_messages_topics_and_secrets_across_a_frozen_copy() {
    survives_a_frozen_copy(
        json!({
            "services": ["sqs", "sns", "secretsmanager"],
            "sqs_queues": [
                {"name": "orders", "attributes": {"VisibilityTimeout": 7, "RedrivePolicy": {"deadLetterTargetArn": "orders-dlq", "maxReceiveCount": 2}}},
                {"name": "orders-dlq", "is_dlq": true},
            ],
            "sns_topics": [{"name": "order-events", "subscriptions": [{"protocol": "sqs", "endpoint": "orders"}]}],
        }),
        "messaging-setup",
        "messaging-write",
        "messaging-read",
    );
}

#[test]
fn localstack_gives_clients_its_endpoint_and_refuses_what_it_cannot_serve_here() {
    let t = template_for("localstack").unwrap();
    let engine = engine(t);
    let d = dirs();
    let c = ctx("s3", "localstack", &d, vec![4566], Value::Null);
    let env = t.connection_env(&c);
    assert_eq!(env["AWS_ENDPOINT_URL"], "http://s3:4566");
    assert_eq!(env["AWS_ACCESS_KEY_ID"], "test");
    assert_eq!(env["AWS_SECRET_ACCESS_KEY"], "test");
    assert_eq!(env["AWS_DEFAULT_REGION"], "us-east-1");
    assert_eq!(t.http_ports(&c), vec![4566]);
    let launch = t.launch(&c, &engine).unwrap();
    assert_eq!(launch.env["GATEWAY_LISTEN"], "127.0.0.1:4566");
    assert_eq!(launch.env["SERVICES"], "s3,sqs,sns,secretsmanager,ses");
    for (config, key) in [
        (
            json!({"dynamodb_tables": [{"name": "carts", "hash_key": "id"}]}),
            "config.dynamodb_tables",
        ),
        (
            json!({"lambda_functions": [{"name": "f", "handler": "h", "runtime": "nodejs20.x", "code": "."}]}),
            "config.lambda_functions",
        ),
        (
            json!({"services": ["s3", "dynamodb"]}),
            "config.services[1]",
        ),
    ] {
        let c = ctx("s3", "localstack", &d, vec![4566], config);
        let err = t.launch(&c, &engine).unwrap_err().to_string();
        assert!(
            err.contains(key) && err.contains("LocalStack 4.13.1"),
            "{err}"
        );
    }
}
