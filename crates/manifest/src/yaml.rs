//! A YAML document as a tree of nodes that each remember their line and column, so that
//! every later error can point at the exact place in the manifest.

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// Deepest nesting accepted; deeper documents are rejected instead of risking the stack.
pub const MAX_DEPTH: usize = 128;
/// Most nodes a document may expand to (aliases included), against alias bombs.
pub const MAX_NODES: usize = 1_000_000;

/// A position in the source: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// One YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the node starts.
    pub pos: Pos,
    /// What it holds.
    pub kind: NodeKind,
}

/// The content of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A scalar as written; `plain` is false for quoted and block scalars (always strings).
    Scalar {
        /// The scalar's text.
        value: String,
        /// Whether it was written without quotes (so `true`, `12`, `null` keep their type).
        plain: bool,
    },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order (duplicates kept; the decoder reports them).
    Map(Vec<(Node, Node)>),
}

/// A YAML syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// Where the parser stopped.
    pub pos: Pos,
    /// What it found wrong.
    pub message: String,
}

impl Node {
    /// Whether this is a plain `null`, `~` or empty scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { value, plain: true } if is_null_text(value))
    }

    /// The scalar text, if this is a scalar.
    pub fn scalar(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// A short name of the node's type for error messages.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar { .. } if self.is_null() => "null",
            NodeKind::Scalar { .. } => "a scalar",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    /// The node as JSON, typing plain scalars with the YAML 1.2 core schema.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            NodeKind::Scalar { value, plain } => {
                if *plain {
                    scalar_to_json(value)
                } else {
                    Value::String(value.clone())
                }
            }
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => {
                let mut map = serde_json::Map::new();
                for (k, v) in entries {
                    let key = k
                        .scalar()
                        .map(str::to_string)
                        .unwrap_or_else(|| k.to_json().to_string());
                    map.insert(key, v.to_json());
                }
                Value::Object(map)
            }
        }
    }
}

/// Whether a plain scalar means null in the core schema.
pub fn is_null_text(s: &str) -> bool {
    matches!(s, "" | "~" | "null" | "Null" | "NULL")
}

/// Types a plain scalar: null, bool, integer, float, else string.
pub fn scalar_to_json(s: &str) -> serde_json::Value {
    use serde_json::Value;
    if is_null_text(s) {
        return Value::Null;
    }
    match s {
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = s.parse::<i64>() {
        return Value::from(i);
    }
    if let Ok(u) = s.parse::<u64>() {
        return Value::from(u);
    }
    let looks_float = s.chars().any(|c| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    if looks_float {
        if let Some(n) = s.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(s.to_string())
}

fn pos_of(span: &Span) -> Pos {
    Pos {
        line: span.start.line(),
        column: span.start.col() + 1,
    }
}

/// A container being built.
enum Open {
    Seq(Pos, Vec<Node>, usize),
    Map(Pos, Vec<(Node, Node)>, Option<Node>, usize),
}

/// Parses the first document of `src`. `Ok(None)` means an empty document.
pub fn parse(src: &str) -> Result<Option<Node>, YamlError> {
    let mut parser = Parser::new_from_str(src);
    let mut stack: Vec<Open> = Vec::new();
    let mut anchors: std::collections::HashMap<usize, Node> = std::collections::HashMap::new();
    let mut root: Option<Node> = None;
    let mut nodes = 0usize;
    let mut docs = 0usize;
    while let Some(item) = parser.next_event() {
        let (event, span) = item.map_err(|e| YamlError {
            pos: Pos {
                line: e.marker().line(),
                column: e.marker().col() + 1,
            },
            message: e.info().to_string(),
        })?;
        let pos = pos_of(&span);
        let finished: Option<(Node, usize)> = match event {
            Event::StreamStart | Event::Nothing | Event::DocumentEnd => None,
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                docs += 1;
                if docs > 1 {
                    return Err(YamlError {
                        pos,
                        message: "a manifest holds one YAML document; found a second one".into(),
                    });
                }
                None
            }
            Event::Alias(id) => {
                let node = anchors.get(&id).cloned().ok_or_else(|| YamlError {
                    pos,
                    message: "alias to an unknown anchor".into(),
                })?;
                nodes = nodes.saturating_add(count(&node));
                Some((Node { pos, ..node }, 0))
            }
            Event::Scalar(value, style, anchor, _tag) => Some((
                Node {
                    pos,
                    kind: NodeKind::Scalar {
                        value: value.into_owned(),
                        plain: style == ScalarStyle::Plain,
                    },
                },
                anchor,
            )),
            Event::SequenceStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(too_deep(pos));
                }
                stack.push(Open::Seq(pos, Vec::new(), anchor));
                None
            }
            Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(too_deep(pos));
                }
                stack.push(Open::Map(pos, Vec::new(), None, anchor));
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Open::Seq(p, items, anchor)) => Some((
                    Node {
                        pos: p,
                        kind: NodeKind::Seq(items),
                    },
                    anchor,
                )),
                _ => return Err(unbalanced(pos)),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Open::Map(p, entries, None, anchor)) => Some((
                    Node {
                        pos: p,
                        kind: NodeKind::Map(merge_keys(entries)?),
                    },
                    anchor,
                )),
                _ => return Err(unbalanced(pos)),
            },
        };
        let Some((node, anchor)) = finished else {
            continue;
        };
        nodes += 1;
        if nodes > MAX_NODES {
            return Err(YamlError {
                pos,
                message: format!("the document expands to more than {MAX_NODES} nodes"),
            });
        }
        if anchor > 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => {
                if root.is_none() {
                    root = Some(node);
                }
            }
            Some(Open::Seq(_, items, _)) => items.push(node),
            Some(Open::Map(_, entries, pending, _)) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => entries.push((key, node)),
            },
        }
    }
    Ok(root)
}

/// Applies YAML merge keys (`<<: *defaults`, `<<: [*a, *b]`), as Docker Compose does: the
/// merged mappings' entries come after the mapping's own, which win over them; of several
/// merged mappings the first that has a key wins.
fn merge_keys(entries: Vec<(Node, Node)>) -> Result<Vec<(Node, Node)>, YamlError> {
    let is_merge =
        |k: &Node| matches!(&k.kind, NodeKind::Scalar { value, plain: true } if value == "<<");
    if !entries.iter().any(|(k, _)| is_merge(k)) {
        return Ok(entries);
    }
    let mut own = Vec::new();
    let mut merged: Vec<(Node, Node)> = Vec::new();
    for (k, v) in entries {
        if !is_merge(&k) {
            own.push((k, v));
            continue;
        }
        let sources = match v.kind {
            NodeKind::Map(m) => vec![m],
            NodeKind::Seq(items) => {
                let mut maps = Vec::new();
                for item in items {
                    match item.kind {
                        NodeKind::Map(m) => maps.push(m),
                        _ => return Err(not_mergeable(item.pos)),
                    }
                }
                maps
            }
            _ => return Err(not_mergeable(v.pos)),
        };
        merged.extend(sources.into_iter().flatten());
    }
    let mut out = own;
    for (k, v) in merged {
        let taken = out
            .iter()
            .any(|(have, _)| have.scalar().is_some() && have.scalar() == k.scalar());
        if !taken {
            out.push((k, v));
        }
    }
    Ok(out)
}

fn not_mergeable(pos: Pos) -> YamlError {
    YamlError {
        pos,
        message: "a merge key `<<` takes a mapping (`<<: *defaults`) or a list of mappings".into(),
    }
}

fn count(node: &Node) -> usize {
    let mut n = 0usize;
    let mut todo = vec![node];
    while let Some(x) = todo.pop() {
        n += 1;
        match &x.kind {
            NodeKind::Scalar { .. } => {}
            NodeKind::Seq(items) => todo.extend(items.iter()),
            NodeKind::Map(entries) => {
                for (k, v) in entries {
                    todo.push(k);
                    todo.push(v);
                }
            }
        }
    }
    n
}

fn too_deep(pos: Pos) -> YamlError {
    YamlError {
        pos,
        message: format!("nesting deeper than {MAX_DEPTH} levels"),
    }
}

fn unbalanced(pos: Pos) -> YamlError {
    YamlError {
        pos,
        message: "unbalanced YAML structure".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let n = parse("a:\n  b: [1, x]\n").unwrap().unwrap();
        let NodeKind::Map(entries) = &n.kind else {
            panic!("map expected")
        };
        let (k, v) = &entries[0];
        assert_eq!(k.pos, Pos { line: 1, column: 1 });
        let NodeKind::Map(inner) = &v.kind else {
            panic!("map expected")
        };
        assert_eq!(inner[0].0.pos, Pos { line: 2, column: 3 });
        let NodeKind::Seq(items) = &inner[0].1.kind else {
            panic!("seq expected")
        };
        assert_eq!(
            items[1].pos,
            Pos {
                line: 2,
                column: 10
            }
        );
    }

    #[test]
    fn syntax_error_has_position() {
        let e = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.pos.line >= 1, "{e:?}");
        assert!(!e.message.is_empty());
    }

    #[test]
    fn aliases_expand_and_json_types() {
        let n = parse("a: &x {k: 1}\nb: *x\nc: '1'\nd: 1.5\ne: ~\nf: true\n")
            .unwrap()
            .unwrap();
        let j = n.to_json();
        assert_eq!(j["b"]["k"], 1);
        assert_eq!(j["c"], "1");
        assert_eq!(j["d"], 1.5);
        assert!(j["e"].is_null());
        assert_eq!(j["f"], true);
    }

    #[test]
    fn merge_keys_fill_in_what_a_mapping_does_not_say() {
        let src = "base: &b\n  a: 1\n  b: 2\nother: &o\n  c: 3\nx:\n  <<: [*b, *o]\n  b: 9\n";
        let root = parse(src).unwrap().unwrap();
        assert_eq!(
            root.to_json()["x"],
            serde_json::json!({"b": 9, "a": 1, "c": 3})
        );
        assert!(parse("x:\n  <<: 1\n").is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let src = "[".repeat(10_000);
        assert!(parse(&src).is_err());
    }

    #[test]
    fn empty_document_is_none() {
        assert_eq!(parse("# only a comment\n").unwrap(), None);
    }
}
