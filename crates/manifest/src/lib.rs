//! vers-manifest.
