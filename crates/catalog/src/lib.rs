//! vers-catalog.
