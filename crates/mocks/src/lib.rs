//! vers-mocks.

pub mod mailhog;
pub mod oauth;
pub mod schema_registry;
pub mod stripe;
