//! Errors of the catalog: bad template options, files that cannot be written, tools and
//! engines that are missing.

use std::path::PathBuf;

use crate::MissingEngine;

/// Why a template could not describe or prepare a service, or an engine could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A `config:` option of a service has a value the template cannot use.
    #[error("service `{service}`: config.{key}: {message}")]
    Config {
        /// The service whose config is wrong.
        service: String,
        /// The option, e.g. `users[0].grants`.
        key: String,
        /// What is wrong and what would be accepted.
        message: String,
    },
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A client tool a template needs (e.g. `psql`) is not installed.
    #[error("`{tool}` is not installed: {hint}")]
    MissingTool {
        /// The tool's binary name.
        tool: String,
        /// How to install it.
        hint: String,
    },
    /// The engine a template needs is missing.
    #[error(transparent)]
    MissingEngine(#[from] MissingEngine),
    /// An app service has no command and none could be detected.
    #[error("service `{service}`: no `command` and none detected in {} (looked for a Procfile `web:` line and a package.json `start` script)", context.display())]
    NoCommand {
        /// The app service.
        service: String,
        /// The directory searched.
        context: PathBuf,
    },
    /// `vers engines install` could not install an engine.
    #[error("installing {template}@{major}: {message}")]
    Install {
        /// The template, e.g. `postgres`.
        template: String,
        /// The requested major version.
        major: String,
        /// What failed and what to do about it.
        message: String,
    },
    /// The template's engine exists but vers does not know how to run it.
    #[error("template `{template}`: {message}")]
    Unsupported {
        /// The template.
        template: String,
        /// What is missing and what to use instead.
        message: String,
    },
}

impl CatalogError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CatalogError::Io {
            path: path.into(),
            source,
        }
    }

    /// A config error of `service` at `key`.
    pub fn config(service: &str, key: impl Into<String>, message: impl Into<String>) -> Self {
        CatalogError::Config {
            service: service.to_string(),
            key: key.into(),
            message: message.into(),
        }
    }
}
