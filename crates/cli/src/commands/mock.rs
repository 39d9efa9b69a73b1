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
