//! Request parameters from a query string and a form-encoded or JSON body.

use std::collections::HashMap;

use axum::http::{header, HeaderMap};

/// Parameters by name; the first occurrence of a name wins.
pub(crate) type Params = HashMap<String, String>;

/// Adds the pairs of a form-encoded string to `params`.
pub(crate) fn add_form(params: &mut Params, encoded: &[u8]) {
    for (k, v) in form_urlencoded::parse(encoded) {
        params
            .entry(k.into_owned())
            .or_insert_with(|| v.into_owned());
    }
}

/// Adds the parameters of a request body, read as JSON when its content type says so and
/// as a form otherwise.
pub(crate) fn add_body(params: &mut Params, headers: &HeaderMap, body: &[u8]) {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json"));
    if !is_json {
        add_form(params, body);
        return;
    }
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(body) {
        for (k, v) in map {
            let text = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Null => continue,
                other => other.to_string(),
            };
            params.entry(k).or_insert(text);
        }
    }
}

/// A non-empty parameter.
pub(crate) fn get<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// Decodes `%XX` escapes and `+` as in `application/x-www-form-urlencoded` (RFC 6749 2.3.1
/// encodes client credentials this way before Basic authentication).
pub(crate) fn form_decode(value: &str) -> String {
    form_urlencoded::parse(
        format!("v={}", value.replace('&', "%26").replace('=', "%3D")).as_bytes(),
    )
    .next()
    .map(|(_, v)| v.into_owned())
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn reads_forms_json_and_escapes() {
        let mut p = Params::new();
        add_form(&mut p, b"a=1&b=x+y&a=2");
        assert_eq!(get(&p, "a"), Some("1"));
        assert_eq!(get(&p, "b"), Some("x y"));
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let mut j = Params::new();
        add_body(&mut j, &headers, br#"{"code":"c","n":3,"z":null}"#);
        assert_eq!(get(&j, "code"), Some("c"));
        assert_eq!(get(&j, "n"), Some("3"));
        assert_eq!(get(&j, "z"), None);
        assert_eq!(form_decode("a%3Ab+c&d=e"), "a:b c&d=e");
    }
}
