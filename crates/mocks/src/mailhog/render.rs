//! Renders captured messages in MailHog's JSON shape (the `Message` of its v1 and v2 APIs):
//! envelope paths, raw headers, raw body and the MIME part tree.

use mail_parser::{MessageParser, MessagePart, PartType};
use serde_json::{json, Map, Value};

use super::storage::StoredMessage;

/// The MailHog JSON of `message`.
pub(crate) fn message_json(message: &StoredMessage) -> Value {
    let raw = &message.raw;
    let parsed = MessageParser::default().parse(raw.as_slice());
    let (headers, body, mime) = match &parsed {
        Some(m) => {
            let root = m.root_part();
            (
                headers_json(raw, root),
                body_of(raw, root),
                mime_json(m, raw, root),
            )
        }
        None => (
            Value::Object(Map::new()),
            String::from_utf8_lossy(raw).into_owned(),
            Value::Null,
        ),
    };
    let created = humantime::format_rfc3339_nanos(message.created).to_string();
    let env = &message.envelope;
    json!({
        "ID": message.id,
        "From": path_json(&env.from, &env.from_params),
        "To": env.to.iter().map(|t| path_json(t, "")).collect::<Vec<_>>(),
        "Content": {
            "Headers": headers,
            "Body": body,
            "Size": raw.len(),
            "MIME": Value::Null,
        },
        "Created": created,
        "MIME": mime,
        "Raw": {
            "From": env.from,
            "To": env.to,
            "Data": String::from_utf8_lossy(raw),
            "Helo": env.helo,
        },
    })
}

/// `{Relays, Mailbox, Domain, Params}` of an SMTP path.
fn path_json(path: &str, params: &str) -> Value {
    let (mailbox, domain) = path.rsplit_once('@').unwrap_or((path, ""));
    json!({"Relays": Value::Null, "Mailbox": mailbox, "Domain": domain, "Params": params})
}

/// Header name → raw (unfolded) values, in MailHog's shape.
fn headers_json(raw: &[u8], part: &MessagePart<'_>) -> Value {
    let mut headers: Map<String, Value> = Map::new();
    for header in &part.headers {
        let field = slice(raw, header.offset_field, header.offset_start);
        let name = String::from_utf8_lossy(field)
            .trim_end()
            .trim_end_matches(':')
            .trim()
            .to_string();
        let value = unfold(&String::from_utf8_lossy(slice(
            raw,
            header.offset_start,
            header.offset_end,
        )));
        match headers
            .entry(name)
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            Value::Array(values) => values.push(Value::String(value)),
            other => *other = Value::Array(vec![Value::String(value)]),
        }
    }
    Value::Object(headers)
}

/// The raw body of `part` (after its header block).
fn body_of(raw: &[u8], part: &MessagePart<'_>) -> String {
    String::from_utf8_lossy(slice(raw, part.offset_body, part.offset_end)).into_owned()
}

/// `{Parts: [...]}` for a multipart part, else null.
fn mime_json(message: &mail_parser::Message<'_>, raw: &[u8], part: &MessagePart<'_>) -> Value {
    let PartType::Multipart(children) = &part.body else {
        return Value::Null;
    };
    let parts: Vec<Value> = children
        .iter()
        .filter_map(|&id| message.part(id))
        .map(|child| {
            let body = body_of(raw, child);
            json!({
                "Headers": headers_json(raw, child),
                "Size": body.len(),
                "Body": body,
                "MIME": mime_json(message, raw, child),
            })
        })
        .collect();
    json!({ "Parts": parts })
}

fn slice(raw: &[u8], start: u32, end: u32) -> &[u8] {
    let end = (end as usize).min(raw.len());
    let start = (start as usize).min(end);
    &raw[start..end]
}

/// Joins folded header lines and trims the value.
fn unfold(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for (i, line) in value.split('\n').enumerate() {
        let line = line.trim_end_matches('\r');
        if i == 0 {
            out.push_str(line.trim());
        } else if !line.trim().is_empty() {
            out.push(' ');
            out.push_str(line.trim());
        }
    }
    out
}

/// Text a `containing` search looks at: the raw message and its decoded text parts.
pub(crate) fn searchable_text(message: &StoredMessage) -> String {
    let mut text = String::from_utf8_lossy(&message.raw).to_lowercase();
    if let Some(parsed) = MessageParser::default().parse(message.raw.as_slice()) {
        if let Some(subject) = parsed.subject() {
            text.push('\n');
            text.push_str(&subject.to_lowercase());
        }
        for part in parsed.text_bodies().chain(parsed.html_bodies()) {
            if let Some(contents) = part.text_contents() {
                text.push('\n');
                text.push_str(&contents.to_lowercase());
            }
        }
    }
    text
}

/// Header values of `name` (case-insensitive) in `message`, decoded where encoded.
pub(crate) fn header_text(message: &StoredMessage, names: &[&str]) -> String {
    let mut text = String::new();
    if let Some(parsed) = MessageParser::default().parse(message.raw.as_slice()) {
        for (name, value) in parsed.headers_raw() {
            if names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                text.push_str(&value.to_lowercase());
                text.push('\n');
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailhog::storage::{Envelope, MessageStore, StorageMode};

    const MULTIPART: &str = "From: Ann <ann@x.io>\r\nTo: bob@y.io\r\nSubject: Hello\r\n \
        world\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n\
        --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nplain body\r\n\
        --b1\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--b1--\r\n";

    fn stored(raw: &str) -> std::sync::Arc<StoredMessage> {
        let dir = tempfile::tempdir().unwrap();
        let store = MessageStore::open(StorageMode::Memory, dir.path()).unwrap();
        let env = Envelope {
            helo: "h".into(),
            from: "ann@x.io".into(),
            from_params: String::new(),
            to: vec!["bob@y.io".into()],
        };
        let id = store.add(env, raw.as_bytes().to_vec()).unwrap();
        store.get(&id).unwrap()
    }

    #[test]
    fn renders_headers_body_and_parts() {
        let m = stored(MULTIPART);
        let v = message_json(&m);
        assert_eq!(v["From"]["Mailbox"], "ann");
        assert_eq!(v["To"][0]["Domain"], "y.io");
        assert_eq!(v["Content"]["Headers"]["Subject"][0], "Hello world");
        assert_eq!(v["Content"]["Headers"]["From"][0], "Ann <ann@x.io>");
        assert!(v["Content"]["Body"].as_str().unwrap().starts_with("--b1"));
        let parts = v["MIME"]["Parts"].as_array().unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            parts[0]["Headers"]["Content-Type"][0],
            "text/plain; charset=utf-8"
        );
        assert!(parts[0]["Body"].as_str().unwrap().starts_with("plain body"));
        assert!(parts[1]["Body"]
            .as_str()
            .unwrap()
            .starts_with("<p>html</p>"));
        assert_eq!(v["Raw"]["Data"], MULTIPART);
        assert!(v["Created"].as_str().unwrap().ends_with('Z'));
        assert!(searchable_text(&m).contains("plain body"));
        assert!(header_text(&m, &["to"]).contains("bob@y.io"));
    }

    #[test]
    fn single_part_has_no_mime() {
        let v = message_json(&stored("Subject: x\r\n\r\nbody\r\n"));
        assert_eq!(v["MIME"], Value::Null);
        assert_eq!(v["Content"]["Body"], "body\r\n");
    }
}
