//! PostgreSQL values as JSON, from their text form and SQL type: integers and finite
//! floating-point and numeric values as numbers, booleans as booleans, `json`/`jsonb` as the
//! JSON they hold, one-dimensional or nested arrays of those as JSON arrays, and every other
//! type (text, dates, uuids, …) as the text PostgreSQL prints.

use serde_json::Value;

/// What a SQL type's values become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Float,
    Numeric,
    Bool,
    Json,
    Text,
}

fn kind(type_name: &str) -> Kind {
    let base = type_name.split('(').next().unwrap_or(type_name).trim();
    match base {
        "smallint" | "integer" | "bigint" | "oid" | "xid" | "cid" => Kind::Integer,
        "real" | "double precision" => Kind::Float,
        "numeric" => Kind::Numeric,
        "boolean" => Kind::Bool,
        "json" | "jsonb" => Kind::Json,
        _ => Kind::Text,
    }
}

/// The JSON value of `text`, a non-NULL value of SQL type `type_name`.
pub fn typed(type_name: &str, text: &str) -> Value {
    if let Some(elem) = type_name.strip_suffix("[]") {
        // Arrays of arrays print as `type[]` too; the text shows the nesting.
        let elem = elem.trim_end_matches("[]");
        return match parse_array(text) {
            Some(items) => array_value(elem, items),
            None => Value::String(text.to_string()),
        };
    }
    scalar(kind(type_name), text)
}

fn scalar(kind: Kind, text: &str) -> Value {
    match kind {
        Kind::Integer => text
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| text.parse::<u64>().map(Value::from))
            .unwrap_or_else(|_| Value::String(text.to_string())),
        Kind::Float | Kind::Numeric => {
            if kind == Kind::Numeric && !text.contains(['.', 'e', 'E']) {
                if let Ok(i) = text.parse::<i64>() {
                    return Value::from(i);
                }
            }
            text.parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(text.to_string()))
        }
        Kind::Bool => match text {
            "t" | "true" => Value::Bool(true),
            "f" | "false" => Value::Bool(false),
            other => Value::String(other.to_string()),
        },
        Kind::Json => {
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
        }
        Kind::Text => Value::String(text.to_string()),
    }
}

/// An element of an array literal: NULL, a value, or a nested array.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    Null,
    Text(String),
    Nested(Vec<Item>),
}

fn array_value(elem_type: &str, items: Vec<Item>) -> Value {
    let k = kind(elem_type);
    Value::Array(
        items
            .into_iter()
            .map(|i| match i {
                Item::Null => Value::Null,
                Item::Text(t) => scalar(k, &t),
                Item::Nested(inner) => array_value(elem_type, inner),
            })
            .collect(),
    )
}

/// Parses PostgreSQL's array output (`{1,2,NULL}`, `{{a,b},{"c d",e}}`), optionally
/// prefixed by explicit bounds (`[0:1]={…}`).
fn parse_array(text: &str) -> Option<Vec<Item>> {
    let body = match text.find("={") {
        Some(i) if text.starts_with('[') => &text[i + 1..],
        _ => text,
    };
    let chars: Vec<char> = body.chars().collect();
    let mut pos = 0;
    let items = parse_level(&chars, &mut pos)?;
    (pos == chars.len()).then_some(items)
}

fn parse_level(c: &[char], pos: &mut usize) -> Option<Vec<Item>> {
    if c.get(*pos) != Some(&'{') {
        return None;
    }
    *pos += 1;
    let mut items = Vec::new();
    if c.get(*pos) == Some(&'}') {
        *pos += 1;
        return Some(items);
    }
    loop {
        match c.get(*pos)? {
            '{' => items.push(Item::Nested(parse_level(c, pos)?)),
            '"' => {
                *pos += 1;
                let mut s = String::new();
                loop {
                    match c.get(*pos)? {
                        '\\' => {
                            s.push(*c.get(*pos + 1)?);
                            *pos += 2;
                        }
                        '"' => {
                            *pos += 1;
                            break;
                        }
                        ch => {
                            s.push(*ch);
                            *pos += 1;
                        }
                    }
                }
                items.push(Item::Text(s));
            }
            _ => {
                let start = *pos;
                while !matches!(c.get(*pos)?, ',' | '}') {
                    *pos += 1;
                }
                let raw: String = c[start..*pos].iter().collect();
                items.push(if raw == "NULL" {
                    Item::Null
                } else {
                    Item::Text(raw)
                });
            }
        }
        match c.get(*pos)? {
            ',' => *pos += 1,
            '}' => {
                *pos += 1;
                return Some(items);
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_booleans_and_json_keep_their_types() {
        assert_eq!(typed("integer", "42"), json!(42));
        assert_eq!(
            typed("bigint", "9007199254740993"),
            json!(9007199254740993_i64)
        );
        assert_eq!(typed("numeric(10,2)", "1.50"), json!(1.5));
        assert_eq!(typed("numeric", "12"), json!(12));
        assert_eq!(typed("double precision", "NaN"), json!("NaN"));
        assert_eq!(typed("real", "-0.25"), json!(-0.25));
        assert_eq!(typed("boolean", "f"), json!(false));
        assert_eq!(
            typed("jsonb", r#"{"a": [1, null]}"#),
            json!({"a": [1, null]})
        );
        assert_eq!(typed("text", "42"), json!("42"), "text stays text");
        assert_eq!(
            typed("timestamp with time zone", "2024-01-02 03:04:05+00"),
            json!("2024-01-02 03:04:05+00")
        );
    }

    #[test]
    fn arrays_become_json_arrays() {
        assert_eq!(typed("integer[]", "{1,2,NULL}"), json!([1, 2, null]));
        assert_eq!(
            typed("text[]", r#"{a,"b c","d\"e",NULL,"NULL"}"#),
            json!(["a", "b c", "d\"e", null, "NULL"])
        );
        assert_eq!(typed("integer[]", "{{1,2},{3,4}}"), json!([[1, 2], [3, 4]]));
        assert_eq!(typed("boolean[]", "{}"), json!([]));
        assert_eq!(typed("integer[]", "[0:1]={5,6}"), json!([5, 6]));
        assert_eq!(
            typed("integer[]", "{1,2"),
            json!("{1,2"),
            "unparsable stays text"
        );
    }
}
