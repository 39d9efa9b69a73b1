//! Which service of which environment an inspection acts on, checked to be running.

use std::collections::BTreeMap;

use vers_catalog::EngineBinary;

use crate::environment::{self, EnvContext};
use crate::error::EngineError;
use crate::stack::Stack;
use crate::state::EnvRecord;

/// The template name of a manifest service (`app` for services built from source).
pub fn template_name(stack: &Stack, service: &str) -> Option<String> {
    stack.manifest.services.get(service).map(|s| {
        s.template
            .as_ref()
            .map(|t| t.name.clone())
            .unwrap_or_else(|| "app".into())
    })
}

/// Services of the manifest using `template`, in manifest order.
pub fn services_of(stack: &Stack, template: &str) -> Vec<String> {
    stack
        .manifest
        .services
        .keys()
        .filter(|n| template_name(stack, n).as_deref() == Some(template))
        .cloned()
        .collect()
}

/// The postgres service to act on: `service` (which must be one), else the manifest's first.
/// Unknown or non-postgres names are usage errors.
pub fn postgres_service(stack: &Stack, service: Option<&str>) -> Result<String, EngineError> {
    let all = services_of(stack, "postgres");
    match service {
        Some(name) => {
            stack.require_service(name)?;
            let template = template_name(stack, name).unwrap_or_default();
            if template != "postgres" {
                return Err(EngineError::Manifest(format!(
                    "service `{name}` is a {template} service; `vers db` works on postgres services ({})",
                    if all.is_empty() {
                        "the manifest has none".to_string()
                    } else {
                        all.join(", ")
                    }
                )));
            }
            Ok(name.to_string())
        }
        None => all.into_iter().next().ok_or_else(|| {
            EngineError::Manifest(
                "the manifest has no postgres service; `vers db` works on postgres services".into(),
            )
        }),
    }
}

/// The database a postgres service's clients use by default: the first it configures,
/// else `postgres`.
pub fn default_database(stack: &Stack, service: &str) -> String {
    stack
        .manifest
        .services
        .get(service)
        .and_then(|s| {
            vers_catalog::clients::postgres_databases(&s.config)
                .into_iter()
                .next()
        })
        .unwrap_or_else(|| "postgres".into())
}

/// The context of an environment.
pub fn context(stack: &Stack, env: &EnvRecord) -> EnvContext {
    stack.env_context(&env.id, &env.name, &env.matrix, BTreeMap::new())
}

/// The engine binary service `service` runs in the environment.
pub fn engine(ctx: &EnvContext, service: &str) -> Result<EngineBinary, EngineError> {
    environment::preflight(ctx, &[service.to_string()])?
        .remove(service)
        .ok_or_else(|| EngineError::Failed(format!("no engine resolved for {service}")))
}

/// Fails unless `service` runs (not stopped, paused or frozen) in environment `env`.
pub async fn ensure_running(
    stack: &Stack,
    env: &EnvRecord,
    service: &str,
) -> Result<(), EngineError> {
    if !env.services.iter().any(|s| s == service) {
        return Err(EngineError::Failed(format!(
            "{service} was not started in {} ({}); start it with `vers integration up`",
            env.name, env.id
        )));
    }
    let live = stack.client.envs().await?;
    let Some(e) = live.iter().find(|e| e.id == env.id) else {
        return Err(EngineError::Failed(format!(
            "environment {} ({}) is not running",
            env.name, env.id
        )));
    };
    if e.frozen {
        return Err(EngineError::Failed(format!(
            "environment {} ({}) is paused; check it out first",
            env.name, env.id
        )));
    }
    match e.services.iter().find(|s| s.name == service) {
        Some(s) if s.state == "running" => Ok(()),
        Some(s) => Err(EngineError::Failed(format!(
            "{service} is {} in {} ({}); `vers chaos recover` or `vers integration up` starts it again",
            s.state, env.name, env.id
        ))),
        None => Err(EngineError::Failed(format!(
            "{service} is not running in {} ({})",
            env.name, env.id
        ))),
    }
}
