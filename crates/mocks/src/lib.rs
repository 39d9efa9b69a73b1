//! vers-mocks.
