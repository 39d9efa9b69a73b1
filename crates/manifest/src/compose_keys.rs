//! Docker Compose keys written in a manifest, answered with the vers way: the vers key for
//! one vers spells otherwise, and for a service key vers has no key for, what vers does
//! instead, so a user porting a `docker-compose.yml` learns the way rather than a list of
//! allowed keys.

/// The help for unknown key `key` of a mapping whose keys are `allowed`, when it is a
/// Compose key; `None` for other keys.
pub(crate) fn hint(key: &str, allowed: &[&str]) -> Option<String> {
    // A service is the mapping that takes `template`.
    let in_service = allowed.contains(&"template");
    renamed(key, allowed).or_else(|| {
        in_service
            .then(|| instead_of(key))
            .flatten()
            .map(str::to_string)
    })
}

/// The vers key for a Docker Compose key written where vers spells it otherwise
/// (`environment` → `env`, a health check's `test` → `command`, `image` → `template`).
fn renamed(key: &str, allowed: &[&str]) -> Option<String> {
    let (want, note) = match key {
        "environment" => ("env", ""),
        "test" if allowed.contains(&"path") => {
            ("command", " (shell text, or [\"CMD\", …] as in Compose)")
        }
        "test" => ("command", ""),
        "image" => (
            "template",
            " (a catalog template such as postgres@16, or `build:`/`command:` for your app; vers runs no container images)",
        ),
        _ => return None,
    };
    allowed
        .contains(&want)
        .then(|| format!("vers calls it `{want}`{note}"))
}

/// What to write instead of Compose service key `key`; `None` for other keys.
fn instead_of(key: &str) -> Option<&'static str> {
    Some(match key {
        "restart" => {
            "vers restarts no service on its own: one that exits shows as failed in `status` and its log says why (`vers up` or `vers chaos recover` starts it again); remove the key"
        }
        "expose" => {
            "inside an environment every service is reached by its name on all its ports; remove the key (`ports` forwards a port to the host)"
        }
        "env_file" => {
            "list the variables under `env:`; a value may take `${NAME}` or `${NAME:-default}` from the shell vers runs in"
        }
        "working_dir" => {
            "an app runs in its `build` context directory: point `build` at the directory, or begin `command` with `cd DIR && …`"
        }
        "volumes" => {
            "vers runs services on the project's own files (an app's working directory is its `build` context) and keeps engine data in each environment's copy-on-write volume; remove the key"
        }
        "entrypoint" => "write the whole command line in `command`",
        "container_name" | "hostname" => {
            "a service is reached by its key under `services:` inside the environment; rename the service instead"
        }
        "networks" | "links" | "network_mode" => {
            "each environment is one network of its own in which every service reaches every other by name; remove the key"
        }
        "profiles" => "start a subset with `vers up --services NAME…`; remove the key",
        "deploy" => "vers spells these `replicas:` and `resources:` on the service itself",
        "platform" | "pull_policy" | "labels" => {
            "vers runs no container images, so this has no effect; remove the key"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_keys_are_answered_and_others_are_not() {
        assert!(instead_of("restart").is_some_and(|h| h.contains("restarts no service")));
        assert!(instead_of("env_file").is_some_and(|h| h.contains("`env:`")));
        assert!(instead_of("deploy").is_some_and(|h| h.contains("`replicas:`")));
        assert_eq!(instead_of("replicas"), None);
        assert_eq!(instead_of("colour"), None);
    }
}
