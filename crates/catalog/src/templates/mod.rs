//! The catalog: one module per template.

pub(crate) mod external;
pub(crate) mod memcached;
pub(crate) mod mocks;
pub(crate) mod postgres;
pub(crate) mod redis;
