//! vers-engine.
