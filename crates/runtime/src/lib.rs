//! vers-runtime.
