//! Decoding of Stripe's form encoding with nested brackets (`metadata[k]=v`,
//! `items[0][price]=p`, `expand[]=x`) into a JSON tree whose leaves are strings.

use serde_json::{Map, Value};

/// Parses an `application/x-www-form-urlencoded` body or query string into a JSON object.
/// Keys with numeric or empty brackets become arrays (ordered by index), other brackets
/// become objects; `metadata` objects keep their keys even when they look numeric.
pub(crate) fn parse(input: &[u8]) -> Value {
    let mut root = Value::Object(Map::new());
    for (key, value) in form_urlencoded::parse(input) {
        let path = split_key(&key);
        insert(&mut root, &path, value.into_owned());
    }
    normalize(root, false)
}

/// Splits `a[b][0][]` into `["a", "b", "0", ""]`.
fn split_key(key: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let (head, mut rest) = match key.find('[') {
        Some(i) if key.ends_with(']') => (&key[..i], &key[i..]),
        _ => return vec![key.to_string()],
    };
    parts.push(head.to_string());
    while let Some(stripped) = rest.strip_prefix('[') {
        match stripped.find(']') {
            Some(end) => {
                parts.push(stripped[..end].to_string());
                rest = &stripped[end + 1..];
            }
            None => break,
        }
    }
    parts
}

/// Inserts `value` at `path`, creating intermediate objects; an empty segment appends.
fn insert(node: &mut Value, path: &[String], value: String) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if !node.is_object() {
        *node = Value::Object(Map::new());
    }
    let Value::Object(map) = node else {
        return;
    };
    let key = if first.is_empty() {
        format!("{}", map.len())
    } else {
        first.clone()
    };
    if rest.is_empty() {
        map.insert(key, Value::String(value));
    } else {
        let child = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
        insert(child, rest, value);
    }
}

/// Turns objects whose keys are all indices into arrays, recursively.
fn normalize(node: Value, in_metadata: bool) -> Value {
    match node {
        Value::Object(map) => {
            let all_indices =
                !map.is_empty() && !in_metadata && map.keys().all(|k| k.parse::<usize>().is_ok());
            if all_indices {
                let mut items: Vec<(usize, Value)> = map
                    .into_iter()
                    .filter_map(|(k, v)| k.parse::<usize>().ok().map(|i| (i, v)))
                    .collect();
                items.sort_by_key(|(i, _)| *i);
                Value::Array(
                    items
                        .into_iter()
                        .map(|(_, v)| normalize(v, false))
                        .collect(),
                )
            } else {
                Value::Object(
                    map.into_iter()
                        .map(|(k, v)| {
                            let meta = k == "metadata";
                            (k, normalize(v, meta))
                        })
                        .collect(),
                )
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_brackets_become_objects_and_arrays() {
        let v = parse(
            b"email=a%40b.c&metadata[order]=7&metadata[0]=x&items[1][price]=p2&items[0][price]=p1&items[0][quantity]=2&expand[]=a&expand[]=b.c&card[number]=4242",
        );
        assert_eq!(
            v,
            json!({
                "email": "a@b.c",
                "metadata": {"order": "7", "0": "x"},
                "items": [{"price": "p1", "quantity": "2"}, {"price": "p2"}],
                "expand": ["a", "b.c"],
                "card": {"number": "4242"}
            })
        );
    }

    #[test]
    fn indexed_lists_and_plain_keys() {
        let v = parse(b"expand[0]=x&expand[1]=y&plain=1&weird[=2");
        assert_eq!(v["expand"], json!(["x", "y"]));
        assert_eq!(v["plain"], json!("1"));
        assert_eq!(v["weird["], json!("2"));
    }
}
