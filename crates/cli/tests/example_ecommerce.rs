//! `examples/ecommerce-platform` (seed Pattern 4 as written) end to end: `up` builds the Node
//! app and takes the seed's three checkpoints (catalogue, customers, orders placed through the
//! app: Stripe charges, S3 invoices, mail), then `test --parallel` runs its twenty branches,
//! each on its own copy of PostgreSQL, Redis, Elasticsearch (vers search), stripe-mock,
//! LocalStack and MailHog. Every branch must pass and must have run its own tests.

mod common;

use common::*;

/// The suites and branches of Pattern 4, in manifest order.
const BRANCHES: &[(&str, &[&str])] = &[
    (
        "catalog",
        &[
            "product-crud",
            "category-management",
            "search-indexing",
            "inventory-tracking",
        ],
    ),
    (
        "checkout",
        &[
            "cart-operations",
            "shipping-calculation",
            "tax-calculation",
            "promo-codes",
        ],
    ),
    (
        "payment",
        &[
            "card-success",
            "card-declined",
            "3ds-required",
            "insufficient-funds",
        ],
    ),
    (
        "fulfillment",
        &[
            "physical-product",
            "digital-product",
            "mixed-order",
            "partial-shipment",
        ],
    ),
    (
        "search",
        &[
            "basic-search",
            "faceted-search",
            "autocomplete",
            "typo-tolerance",
        ],
    ),
];

/// The number after `# pass ` in a node test runner log (TAP).
fn passed_tests(log: &str) -> usize {
    log.lines()
        .find_map(|l| l.strip_prefix("# pass "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn ecommerce_example_runs_every_branch_of_pattern_four() {
    let p = TempProject::new("");
    copy_example("ecommerce-platform", p.path());
    p.ok(&["integration", "validate"]);

    let up = p.vers(&["integration", "up"]);
    assert!(up.status.success(), "{}{}", stdout(&up), stderr(&up));
    // Each service says what serves it: real engines, the built-in mocks, one stand-in.
    let status = p.json(&["integration", "status", "--json"]);
    let engines: std::collections::BTreeMap<String, serde_json::Value> = status["environments"][0]
        ["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap().to_string(), s["engine"].clone()))
        .collect();
    assert!(engines["postgres"]["implementation"]
        .as_str()
        .unwrap()
        .starts_with("postgres 15."));
    assert!(engines["postgres"]["stand_in"].is_null());
    assert!(engines["s3"]["implementation"]
        .as_str()
        .unwrap()
        .starts_with("localstack 4."));
    assert!(engines["s3"]["stand_in"].is_null());
    assert_eq!(engines["stripe"]["source"], "built in");
    assert!(engines["stripe"]["stand_in"].is_null());
    assert!(
        engines["elasticsearch"]["stand_in"].is_string(),
        "{status:#}"
    );
    assert!(engines["app"].is_null());

    // The orders-placed checkpoint checked out through the app: four paid, one declined.
    let orders = p.ok(&[
        "execute",
        "psql postgres://postgres@postgres/ecommerce -Atc \"SELECT u.email, o.status FROM orders o JOIN users u ON u.id = o.user_id ORDER BY o.number\"",
    ]);
    assert_eq!(
        orders.lines().collect::<Vec<_>>(),
        [
            "alice@example.com|paid",
            "bob@example.com|fulfilled",
            "carol@example.com|partially_fulfilled",
            "dave@example.com|paid",
            "erin@example.com|payment_failed",
        ]
    );

    let out = p.vers(&["integration", "test", "--parallel", "--json"]);
    let report = json_of(&out);
    let mut failures = String::new();
    for suite in report["suites"].as_array().unwrap() {
        for b in suite["branches"].as_array().unwrap() {
            let log =
                std::fs::read_to_string(b["log"].as_str().unwrap_or_default()).unwrap_or_default();
            if b["status"] != "passed" || passed_tests(&log) == 0 || log.contains("\nnot ok") {
                failures.push_str(&format!(
                    "--- {}/{} {}\n{log}\n",
                    suite["name"], b["name"], b["status"]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{report:#}\n{failures}");
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(
        report["summary"],
        serde_json::json!({"total": 20, "passed": 20, "failed": 0})
    );

    let suites = report["suites"].as_array().unwrap();
    for (suite, branches) in BRANCHES {
        let got = suites
            .iter()
            .find(|s| s["name"] == *suite)
            .unwrap_or_else(|| panic!("no suite {suite}: {report:#}"));
        let mut names: Vec<&str> = got["branches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["name"].as_str().unwrap())
            .collect();
        names.sort_unstable();
        let mut want = branches.to_vec();
        want.sort_unstable();
        assert_eq!(names, want, "{suite}");
    }
    // The payment branches ran with the seed's cards.
    let payment = suites.iter().find(|s| s["name"] == "payment").unwrap();
    let declined = payment["branches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "card-declined")
        .unwrap();
    assert_eq!(declined["env"]["CARD"], "4000000000000002", "{declined:#}");
}
