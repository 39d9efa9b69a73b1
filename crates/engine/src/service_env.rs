//! The variables a command run "in a service" (`vers execute --service`, `connect
//! --service`) sees besides the environment's: the service's `env` as the running service
//! was given it (not recomputed from the caller's shell), an app's `PORT` and `HOST`, and
//! for a catalog service the variables its clients use (`PGHOST`, `PGUSER`, …) so that
//! `vers execute --service postgres psql` connects.

use std::collections::BTreeMap;

use crate::environment::{self, EnvContext};
use crate::error::EngineError;
use crate::stack::Stack;

/// Variables of service `name` in environment `ctx` (its first replica).
pub async fn of_service(
    stack: &Stack,
    ctx: &EnvContext,
    name: &str,
) -> Result<BTreeMap<String, String>, EngineError> {
    let svc = environment::service(&ctx.manifest, name)?;
    let inst = environment::instance(ctx, name, 0)?;
    let mut vars = BTreeMap::new();
    if svc.template.is_some() {
        vars.extend(environment::template_of(svc)?.connection_env(&inst));
    }
    let running = running_environ(stack, &ctx.env_id, name).await;
    let mut own: Vec<&str> = svc.env.keys().map(String::as_str).collect();
    if svc.template.is_none() {
        own.extend(["PORT", "HOST"]);
    }
    for key in own {
        let value = match &running {
            Some(env) => env.get(key).cloned(),
            None => inst.env.get(key).cloned(),
        };
        if let Some(v) = value {
            vars.insert(key.to_string(), v);
        }
    }
    Ok(vars)
}

/// The environment the first live process of service `name` was started with, read from
/// `/proc`; `None` when none runs (then the manifest's values are computed instead).
async fn running_environ(
    stack: &Stack,
    env_id: &str,
    name: &str,
) -> Option<BTreeMap<String, String>> {
    let envs = stack.client.envs().await.ok()?;
    let pid = envs
        .iter()
        .find(|e| e.id == env_id)?
        .services
        .iter()
        .find(|s| s.name == name)?
        .processes
        .iter()
        .find(|p| p.alive)?
        .pid;
    let raw = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    Some(parse_environ(&raw))
}

/// `KEY=VALUE` entries separated by NUL bytes, as in `/proc/PID/environ`.
fn parse_environ(raw: &[u8]) -> BTreeMap<String, String> {
    raw.split(|b| *b == 0)
        .filter_map(|entry| {
            let text = String::from_utf8_lossy(entry);
            let (k, v) = text.split_once('=')?;
            (!k.is_empty()).then(|| (k.to_string(), v.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environ_entries_are_split_at_nul_and_the_first_equals_sign() {
        let env = parse_environ(b"A=1\0URL=postgres://x?a=b\0\0=odd\0EMPTY=\0");
        assert_eq!(env.get("A").map(String::as_str), Some("1"));
        assert_eq!(env.get("URL").map(String::as_str), Some("postgres://x?a=b"));
        assert_eq!(env.get("EMPTY").map(String::as_str), Some(""));
        assert_eq!(env.len(), 3);
    }
}
