//! The engine's messages give advice in CLI terms (`run \`vers integration up\``, `pass
//! --force`); an agent using MCP calls tools instead. A tool failure keeps the message and
//! adds the tools and arguments it means.

/// The MCP tool that does what the CLI command `cmd` (`vers …`, as quoted in a message) does.
fn tool_for(cmd: &str) -> Option<&'static str> {
    let mut words = cmd
        .split_whitespace()
        .skip_while(|w| *w == "vers" || *w == "integration");
    let first = words.next()?;
    Some(match (first, words.next()) {
        ("up", _) => "integration_up",
        ("down", _) => "integration_down",
        ("commit", _) => "vers_commit",
        ("checkout", _) => "vers_branch_checkout",
        ("branch", _) => "vers_branch_create",
        ("chaos", Some("recover")) => "chaos_recover",
        ("chaos", Some("inject")) => "chaos_inject",
        ("test", _) => "integration_test",
        ("matrix", _) => "integration_matrix",
        ("add", _) => "integration_add_service",
        ("remove", _) => "integration_remove_service",
        ("rollback", _) => "vers_rollback",
        ("logs", _) => "integration_logs",
        ("execute", _) => "vers_execute",
        ("status", _) => "vers_status",
        ("deploy", _) => "integration_deploy",
        ("export", _) => "integration_export",
        ("init", _) => "integration_init",
        ("diff", _) => "vers_diff",
        ("docs", _) => "integration_docs",
        _ => return None,
    })
}

/// `message` followed, when it names CLI commands or flags, by a line saying which tools
/// and arguments they are.
pub(super) fn for_agents(message: &str) -> String {
    // Advice is on the first line; what follows may be a log excerpt, whose flags are the
    // app's own.
    let advice = message.lines().next().unwrap_or_default();
    let tools = advice
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|quoted| quoted.starts_with("vers "))
        .filter_map(|quoted| {
            tool_for(quoted).map(|tool| format!("`{quoted}` is the `{tool}` tool"))
        });
    let arguments = advice
        .split(|c: char| c.is_whitespace() || c == '`' || c == '(' || c == ',')
        .filter_map(|w| w.strip_prefix("--"))
        .map(|f| f.split('=').next().unwrap_or(f))
        .filter(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        .map(|f| format!("--{f} is the argument `{}`", f.replace('-', "_")));
    let mut said: Vec<String> = Vec::new();
    for line in tools.chain(arguments) {
        if !said.contains(&line) {
            said.push(line);
        }
    }
    if said.is_empty() {
        message.to_string()
    } else {
        format!("{message}\n(through MCP: {})", said.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::for_agents;

    #[test]
    fn cli_advice_is_followed_by_the_tools_and_arguments_it_means() {
        let m = for_agents(
            "environment e1 is stopped; run `vers integration up` to start it again, or `vers chaos recover --checkpoint T`",
        );
        assert!(m.starts_with("environment e1 is stopped;"), "{m}");
        assert!(
            m.contains("`vers integration up` is the `integration_up` tool"),
            "{m}"
        );
        assert!(m.contains("is the `chaos_recover` tool"), "{m}");
        assert!(
            m.contains("--checkpoint is the argument `checkpoint`"),
            "{m}"
        );
        let m = for_agents("deleting HEAD needs --force; pass --force");
        assert_eq!(
            m.matches("--force is the argument `force`").count(),
            1,
            "{m}"
        );
    }

    #[test]
    fn messages_without_cli_advice_are_unchanged() {
        let m = "unknown service `reids`; did you mean `redis`?";
        assert_eq!(for_agents(m), m);
        let m = "the app exited\nlog: python3 app.py --port 8000";
        assert_eq!(for_agents(m), m);
        assert_eq!(for_agents("`vers` itself"), "`vers` itself");
    }
}
