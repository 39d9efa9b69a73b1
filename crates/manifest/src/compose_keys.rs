//! Docker Compose service keys that vers has no key for, each answered with what vers does
//! instead, so a user porting a `docker-compose.yml` learns the way rather than a list of
//! allowed keys.

/// What to write instead of Compose service key `key`; `None` for other keys.
pub(crate) fn instead_of(key: &str) -> Option<&'static str> {
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
