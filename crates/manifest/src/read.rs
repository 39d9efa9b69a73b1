//! Typed reads of YAML nodes: each either returns the value or records an error at the
//! node's position and returns `None`.

use std::time::Duration;

use indexmap::IndexMap;

use crate::ctx::{suggestion_help, Ctx};
use crate::diagnostic::{cut, quote};
use crate::interpolate::check_interpolation;
use crate::units::{parse_duration, parse_size};
use crate::yaml::{Node, NodeKind, Pos};

/// A mapping's entries keyed by their scalar key, after unknown/duplicate key checks.
pub struct Fields<'n> {
    /// Position of the mapping.
    pub pos: Pos,
    entries: Vec<(&'n str, &'n Node, &'n Node)>,
}

impl<'n> Fields<'n> {
    /// The value of `key`, if present and not null.
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, _, v)| *v)
            .filter(|v| !v.is_null())
    }

    /// The entries in source order: key text, key node, value node.
    pub fn iter(&self) -> impl Iterator<Item = &(&'n str, &'n Node, &'n Node)> {
        self.entries.iter()
    }

    /// Records an error at the mapping when `key` is missing.
    pub fn require(&self, cx: &mut Ctx, key: &str, what: &str) -> Option<&'n Node> {
        let v = self.get(key);
        if v.is_none() {
            cx.err(
                self.pos,
                format!("{what} is missing the required key `{key}`"),
            );
        }
        v
    }
}

/// Reads a mapping whose keys must be among `allowed` (`None`: any key). Unknown keys get a
/// "did you mean" at the key's position; duplicate and non-scalar keys are errors. A null
/// node reads as an empty mapping.
pub fn fields<'n>(
    cx: &mut Ctx,
    node: &'n Node,
    allowed: Option<&[&str]>,
    what: &str,
) -> Option<Fields<'n>> {
    if node.is_null() {
        return Some(Fields {
            pos: node.pos,
            entries: Vec::new(),
        });
    }
    let NodeKind::Map(entries) = &node.kind else {
        cx.err(
            node.pos,
            format!("{what} must be a mapping, found {}", node.type_name()),
        );
        return None;
    };
    let mut out: Vec<(&str, &Node, &Node)> = Vec::new();
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for (k, v) in entries {
        let Some(key) = k
            .scalar()
            .filter(|_| !matches!(k.kind, NodeKind::Map(_) | NodeKind::Seq(_)))
        else {
            cx.err(
                k.pos,
                format!("keys of {what} must be scalars, found {}", k.type_name()),
            );
            continue;
        };
        if !seen.insert(key) {
            cx.err(k.pos, format!("duplicate key {} in {what}", quote(key)));
            continue;
        }
        if let Some(allowed) = allowed {
            if !allowed.contains(&key) {
                let help = crate::compose_keys::hint(key, allowed)
                    .unwrap_or_else(|| suggestion_help(key, allowed));
                cx.err_help(k.pos, format!("unknown key {} in {what}", quote(key)), help);
                continue;
            }
        }
        out.push((key, k, v));
    }
    Some(Fields {
        pos: node.pos,
        entries: out,
    })
}

/// A non-null scalar as text (numbers and booleans as written).
pub fn string(cx: &mut Ctx, node: &Node, what: &str) -> Option<String> {
    match &node.kind {
        NodeKind::Scalar { value, .. } if !node.is_null() => Some(value.clone()),
        _ => {
            cx.err(
                node.pos,
                format!("{what} must be a string, found {}", node.type_name()),
            );
            None
        }
    }
}

/// A string that may hold `${…}` references; their syntax is checked.
pub fn template_string(cx: &mut Ctx, node: &Node, what: &str) -> Option<String> {
    let s = string(cx, node, what)?;
    check_interp(cx, node, &s, what);
    Some(s)
}

/// Records an interpolation syntax error in `s` (read from `node`).
pub fn check_interp(cx: &mut Ctx, node: &Node, s: &str, what: &str) {
    if let Err(e) = check_interpolation(s) {
        cx.err_help(
            node.pos,
            format!("{what}: {e}"),
            "use ${NAME} or ${NAME:-default}; write $$ for a literal $",
        );
    }
}

/// A non-negative integer.
pub fn uint(cx: &mut Ctx, node: &Node, what: &str) -> Option<u64> {
    let parsed = match &node.kind {
        NodeKind::Scalar { value, .. } => value.trim().parse::<u64>().ok(),
        _ => None,
    };
    if parsed.is_none() {
        cx.err(
            node.pos,
            format!(
                "{what} must be a non-negative integer, found {}",
                describe(node)
            ),
        );
    }
    parsed
}

/// A non-negative integer that fits in `u32`.
pub fn uint32(cx: &mut Ctx, node: &Node, what: &str) -> Option<u32> {
    let n = uint(cx, node, what)?;
    match u32::try_from(n) {
        Ok(v) => Some(v),
        Err(_) => {
            cx.err(node.pos, format!("{what} is too large ({n})"));
            None
        }
    }
}

/// A number (integer or decimal).
pub fn number(cx: &mut Ctx, node: &Node, what: &str) -> Option<f64> {
    let parsed = match &node.kind {
        NodeKind::Scalar { value, .. } => {
            value.trim().parse::<f64>().ok().filter(|f| f.is_finite())
        }
        _ => None,
    };
    if parsed.is_none() {
        cx.err(
            node.pos,
            format!("{what} must be a number, found {}", describe(node)),
        );
    }
    parsed
}

/// `true` or `false`.
pub fn boolean(cx: &mut Ctx, node: &Node, what: &str) -> Option<bool> {
    match node.scalar().map(|s| s.to_ascii_lowercase()).as_deref() {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => {
            cx.err(
                node.pos,
                format!("{what} must be true or false, found {}", describe(node)),
            );
            None
        }
    }
}

/// A duration (`500ms`, `2s`, `5m`, `1h`; a bare integer is milliseconds).
pub fn duration(cx: &mut Ctx, node: &Node, what: &str) -> Option<Duration> {
    let s = string(cx, node, what)?;
    match parse_duration(&s) {
        Ok(d) => Some(d),
        Err(e) => {
            cx.err_help(
                node.pos,
                format!("{what}: invalid duration: {e}"),
                "e.g. 500ms, 30s, 5m, 1h",
            );
            None
        }
    }
}

/// A size in bytes (`256mb`, `1gb`; a bare integer is bytes).
pub fn size(cx: &mut Ctx, node: &Node, what: &str) -> Option<u64> {
    let s = string(cx, node, what)?;
    match parse_size(&s) {
        Ok(n) => Some(n),
        Err(e) => {
            cx.err_help(
                node.pos,
                format!("{what}: invalid size: {e}"),
                "e.g. 256mb, 1gb",
            );
            None
        }
    }
}

/// A list of strings; a single string reads as a one-element list. Returns each item with
/// its node, for position-aware checks.
pub fn string_list<'n>(cx: &mut Ctx, node: &'n Node, what: &str) -> Vec<(String, &'n Node)> {
    match &node.kind {
        _ if node.is_null() => Vec::new(),
        NodeKind::Scalar { value, .. } => vec![(value.clone(), node)],
        NodeKind::Seq(items) => items
            .iter()
            .filter_map(|i| string(cx, i, &format!("an item of {what}")).map(|s| (s, i)))
            .collect(),
        NodeKind::Map(_) => {
            cx.err(
                node.pos,
                format!("{what} must be a list of strings, found a mapping"),
            );
            Vec::new()
        }
    }
}

/// An environment: a mapping of names to scalars (null is the empty string) or a list of
/// `NAME=value` strings. Values are checked for interpolation syntax.
pub fn env_map(cx: &mut Ctx, node: &Node, what: &str) -> IndexMap<String, String> {
    let mut out = IndexMap::new();
    match &node.kind {
        NodeKind::Seq(items) => {
            for item in items {
                let Some(s) = string(cx, item, &format!("an item of {what}")) else {
                    continue;
                };
                match s.split_once('=') {
                    Some((k, v)) if valid_env_name(k) => {
                        check_interp(cx, item, v, &format!("{what}.{}", cut(k)));
                        out.insert(k.to_string(), v.to_string());
                    }
                    _ => cx.err(
                        item.pos,
                        format!(
                            "{what} list items must look like NAME=value, found {}",
                            quote(&s)
                        ),
                    ),
                }
            }
        }
        _ => {
            let Some(f) = fields(cx, node, None, what) else {
                return out;
            };
            for (k, key_node, v) in f.iter() {
                if !valid_env_name(k) {
                    cx.err_help(
                        key_node.pos,
                        format!("invalid environment variable name {} in {what}", quote(k)),
                        "use letters, digits and _ (not starting with a digit)",
                    );
                    continue;
                }
                let value = match &v.kind {
                    _ if v.is_null() => String::new(),
                    NodeKind::Scalar { value, .. } => value.clone(),
                    _ => {
                        cx.err(
                            v.pos,
                            format!(
                                "{what}.{} must be a scalar, found {}",
                                cut(k),
                                v.type_name()
                            ),
                        );
                        continue;
                    }
                };
                check_interp(cx, v, &value, &format!("{what}.{}", cut(k)));
                out.insert(k.to_string(), value);
            }
        }
    }
    out
}

/// Whether `k` is a valid environment variable name (letters, digits and `_`, not starting
/// with a digit).
pub fn valid_env_name(k: &str) -> bool {
    let mut chars = k.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The node's value for error messages: `` `text` `` for scalars, else its type.
pub fn describe(node: &Node) -> String {
    match &node.kind {
        NodeKind::Scalar { value, .. } if !node.is_null() => quote(value),
        _ => node.type_name().to_string(),
    }
}
