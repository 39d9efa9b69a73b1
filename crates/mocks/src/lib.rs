//! vers-mocks.

pub mod mailhog;
pub mod oauth;
