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
//! - The only I/O is in [`load`]: reading the manifest file and looking at what its
//!   `build:` contexts are ([`check_build_context`]).

mod build_context;
mod compose_keys;
mod config;
mod ctx;
mod decode;
mod diagnostic;
mod fault;
mod fork;
mod interpolate;
mod locate;
mod model;
mod names;
mod plan;
mod ports;
mod read;
pub mod scaffold;
mod scenario;
mod selector;
mod syntax_hint;
pub mod templates;
mod units;
mod validate;
pub mod yaml;

use std::path::Path;

pub use build_context::{check_build_context, BuildContextError};
pub use config::{Shape, OAUTH_PROVIDERS, REDIS_POLICIES};
pub use ctx::suggest;
pub use decode::DEPLOY_TARGETS;
pub use diagnostic::{cut, quote, Diagnostic, Diagnostics, MAX_QUOTED_CHARS};
pub use fault::{
    human as human_duration, FaultAction, FaultError, FaultField, FaultOption, FaultScope,
    FaultSpec, CHAOS_ACTIONS,
};
pub use fork::{check_fork_points, check_fork_points_in_text};
pub use interpolate::{check_interpolation, interpolate, InterpolationError};
pub use locate::config_key_position;
pub use model::{
    Branch, Build, Chaos, ChaosScenario, Checkpoint, Deploy, Expect, Healthcheck, Limit, Manifest,
    PortMap, Resources, Scaling, Service, Suite, TemplateRef, Vm, MAX_WARM,
};
pub use names::{check_name, NameError, MAX_NAME_LEN, NAME_RULE};
pub use plan::{
    checkpoint_names, closure, matrix_combinations, order_suites, plan, suite_order,
    suite_prerequisites, suite_services, waves_for, Plan, TestPlan,
};
pub use selector::{pattern_matches, AfterSelector, ServiceSelector};
pub use templates::{
    all_templates, declares_port, http_ports, speaks_http, standard_ports, template, TemplateInfo,
    DEFAULT_APP_PORT,
};
pub use units::{parse_duration, parse_size, UnitError};
pub use validate::{MATRIX_RUNTIMES, MAX_MATRIX_COMBINATIONS, SERVICES_READY};

/// The manifest's file name in a project.
pub const MANIFEST_FILE: &str = "vers-integration.yaml";

/// Reads and validates the manifest at `path`, including what its `build:` contexts are on
/// disk (see [`check_build_context`]).
pub fn load(path: &Path) -> Result<Manifest, Diagnostics> {
    match std::fs::read_to_string(path) {
        Ok(src) => {
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            parse(&src, path, Some(dir))
        }
        Err(e) => Err(Diagnostics(vec![Diagnostic {
            file: path.to_path_buf(),
            line: 1,
            column: 1,
            message: format!("cannot read the manifest: {e}"),
            help: None,
            source_line: None,
            source_column: 1,
        }])),
    }
}

/// Parses and validates manifest text; `path` names it in diagnostics and in
/// [`Manifest::path`]. Every error is collected; none panics. Touches no file.
pub fn parse_str(src: &str, path: &Path) -> Result<Manifest, Diagnostics> {
    parse(src, path, None)
}

fn parse(src: &str, path: &Path, project_dir: Option<&Path>) -> Result<Manifest, Diagnostics> {
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
            let hint = syntax_hint::explain(src, &e);
            match hint.help {
                Some(help) => cx.err_help(hint.pos, hint.message, help),
                None => cx.err(hint.pos, hint.message),
            }
            return Err(cx.finish());
        }
    };
    let (manifest, index) = decode::decode(&mut cx, &root, path);
    validate::check(&mut cx, &manifest, &index);
    if let Some(dir) = project_dir {
        validate::check_build_contexts(&mut cx, &manifest, &index, dir);
        validate::check_checkpoint_scripts(&mut cx, &manifest, &index, dir);
    }
    if cx.has_errors() {
        Err(cx.finish())
    } else {
        Ok(manifest)
    }
}
