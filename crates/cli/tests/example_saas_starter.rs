//! `examples/saas-starter` (seed 000 Pattern 1, the README's demo) from a copy: `up` builds
//! and starts the app beside postgres, redis and the Stripe, OAuth and SMTP mocks and seeds
//! it; `test --parallel` runs the unit, auth, billing and email suites, each branch in its
//! own copy, and every branch must pass.

mod common;
mod example_support;

use common::*;
use example_support::*;

#[test]
fn saas_starter_example_passes_every_branch() {
    let p = example_project("saas-starter");
    let out = p.vers(&["integration", "up"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let out = p.vers(&["integration", "test", "--parallel", "--json"]);
    let report = json_of(&out);
    assert_all_passed(
        &report,
        &[
            ("unit", &["unit"]),
            ("auth", &["google-oauth", "github-oauth", "email-password"]),
            (
                "billing",
                &[
                    "subscription-create",
                    "subscription-upgrade",
                    "subscription-cancel",
                    "payment-failure",
                ],
            ),
            (
                "email",
                &["welcome-email", "password-reset", "invoice-email"],
            ),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}
