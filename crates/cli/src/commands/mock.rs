//! The hidden `vers mock …`: built-in mock servers, started by the runtime like any engine.

use std::path::Path;

use crate::args::MockCommand;
use crate::exit::Exit;

fn config(path: Option<&Path>) -> Result<serde_json::Value, Exit> {
    match path {
        None => Ok(serde_json::Value::Null),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| Exit::failure(format!("{}: {e}", p.display())))?;
            serde_json::from_str(&text).map_err(|e| Exit::failure(format!("{}: {e}", p.display())))
        }
    }
}

/// Refuses the config keys vers search cannot honour (the template refuses them first; this
/// keeps a hand-started server honest too).
fn check_search_config(config: &serde_json::Value) -> Result<(), Exit> {
    let enabled = |v: Option<&serde_json::Value>| match v {
        None | Some(serde_json::Value::Null) | Some(serde_json::Value::Bool(false)) => false,
        Some(serde_json::Value::Object(o)) => {
            o.get("enabled").and_then(|e| e.as_bool()) != Some(false)
        }
        Some(_) => true,
    };
    if enabled(config.get("security")) {
        return Err(Exit::failure(
            "config key `security`: vers search (the built-in Elasticsearch stand-in) has no security; remove the key or install Elasticsearch",
        ));
    }
    if config
        .get("plugins")
        .and_then(|p| p.as_array())
        .is_some_and(|p| !p.is_empty())
    {
        return Err(Exit::failure(
            "config key `plugins`: vers search (the built-in Elasticsearch stand-in) cannot load Elasticsearch plugins; remove the key or install Elasticsearch",
        ));
    }
    Ok(())
}

/// Runs one mock server until killed.
pub async fn run(cmd: MockCommand) -> Result<i32, Exit> {
    match cmd {
        MockCommand::Stripe {
            listen,
            port,
            https_port,
            data_dir,
            config: c,
        } => {
            let opts = vers_mocks::stripe::StripeOptions {
                listen,
                http_port: port,
                https_port,
                data_dir,
                config: config(c.as_deref())?,
            };
            vers_mocks::stripe::serve(opts)
                .await
                .map_err(|e| Exit::failure(format!("stripe-mock: {e}")))?;
        }
        MockCommand::Oauth {
            listen,
            port,
            data_dir,
            config: c,
            public_base,
        } => {
            let opts = vers_mocks::oauth::OauthOptions {
                listen,
                port,
                data_dir,
                config: config(c.as_deref())?,
                public_base,
            };
            vers_mocks::oauth::serve(opts)
                .await
                .map_err(|e| Exit::failure(format!("oauth-mock: {e}")))?;
        }
        MockCommand::Elasticsearch {
            listen,
            port,
            data_dir,
            config: c,
            major,
            product,
            cluster_name,
            node_name,
        } => {
            check_search_config(&config(c.as_deref())?)?;
            let flavor =
                vers_search::Flavor::from_product(&product, &major).map_err(Exit::failure)?;
            let opts = vers_search::SearchOptions {
                listen,
                port,
                data_dir,
                flavor,
                cluster_name,
                node_name,
            };
            vers_search::serve(opts)
                .await
                .map_err(|e| Exit::failure(format!("vers search: {e}")))?;
        }
        MockCommand::SchemaRegistry {
            listen,
            port,
            data_dir,
            kafka,
        } => {
            let opts = vers_mocks::schema_registry::SchemaRegistryOptions {
                listen,
                port,
                data_dir,
                kafka,
            };
            vers_mocks::schema_registry::serve(opts)
                .await
                .map_err(|e| Exit::failure(format!("schema-registry: {e}")))?;
        }
        MockCommand::Mailhog {
            listen,
            smtp_port,
            api_port,
            data_dir,
            config: c,
        } => {
            let opts = vers_mocks::mailhog::MailhogOptions {
                listen,
                smtp_port,
                api_port,
                data_dir,
                config: config(c.as_deref())?,
            };
            vers_mocks::mailhog::serve(opts)
                .await
                .map_err(|e| Exit::failure(format!("mailhog: {e}")))?;
        }
    }
    Ok(0)
}
