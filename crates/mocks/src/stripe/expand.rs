//! `expand[]`: replaces ids in a response by the objects they name, following dotted
//! paths (`latest_invoice.payment_intent`, `data.customer` in lists).

use serde_json::Value;

use super::store::State;

/// Expands every path of `paths` inside `root`.
pub(crate) fn expand(st: &State, root: &mut Value, paths: &[String]) {
    for path in paths {
        let parts: Vec<&str> = path.split('.').collect();
        expand_path(st, root, &parts);
    }
}

fn expand_path(st: &State, node: &mut Value, parts: &[&str]) {
    let Some((first, rest)) = parts.split_first() else {
        return;
    };
    if let Value::Array(items) = node {
        for item in items {
            expand_path(st, item, parts);
        }
        return;
    }
    let Some(child) = node.get_mut(*first) else {
        return;
    };
    if let Value::String(id) = child {
        if let Some((_, obj)) = st.get_any(id) {
            *child = public_view(obj);
        }
    }
    if !rest.is_empty() {
        expand_path(st, child, rest);
    }
}

/// The object as clients may see it (secrets of webhook endpoints removed).
pub(crate) fn public_view(obj: &Value) -> Value {
    let mut v = obj.clone();
    if v["object"] == "webhook_endpoint" {
        if let Some(map) = v.as_object_mut() {
            map.remove("secret");
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_and_list_paths_expand() {
        let mut st = State::default();
        st.put(
            "payment_intent",
            "pi_1",
            json!({"id": "pi_1", "object": "payment_intent"}),
        );
        st.put(
            "invoice",
            "in_1",
            json!({"id": "in_1", "payment_intent": "pi_1"}),
        );
        st.put("customer", "cus_1", json!({"id": "cus_1"}));
        let mut sub = json!({"id": "sub_1", "latest_invoice": "in_1", "customer": "cus_1"});
        expand(
            &st,
            &mut sub,
            &["latest_invoice.payment_intent".to_string()],
        );
        assert_eq!(
            sub["latest_invoice"]["payment_intent"]["object"],
            "payment_intent"
        );
        assert_eq!(sub["customer"], "cus_1");
        let mut list = json!({"data": [{"customer": "cus_1"}, {"customer": "cus_9"}]});
        expand(&st, &mut list, &["data.customer".to_string()]);
        assert_eq!(list["data"][0]["customer"]["id"], "cus_1");
        assert_eq!(list["data"][1]["customer"], "cus_9");
    }
}
