//! Shapes of template `config` blocks and their checker: typed checks for the templates vers
//! runs (postgres, redis, the mocks), documented keys with loose nested shapes for the rest.

use crate::ctx::{suggestion_help, Ctx};
use crate::diagnostic::{cut, quote};
use crate::read::{self, describe};
use crate::yaml::{Node, NodeKind, Pos};

/// The expected shape of a config value. A null value is accepted everywhere (it means
/// "use the default").
#[derive(Debug)]
pub enum Shape {
    /// Anything.
    Any,
    /// Any non-null scalar (text, number or boolean).
    Str,
    /// A non-negative integer.
    Int,
    /// A number.
    Num,
    /// `true` or `false`.
    Bool,
    /// A size (`256mb`) or a bare byte count.
    Size,
    /// A duration (`15s`).
    Duration,
    /// An `http://` or `https://` URL.
    Url,
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// A list whose items have this shape.
    List(&'static Shape),
    /// A mapping with exactly these keys (all optional).
    Obj(&'static [(&'static str, Shape)]),
    /// A mapping with any keys, values of this shape.
    Dict(&'static Shape),
    /// The first alternative whose outer form (scalar, list, mapping) matches; among several
    /// of that form, the first that accepts the value.
    Either(&'static [Shape]),
    /// A check of its own.
    Custom(fn(&mut Ctx, &Node, &str)),
}

const STRS: Shape = Shape::List(&Shape::Str);
const DICT: Shape = Shape::Dict(&Shape::Any);
const SQL_USER: Shape = Shape::Obj(&[
    ("name", Shape::Str),
    ("password", Shape::Str),
    ("grants", STRS),
]);

/// Redis eviction policies.
pub const REDIS_POLICIES: &[&str] = &[
    "noeviction",
    "allkeys-lru",
    "volatile-lru",
    "allkeys-random",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lfu",
    "volatile-lfu",
];

/// Provider names `oauth-mock` knows in the list form.
pub const OAUTH_PROVIDERS: &[&str] = &[
    "google",
    "github",
    "microsoft",
    "apple",
    "auth0",
    "okta",
    "gitlab",
    "facebook",
];

/// Services LocalStack emulates here.
pub const LOCALSTACK_SERVICES: &[&str] = &[
    "s3",
    "sqs",
    "sns",
    "dynamodb",
    "lambda",
    "ses",
    "secretsmanager",
];

/// `postgres` config.
pub static POSTGRES: Shape = Shape::Obj(&[
    ("databases", STRS),
    ("extensions", STRS),
    ("users", Shape::List(&SQL_USER)),
    ("init_scripts", STRS),
    ("settings", Shape::Dict(&Shape::Str)),
]);
/// `mysql` and `mariadb` config.
pub static MYSQL: Shape = Shape::Obj(&[
    ("databases", STRS),
    ("users", Shape::List(&SQL_USER)),
    ("init_scripts", STRS),
    ("settings", Shape::Dict(&Shape::Str)),
]);
/// `mongodb` config.
pub static MONGODB: Shape = Shape::Obj(&[
    ("databases", STRS),
    ("replica_set", Shape::Either(&[Shape::Bool, Shape::Str])),
    (
        "auth",
        Shape::Obj(&[("enabled", Shape::Bool), ("root_password", Shape::Str)]),
    ),
    (
        "indexes",
        Shape::Dict(&Shape::List(&Shape::Obj(&[
            ("keys", Shape::Any),
            ("options", Shape::Any),
        ]))),
    ),
]);
/// `redis` config.
pub static REDIS: Shape = Shape::Obj(&[
    ("maxmemory", Shape::Size),
    ("maxmemory_policy", Shape::OneOf(REDIS_POLICIES)),
    (
        "persistence",
        Shape::Either(&[Shape::Bool, Shape::OneOf(&["rdb", "aof", "none"])]),
    ),
    ("databases", Shape::Int),
    ("password", Shape::Str),
    ("requirepass", Shape::Str),
    ("cluster", Shape::Bool),
]);
/// `memcached` config.
pub static MEMCACHED: Shape = Shape::Obj(&[
    ("memory", Shape::Size),
    ("max_connections", Shape::Int),
    ("threads", Shape::Int),
]);
/// `nats` config.
pub static NATS: Shape = Shape::Obj(&[
    ("jetstream", Shape::Bool),
    ("max_payload", Shape::Size),
    ("max_connections", Shape::Int),
]);
/// `kafka` config.
pub static KAFKA: Shape = Shape::Obj(&[
    (
        "topics",
        Shape::List(&Shape::Obj(&[
            ("name", Shape::Str),
            ("partitions", Shape::Int),
            ("replication", Shape::Int),
            ("config", Shape::Dict(&Shape::Str)),
        ])),
    ),
    ("schema_registry", Shape::Either(&[Shape::Bool, DICT])),
    ("connect", Shape::Either(&[Shape::Bool, DICT])),
    ("broker_settings", Shape::Dict(&Shape::Str)),
    (
        "consumer_groups",
        Shape::List(&Shape::Obj(&[("name", Shape::Str), ("topics", STRS)])),
    ),
]);
/// `rabbitmq` config.
pub static RABBITMQ: Shape = Shape::Obj(&[
    ("vhosts", STRS),
    (
        "users",
        Shape::List(&Shape::Obj(&[
            ("name", Shape::Str),
            ("password", Shape::Str),
            ("vhost", Shape::Str),
            ("tags", Shape::Either(&[Shape::Str, STRS])),
        ])),
    ),
    (
        "exchanges",
        Shape::List(&Shape::Obj(&[
            ("name", Shape::Str),
            ("type", Shape::Str),
            ("vhost", Shape::Str),
        ])),
    ),
    (
        "queues",
        Shape::List(&Shape::Obj(&[
            ("name", Shape::Str),
            ("durable", Shape::Bool),
            ("vhost", Shape::Str),
        ])),
    ),
    (
        "bindings",
        Shape::List(&Shape::Obj(&[
            ("exchange", Shape::Str),
            ("queue", Shape::Str),
            ("routing_key", Shape::Str),
        ])),
    ),
    ("management", Shape::Bool),
    ("plugins", STRS),
]);
const SEARCH_INDEX: Shape = Shape::Obj(&[
    ("name", Shape::Str),
    ("mappings", Shape::Either(&[Shape::Str, DICT])),
    ("settings", DICT),
]);
/// `elasticsearch` config.
pub static ELASTICSEARCH: Shape = Shape::Obj(&[
    ("indices", Shape::List(&SEARCH_INDEX)),
    ("security", Shape::Either(&[Shape::Bool, DICT])),
    ("plugins", STRS),
]);
/// `opensearch` config.
pub static OPENSEARCH: Shape = Shape::Obj(&[
    ("indices", Shape::List(&SEARCH_INDEX)),
    ("security", Shape::Either(&[Shape::Bool, DICT])),
]);
/// `meilisearch` config.
pub static MEILISEARCH: Shape = Shape::Obj(&[
    ("master_key", Shape::Str),
    (
        "indexes",
        Shape::List(&Shape::Obj(&[
            ("name", Shape::Str),
            ("primary_key", Shape::Str),
            ("settings", DICT),
        ])),
    ),
]);
/// `localstack` config.
pub static LOCALSTACK: Shape = Shape::Obj(&[
    ("services", Shape::List(&Shape::OneOf(LOCALSTACK_SERVICES))),
    (
        "s3_buckets",
        Shape::List(&Shape::Obj(&[
            ("name", Shape::Str),
            ("acl", Shape::Str),
            ("cors", Shape::List(&DICT)),
        ])),
    ),
    (
        "sqs_queues",
        Shape::List(&Shape::Obj(&[
            ("name", Shape::Str),
            ("attributes", DICT),
            ("is_dlq", Shape::Bool),
        ])),
    ),
    (
        "sns_topics",
        Shape::List(&Shape::Obj(&[
            ("name", Shape::Str),
            (
                "subscriptions",
                Shape::List(&Shape::Obj(&[
                    ("protocol", Shape::Str),
                    ("endpoint", Shape::Str),
                ])),
            ),
        ])),
    ),
    (
        "dynamodb_tables",
        Shape::List(&Shape::Obj(&[
            ("name", Shape::Str),
            ("hash_key", Shape::Str),
            ("range_key", Shape::Str),
            ("attributes", DICT),
        ])),
    ),
    (
        "lambda_functions",
        Shape::List(&Shape::Obj(&[
            ("name", Shape::Str),
            ("handler", Shape::Str),
            ("runtime", Shape::Str),
            ("code", Shape::Str),
        ])),
    ),
]);
/// `stripe-mock` config.
pub static STRIPE_MOCK: Shape = Shape::Obj(&[
    ("port", Shape::Int),
    ("webhook_endpoint", Shape::Url),
    ("webhook_secret", Shape::Str),
    (
        "fixtures",
        Shape::Obj(&[
            (
                "customers",
                Shape::List(&Shape::Obj(&[
                    ("id", Shape::Str),
                    ("email", Shape::Str),
                    ("name", Shape::Str),
                    ("metadata", Shape::Dict(&Shape::Str)),
                ])),
            ),
            (
                "products",
                Shape::List(&Shape::Obj(&[
                    ("id", Shape::Str),
                    ("name", Shape::Str),
                    (
                        "prices",
                        Shape::List(&Shape::Obj(&[
                            ("id", Shape::Str),
                            ("unit_amount", Shape::Int),
                            ("amount", Shape::Int),
                            ("currency", Shape::Str),
                            (
                                "recurring",
                                Shape::Obj(&[(
                                    "interval",
                                    Shape::OneOf(&["day", "week", "month", "year"]),
                                )]),
                            ),
                        ])),
                    ),
                ])),
            ),
            (
                "payment_methods",
                Shape::List(&Shape::Obj(&[
                    ("id", Shape::Str),
                    ("type", Shape::Str),
                    (
                        "card",
                        Shape::Obj(&[("brand", Shape::Str), ("last4", Shape::Str)]),
                    ),
                ])),
            ),
            (
                "shipping_rates",
                Shape::List(&Shape::Obj(&[
                    ("id", Shape::Str),
                    ("display_name", Shape::Str),
                    ("amount", Shape::Int),
                ])),
            ),
        ]),
    ),
]);
/// `oauth-mock` config.
pub static OAUTH_MOCK: Shape = Shape::Obj(&[
    ("providers", Shape::Custom(check_oauth_providers)),
    ("callback_urls", Shape::List(&Shape::Url)),
    ("issuer", Shape::Url),
]);
/// `mailhog` config.
pub static MAILHOG: Shape = Shape::Obj(&[
    ("smtp_port", Shape::Int),
    ("api_port", Shape::Int),
    ("ui_port", Shape::Int),
    ("storage", Shape::OneOf(&["memory", "maildir"])),
]);
const KONG_PLUGIN: Shape = Shape::Obj(&[
    ("name", Shape::Str),
    ("config", DICT),
    ("enabled", Shape::Bool),
]);
/// `kong` config: Kong's declarative entities as the manifest writes them. A route's
/// `service` names a service of the manifest or an entry of `services`.
pub static KONG: Shape = Shape::Obj(&[
    ("database", Shape::OneOf(&["postgres", "off"])),
    (
        "routes",
        Shape::List(&Shape::Obj(&[
            ("name", Shape::Str),
            ("paths", STRS),
            ("service", Shape::Str),
            ("strip_path", Shape::Bool),
            ("preserve_host", Shape::Bool),
            ("methods", STRS),
            ("hosts", STRS),
            ("plugins", Shape::List(&KONG_PLUGIN)),
        ])),
    ),
    (
        "services",
        Shape::List(&Shape::Obj(&[
            ("name", Shape::Str),
            ("url", Shape::Url),
            ("retries", Shape::Int),
            ("connect_timeout", Shape::Int),
            ("write_timeout", Shape::Int),
            ("read_timeout", Shape::Int),
            ("plugins", Shape::List(&KONG_PLUGIN)),
        ])),
    ),
    ("plugins", Shape::List(&KONG_PLUGIN)),
    (
        "consumers",
        Shape::List(&Shape::Obj(&[
            ("username", Shape::Str),
            ("custom_id", Shape::Str),
            (
                "keyauth_credentials",
                Shape::List(&Shape::Obj(&[("key", Shape::Str)])),
            ),
        ])),
    ),
]);

/// The `service` of every route of a `kong` config that names no entry of its `services`:
/// each must be a service of the manifest. Position, name and the key's path.
pub fn kong_service_refs(config: &Node) -> Vec<(Pos, String, String)> {
    fn entries<'n>(node: &'n Node, key: &str) -> &'n [Node] {
        match map_get(node, key).map(|n| &n.kind) {
            Some(NodeKind::Seq(items)) => items,
            _ => &[],
        }
    }
    let declared: Vec<String> = entries(config, "services")
        .iter()
        .filter_map(|s| {
            map_get(s, "name")
                .and_then(Node::scalar)
                .map(str::to_string)
        })
        .collect();
    entries(config, "routes")
        .iter()
        .enumerate()
        .filter_map(|(i, route)| {
            let node = map_get(route, "service")?;
            let name = node.scalar().filter(|_| !node.is_null())?;
            (!declared.iter().any(|d| d == name)).then(|| {
                (
                    node.pos,
                    name.to_string(),
                    format!("config.routes[{i}].service"),
                )
            })
        })
        .collect()
}

/// The value of `key` in a mapping node.
pub(crate) fn map_get<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
    match &node.kind {
        NodeKind::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.scalar() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}
/// `traefik` config.
pub static TRAEFIK: Shape =
    Shape::Obj(&[("entrypoints", DICT), ("routers", DICT), ("services", DICT)]);
/// `monitoring-stack` config.
pub static MONITORING_STACK: Shape = Shape::Obj(&[
    (
        "prometheus",
        Shape::Obj(&[
            ("scrape_interval", Shape::Duration),
            ("scrape_configs", Shape::List(&Shape::Any)),
        ]),
    ),
    (
        "grafana",
        Shape::Obj(&[
            ("admin_password", Shape::Str),
            ("dashboards", Shape::List(&Shape::Any)),
            ("datasources", Shape::List(&Shape::Any)),
        ]),
    ),
    ("jaeger", Shape::Obj(&[("sampling_rate", Shape::Num)])),
]);
/// `logging-stack` config.
pub static LOGGING_STACK: Shape = Shape::Obj(&[
    ("loki", Shape::Obj(&[("retention_period", Shape::Str)])),
    (
        "promtail",
        Shape::Obj(&[("scrape_configs", Shape::List(&Shape::Any))]),
    ),
]);

const OAUTH_CLIENT: Shape = Shape::Obj(&[
    ("client_id", Shape::Str),
    ("client_secret", Shape::Str),
    ("users", Shape::List(&Shape::Either(&[Shape::Str, DICT]))),
]);

/// `providers: [google, github]` (known names) or `providers: {NAME: {client_id, …}}`.
fn check_oauth_providers(cx: &mut Ctx, node: &Node, what: &str) {
    match &node.kind {
        NodeKind::Seq(items) => {
            for item in items {
                match item.scalar().filter(|_| !item.is_null()) {
                    Some(name) if OAUTH_PROVIDERS.contains(&name) => {}
                    Some(name) => cx.err_help(
                        item.pos,
                        format!("unknown OAuth provider {} in {what}", quote(name)),
                        format!(
                            "{}; any other name works in the map form `providers: {{{}: {{client_id: …}}}}`",
                            suggestion_help(name, OAUTH_PROVIDERS),
                            cut(name)
                        ),
                    ),
                    None => cx.err(item.pos, format!("items of {what} must be provider names, found {}", item.type_name())),
                }
            }
        }
        NodeKind::Map(_) => {
            let Some(f) = read::fields(cx, node, None, what) else {
                return;
            };
            for (name, _, v) in f.iter() {
                check(cx, v, &OAUTH_CLIENT, &format!("{what}.{}", cut(name)));
            }
        }
        _ => cx.err(
            node.pos,
            format!(
                "{what} must be a list of provider names or a mapping of providers, found {}",
                describe(node)
            ),
        ),
    }
}

fn form_matches(shape: &Shape, node: &Node) -> bool {
    match shape {
        Shape::Any | Shape::Custom(_) => true,
        Shape::List(_) => matches!(node.kind, NodeKind::Seq(_)),
        Shape::Obj(_) | Shape::Dict(_) => matches!(node.kind, NodeKind::Map(_)),
        Shape::Either(alts) => alts.iter().any(|a| form_matches(a, node)),
        _ => matches!(node.kind, NodeKind::Scalar { .. }),
    }
}

fn expected(shape: &Shape) -> String {
    match shape {
        Shape::Any | Shape::Custom(_) => "any value".into(),
        Shape::Str => "a string".into(),
        Shape::Int => "a non-negative integer".into(),
        Shape::Num => "a number".into(),
        Shape::Bool => "true or false".into(),
        Shape::Size => "a size like 256mb".into(),
        Shape::Duration => "a duration like 15s".into(),
        Shape::Url => "an http(s) URL".into(),
        Shape::OneOf(words) => format!("one of {}", words.join(", ")),
        Shape::List(_) => "a list".into(),
        Shape::Obj(_) | Shape::Dict(_) => "a mapping".into(),
        Shape::Either(alts) => alts.iter().map(expected).collect::<Vec<_>>().join(" or "),
    }
}

/// Checks `node` against `shape`, recording errors at the offending nodes.
pub fn check(cx: &mut Ctx, node: &Node, shape: &Shape, what: &str) {
    if node.is_null() {
        return;
    }
    match shape {
        Shape::Any => {}
        Shape::Custom(f) => f(cx, node, what),
        Shape::Str => {
            read::string(cx, node, what);
        }
        Shape::Int => {
            read::uint(cx, node, what);
        }
        Shape::Num => {
            read::number(cx, node, what);
        }
        Shape::Bool => {
            read::boolean(cx, node, what);
        }
        Shape::Size => {
            read::size(cx, node, what);
        }
        Shape::Duration => {
            read::duration(cx, node, what);
        }
        Shape::Url => {
            if let Some(s) = read::string(cx, node, what) {
                if !valid_http_url(&s) {
                    cx.err_help(
                        node.pos,
                        format!("{what} must be an http(s) URL, found {}", quote(&s)),
                        "e.g. http://app:3000/webhooks/stripe",
                    );
                }
            }
        }
        Shape::OneOf(words) => {
            if let Some(s) = read::string(cx, node, what) {
                if !words.contains(&s.as_str()) {
                    cx.err_help(
                        node.pos,
                        format!("invalid value {} for {what}", quote(&s)),
                        suggestion_help(&s, words),
                    );
                }
            }
        }
        Shape::List(item) => match &node.kind {
            NodeKind::Seq(items) => {
                for (i, it) in items.iter().enumerate() {
                    check(cx, it, item, &format!("{what}[{i}]"));
                }
            }
            _ => cx.err(
                node.pos,
                format!("{what} must be a list, found {}", describe(node)),
            ),
        },
        Shape::Obj(keys) => {
            let names: Vec<&str> = keys.iter().map(|(k, _)| *k).collect();
            let Some(f) = read::fields(cx, node, Some(&names), what) else {
                return;
            };
            for (k, _, v) in f.iter() {
                if let Some((_, s)) = keys.iter().find(|(name, _)| name == k) {
                    check(cx, v, s, &format!("{what}.{}", cut(k)));
                }
            }
        }
        Shape::Dict(value) => {
            let Some(f) = read::fields(cx, node, None, what) else {
                return;
            };
            for (k, _, v) in f.iter() {
                check(cx, v, value, &format!("{what}.{}", cut(k)));
            }
        }
        Shape::Either(alts) => {
            let fits: Vec<&Shape> = alts.iter().filter(|a| form_matches(a, node)).collect();
            if let [one] = fits.as_slice() {
                check(cx, node, one, what);
                return;
            }
            // Several alternatives of the same form (e.g. `true` or `rdb`, both scalars): the
            // value is valid when one of them accepts it.
            let mark = cx.mark();
            for a in fits {
                check(cx, node, a, what);
                if cx.mark() == mark {
                    return;
                }
                cx.rollback(mark);
            }
            cx.err(
                node.pos,
                format!(
                    "{what} must be {}, found {}",
                    expected(shape),
                    describe(node)
                ),
            );
        }
    }
}

/// Whether `s` is an `http://` or `https://` URL with a host (and no spaces).
pub fn valid_http_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"));
    let Some(rest) = rest else { return false };
    let host_port = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match host_port.rsplit_once(':') {
        Some((h, port)) if !h.ends_with(']') || host_port.starts_with('[') => {
            if !port.is_empty() && port.parse::<u16>().is_err() {
                return false;
            }
            h
        }
        _ => host_port,
    };
    !host.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(valid_http_url("http://app:3000/webhooks/stripe"));
        assert!(valid_http_url("https://example.com"));
        assert!(valid_http_url("http://localhost:3000/auth/callback"));
        assert!(!valid_http_url("ftp://x"));
        assert!(!valid_http_url("http://"));
        assert!(!valid_http_url("http://app:99999/x"));
        assert!(!valid_http_url("http://a b/"));
    }
}
