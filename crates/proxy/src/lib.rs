//! vers-proxy.
