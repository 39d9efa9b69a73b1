//! `examples/multi-tenant-saas` (seed 000 Pattern 5 as written) from a copy: `up` runs the
//! shared-schema init script, builds and starts the app and provisions the three test tenants
//! (checkpoint `tenants-created`); `test --parallel` runs the isolation, lifecycle and
//! cross-tenant suites, each branch in its own copy, and every branch must pass.

mod common;
mod example_support;

use common::*;
use example_support::*;

#[test]
fn multi_tenant_example_passes_every_branch() {
    let p = example_project("multi-tenant-saas");
    let out = p.vers(&["integration", "validate"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let out = p.vers(&["integration", "up"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let out = p.vers(&["integration", "test", "--parallel", "--json"]);
    let report = json_of(&out);
    assert_all_passed(
        &report,
        &[
            (
                "tenant-isolation",
                &["data-isolation", "schema-isolation", "connection-pooling"],
            ),
            (
                "tenant-lifecycle",
                &[
                    "tenant-provisioning",
                    "tenant-migration",
                    "tenant-deletion",
                    "tenant-export",
                ],
            ),
            (
                "cross-tenant",
                &["shared-resources", "admin-access", "usage-metering"],
            ),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
}
