//! Where a service's `config` option is written, for errors found after validation (the
//! engine refusing an option the serving implementation cannot honour).

use crate::yaml::{self, Node, NodeKind, Pos};

/// The position of `services.SERVICE.config.KEY` in manifest text `src`, where `key` is a
/// catalog option path such as `topics[0].config.retention.ms` or `consumer_groups` (mapping
/// keys may themselves contain dots). When only a prefix of the path is written (or the
/// option comes from a merge), the position of the deepest part found; `None` when the
/// service's `config` is not in the text.
pub fn config_key_position(src: &str, service: &str, key: &str) -> Option<Pos> {
    let root = yaml::parse(src).ok()??;
    let services = map_entry(&root, "services")?.1;
    let svc = map_entry(services, service)?.1;
    let (config_key, mut node) = map_entry(svc, "config")?;
    let mut pos = config_key.pos;
    let mut rest = key;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let Some((index, tail)) = after.split_once(']') else {
                break;
            };
            let Some(item) = index.parse::<usize>().ok().and_then(|i| match &node.kind {
                NodeKind::Seq(items) => items.get(i),
                _ => None,
            }) else {
                break;
            };
            pos = item.pos;
            node = item;
            rest = tail.strip_prefix('.').unwrap_or(tail);
            continue;
        }
        let NodeKind::Map(entries) = &node.kind else {
            break;
        };
        // The longest key that `rest` is, or starts with before a `.` or `[`.
        let found = entries
            .iter()
            .filter_map(|(k, v)| {
                let name = k.scalar()?;
                let tail = rest.strip_prefix(name)?;
                (tail.is_empty() || tail.starts_with('.') || tail.starts_with('[')).then_some((
                    name.len(),
                    k,
                    v,
                    tail,
                ))
            })
            .max_by_key(|(len, ..)| *len);
        let Some((_, k, v, tail)) = found else {
            break;
        };
        pos = k.pos;
        node = v;
        rest = tail.strip_prefix('.').unwrap_or(tail);
    }
    Some(pos)
}

fn map_entry<'n>(node: &'n Node, key: &str) -> Option<(&'n Node, &'n Node)> {
    match &node.kind {
        NodeKind::Map(entries) => entries
            .iter()
            .rev()
            .find(|(k, _)| k.scalar() == Some(key))
            .map(|(k, v)| (k, v)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "name: x\nservices:\n  events:\n    template: kafka@3\n    config:\n      topics:\n        - name: a\n          config: { retention.ms: \"60000\" }\n        - name: b\n          config:\n            cleanup.policy: bogus\n      consumer_groups:\n        - { name: g, topics: [a] }\n";

    #[test]
    fn finds_options_with_dotted_keys_and_indices() {
        let at = |k| config_key_position(SRC, "events", k).map(|p| (p.line, p.column));
        assert_eq!(at("consumer_groups"), Some((12, 7)));
        assert_eq!(at("topics[1].config.cleanup.policy"), Some((11, 13)));
        assert_eq!(at("topics[0].config.retention.ms"), Some((8, 21)));
        // Not written: the deepest part that is.
        assert_eq!(at("broker_settings.x"), Some((5, 5)));
        assert_eq!(config_key_position(SRC, "nope", "topics"), None);
    }
}
