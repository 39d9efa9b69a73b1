//! A small block-style YAML writer for the exported documents (JSON values in, YAML out):
//! mappings keep their insertion order, strings are quoted whenever a plain scalar could be
//! read as something else, and multi-line strings become literal blocks.

use serde_json::Value;

/// `value` as a YAML document (no leading `---`), ending with a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(m) if !m.is_empty() => write_map(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => write_seq(&mut out, a, 0),
        other => {
            out.push_str(&scalar(other, 0));
            out.push('\n');
        }
    }
    out
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn write_map(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    for (k, v) in map {
        pad(out, indent);
        out.push_str(&string(k, indent));
        out.push(':');
        write_child(out, v, indent);
    }
}

fn write_seq(out: &mut String, items: &[Value], indent: usize) {
    for v in items {
        pad(out, indent);
        out.push('-');
        match v {
            Value::Object(m) if !m.is_empty() => {
                // The first key on the dash's line, the rest under it.
                let mut first = true;
                for (k, inner) in m {
                    if first {
                        out.push(' ');
                        first = false;
                    } else {
                        pad(out, indent + 2);
                    }
                    out.push_str(&string(k, indent + 2));
                    out.push(':');
                    write_child(out, inner, indent + 2);
                }
            }
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                write_seq(out, a, indent + 2);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar(other, indent + 2));
                out.push('\n');
            }
        }
    }
}

/// The value after `key:` — nested collections on the following lines.
fn write_child(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            write_map(out, m, indent + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            write_seq(out, a, indent + 2);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other, indent + 2));
            out.push('\n');
        }
    }
}

fn scalar(v: &Value, indent: usize) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s, indent),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
    }
}

/// Words a YAML 1.1 reader takes for booleans or null.
const RESERVED: &[&str] = &[
    "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
];

fn plain_ok(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./@-+=,".contains(c) || c == ' ')
        && !s.starts_with(['-', ' ', '.', '@', ','])
        && !s.ends_with(' ')
        && !RESERVED.contains(&s.to_ascii_lowercase().as_str())
        && s.parse::<f64>().is_err()
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

fn string(s: &str, indent: usize) -> String {
    if plain_ok(s) {
        return s.to_string();
    }
    let block = s.contains('\n')
        && s.ends_with('\n')
        && !s.ends_with("\n\n")
        && !s.starts_with([' ', '\n'])
        && !s.contains(['\r', '\t'])
        && s.lines().all(|l| !l.ends_with(' '));
    if block {
        let mut out = String::from("|\n");
        for line in s.lines() {
            if !line.is_empty() {
                out.extend(std::iter::repeat_n(' ', indent));
                out.push_str(line);
            }
            out.push('\n');
        }
        // The caller adds the final newline.
        out.pop();
        return out;
    }
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quotes_what_a_reader_would_misread() {
        let doc = json!({"a": "yes", "b": "15", "c": "postgres:15", "d": "plain word", "e": ""});
        let y = to_yaml(&doc);
        assert_eq!(
            y,
            "a: \"yes\"\nb: \"15\"\nc: \"postgres:15\"\nd: plain word\ne: \"\"\n"
        );
    }

    #[test]
    fn nests_maps_and_sequences() {
        let doc = json!({"s": {"x": [1, {"k": "v", "l": ["a"]}], "e": {}}});
        assert_eq!(
            to_yaml(&doc),
            "s:\n  e: {}\n  x:\n    - 1\n    - k: v\n      l:\n        - a\n"
        );
    }

    #[test]
    fn multi_line_strings_become_literal_blocks() {
        let doc = json!({"f": "FROM x\nRUN y\n"});
        assert_eq!(to_yaml(&doc), "f: |\n  FROM x\n  RUN y\n");
    }
}
