//! vers-mocks.

pub mod mailhog;
pub mod oauth;
pub mod stripe;
