//! Stripe list objects: newest first, `limit`, `starting_after`, `ending_before`,
//! `created` ranges, `has_more`.

use serde_json::{json, Value};

use super::api_error::ApiError;
use super::params::Params;
use super::store::State;

/// Lists the objects of `kind` accepted by `keep`, paginated by the request parameters.
pub(crate) fn list(
    st: &State,
    kind: &str,
    url: &str,
    p: &Params,
    keep: impl Fn(&Value) -> bool,
) -> Result<Value, ApiError> {
    let created = CreatedRange::from_params(p)?;
    let items: Vec<&Value> = st
        .all(kind)
        .rev()
        .filter(|v| v.get("deleted").is_none() && created.contains(v) && keep(v))
        .collect();
    page(items, url, p)
}

/// Paginates already-filtered objects (newest first).
pub(crate) fn page(items: Vec<&Value>, url: &str, p: &Params) -> Result<Value, ApiError> {
    let limit = p.int("limit")?.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            "This value must be greater than or equal to 1 and less than or equal to 100.",
        ));
    }
    let limit = usize::try_from(limit).unwrap_or(10);
    let position = |param: &str, id: &str| {
        items
            .iter()
            .position(|v| v["id"] == id)
            .ok_or_else(|| ApiError::invalid(param, format!("Invalid {param} id: {id}")))
    };
    let (data, has_more): (Vec<Value>, bool) = if let Some(after) = p.str("starting_after") {
        let start = position("starting_after", after)? + 1;
        let rest = &items[start..];
        (
            rest.iter().take(limit).map(|v| (*v).clone()).collect(),
            rest.len() > limit,
        )
    } else if let Some(before) = p.str("ending_before") {
        let end = position("ending_before", before)?;
        let from = end.saturating_sub(limit);
        (
            items[from..end].iter().map(|v| (*v).clone()).collect(),
            from > 0,
        )
    } else {
        (
            items.iter().take(limit).map(|v| (*v).clone()).collect(),
            items.len() > limit,
        )
    };
    Ok(json!({"object": "list", "data": data, "has_more": has_more, "url": url}))
}

/// A list object holding all of `data`.
pub(crate) fn whole(data: Vec<Value>, url: &str) -> Value {
    json!({"object": "list", "data": data, "has_more": false, "total_count": data.len(), "url": url})
}

/// The `created` filter: an exact time or `created[gt|gte|lt|lte]`.
struct CreatedRange {
    lo: i64,
    hi: i64,
}

impl CreatedRange {
    fn from_params(p: &Params) -> Result<Self, ApiError> {
        let mut r = CreatedRange {
            lo: i64::MIN,
            hi: i64::MAX,
        };
        if let Some(exact) = p.get("created").and_then(Value::as_str) {
            let t = exact
                .parse::<i64>()
                .map_err(|_| ApiError::invalid("created", "Invalid integer"))?;
            return Ok(CreatedRange { lo: t, hi: t });
        }
        if let Some(t) = p.int("created.gt")? {
            r.lo = r.lo.max(t + 1);
        }
        if let Some(t) = p.int("created.gte")? {
            r.lo = r.lo.max(t);
        }
        if let Some(t) = p.int("created.lt")? {
            r.hi = r.hi.min(t - 1);
        }
        if let Some(t) = p.int("created.lte")? {
            r.hi = r.hi.min(t);
        }
        Ok(r)
    }

    fn contains(&self, v: &Value) -> bool {
        let c = v["created"].as_i64().unwrap_or(0);
        (self.lo..=self.hi).contains(&c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(n: usize) -> State {
        let mut st = State::default();
        for i in 0..n {
            let id = format!("cus_{i}");
            st.put("customer", &id, json!({"id": id, "created": i}));
        }
        st
    }

    fn ids(v: &Value) -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn pages_forward_and_backward() {
        let st = state(5);
        let p = Params(json!({"limit": "2"}));
        let first = list(&st, "customer", "/v1/customers", &p, |_| true).unwrap();
        assert_eq!(ids(&first), ["cus_4", "cus_3"]);
        assert_eq!(first["has_more"], true);
        let p = Params(json!({"limit": "2", "starting_after": "cus_2"}));
        let last = list(&st, "customer", "/v1/customers", &p, |_| true).unwrap();
        assert_eq!(ids(&last), ["cus_1", "cus_0"]);
        assert_eq!(last["has_more"], false);
        let p = Params(json!({"limit": "2", "ending_before": "cus_1"}));
        let back = list(&st, "customer", "/v1/customers", &p, |_| true).unwrap();
        assert_eq!(ids(&back), ["cus_3", "cus_2"]);
        assert_eq!(back["has_more"], true);
        let p = Params(json!({"created": {"gte": "3"}}));
        let recent = list(&st, "customer", "/v1/customers", &p, |_| true).unwrap();
        assert_eq!(ids(&recent), ["cus_4", "cus_3"]);
        let p = Params(json!({"limit": "0"}));
        assert!(list(&st, "customer", "/v1/customers", &p, |_| true).is_err());
    }
}
