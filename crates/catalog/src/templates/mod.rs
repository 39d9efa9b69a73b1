//! The catalog: one module per template.

pub(crate) mod external;
pub(crate) mod kafka;
pub(crate) mod kong;
pub(crate) mod localstack;
pub(crate) mod mariadb;
pub(crate) mod memcached;
pub(crate) mod mocks;
pub(crate) mod mongodb;
pub(crate) mod nats;
pub(crate) mod postgres;
pub(crate) mod rabbitmq;
pub(crate) mod redis;
pub(crate) mod search;
