//! vers-mocks.

pub mod oauth;
