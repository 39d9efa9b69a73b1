//! The `vers-integration.yaml` manifest: YAML parsed with positions, decoded into typed
//! structs, validated with file:line:column diagnostics, plus checkpoint selectors, the
//! matrix, the start/test plan and the stack templates of `vers integration init`.
//!
//! Decisions not fixed by the spec:
//! - An unset `${VAR}` without a default interpolates to the empty string (as in Compose);
//!   a `$` not followed by `{` or `$` is left for the shell.
//! - A suite's `checkpoint` and a branch's `from` may name any checkpoint *or* a tag made
//!   by `vers commit --tag`, so names that are not declared are not validation errors;
//!   the engine reports them at run time if no such checkpoint exists.
//! - A null `env` value is the empty string; numbers and booleans keep their written text.
//! - The only I/O is reading the manifest file in [`load`].

mod config;
mod ctx;
mod decode;
mod diagnostic;
mod interpolate;
mod model;
mod plan;
mod read;
pub mod scaffold;
mod selector;
pub mod templates;
mod units;
mod validate;
pub mod yaml;

use std::path::Path;

pub use config::{Shape, OAUTH_PROVIDERS, REDIS_POLICIES};
pub use decode::{CHAOS_ACTIONS, DEPLOY_TARGETS};
pub use diagnostic::{Diagnostic, Diagnostics};
pub use interpolate::{check_interpolation, interpolate, InterpolationError};
pub use model::{
    Branch, Build, Chaos, ChaosScenario, Checkpoint, Deploy, Expect, Healthcheck, Limit, Manifest,
    PortMap, Resources, Scaling, Service, Suite, TemplateRef, Vm,
};
pub use plan::{
    closure, matrix_combinations, plan, suite_order, suite_services, waves_for, Plan, TestPlan,
};
pub use selector::{pattern_matches, AfterSelector, ServiceSelector};
pub use templates::{all_templates, standard_ports, template, TemplateInfo};
pub use units::{parse_duration, parse_size, UnitError};
pub use validate::{MATRIX_RUNTIMES, MAX_MATRIX_COMBINATIONS, SERVICES_READY};

/// The manifest's file name in a project.
pub const MANIFEST_FILE: &str = "vers-integration.yaml";

/// Reads and validates the manifest at `path`.
pub fn load(path: &Path) -> Result<Manifest, Diagnostics> {
    match std::fs::read_to_string(path) {
        Ok(src) => parse_str(&src, path),
        Err(e) => Err(Diagnostics(vec![Diagnostic {
            file: path.to_path_buf(),
            line: 1,
            column: 1,
            message: format!("cannot read the manifest: {e}"),
            help: None,
            source_line: None,
        }])),
    }
}

/// Parses and validates manifest text; `path` names it in diagnostics and in
/// [`Manifest::path`]. Every error is collected; none panics.
pub fn parse_str(src: &str, path: &Path) -> Result<Manifest, Diagnostics> {
    let mut cx = ctx::Ctx::new(src, path);
    let root = match yaml::parse(src) {
        Ok(Some(root)) => root,
        Ok(None) => {
            cx.err_help(
                yaml::Pos { line: 1, column: 1 },
                "the manifest is empty",
                "start with `name: my-project` and a `services:` mapping (see `vers integration init`)",
            );
            return Err(cx.finish());
        }
        Err(e) => {
            cx.err(e.pos, format!("YAML syntax error: {}", e.message));
            return Err(cx.finish());
        }
    };
    let (manifest, index) = decode::decode(&mut cx, &root, path);
    validate::check(&mut cx, &manifest, &index);
    if cx.has_errors() {
        Err(cx.finish())
    } else {
        Ok(manifest)
    }
}
