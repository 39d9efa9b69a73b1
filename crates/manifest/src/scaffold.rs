//! Manifests written for the user: the stack templates of `vers integration init`,
//! `vers integration add`, which inserts a service while keeping every other byte, and
//! `vers remove`, which takes one out the same way.

use crate::config::Shape;
use crate::diagnostic::quote;
use crate::model::TemplateRef;
use crate::templates;
use crate::yaml::{self, NodeKind};

const STACKS: &[(&str, &str)] = &[
    ("blank", include_str!("../templates/blank.yaml")),
    (
        "saas-starter",
        include_str!("../templates/saas-starter.yaml"),
    ),
    (
        "event-driven-microservices",
        include_str!("../templates/event-driven-microservices.yaml"),
    ),
    (
        "data-pipeline",
        include_str!("../templates/data-pipeline.yaml"),
    ),
    (
        "ecommerce-platform",
        include_str!("../templates/ecommerce-platform.yaml"),
    ),
    (
        "multi-tenant-saas",
        include_str!("../templates/multi-tenant-saas.yaml"),
    ),
];

const STACK_NAMES: &[&str] = &[
    "blank",
    "saas-starter",
    "event-driven-microservices",
    "data-pipeline",
    "ecommerce-platform",
    "multi-tenant-saas",
];

/// Why a manifest could not be written or edited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// `init --template` named no stack template.
    #[error("unknown stack template {}", quote(.0))]
    UnknownStack(String),
    /// A project or service name that cannot be used.
    #[error("invalid {what} {}: {why}", quote(.name))]
    InvalidName {
        /// `project name` or `service name`.
        what: &'static str,
        /// The name given.
        name: String,
        /// What is wrong with it.
        why: crate::names::NameError,
    },
    /// `add` with a template the catalog does not have.
    #[error("unknown template {}; templates: {known}", quote(.name))]
    UnknownTemplate {
        /// The template asked for.
        name: String,
        /// The catalog's names.
        known: String,
    },
    /// `add` of a name the manifest already has.
    #[error("service {} already exists in the manifest", quote(.0))]
    ServiceExists(String),
    /// `remove` of a name the manifest does not have.
    #[error("the manifest has no service {}", quote(.0))]
    NoSuchService(String),
    /// A `--config` key that is empty or not a plain word.
    #[error("invalid config key {}", quote(.0))]
    InvalidConfigKey(String),
    /// The manifest to edit is not valid YAML.
    #[error("the manifest is not valid YAML (line {line}, column {column}): {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// The manifest's top level is not a mapping, or `services` is not a block mapping.
    #[error("cannot edit the manifest: {0}")]
    Layout(String),
}

/// Names of the stack templates, `blank` first.
pub fn stack_names() -> &'static [&'static str] {
    STACK_NAMES
}

/// The text of a stack template as shipped (with its own `name:`).
pub fn stack_template(name: &str) -> Option<&'static str> {
    STACKS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

fn check_name(what: &'static str, name: &str) -> Result<(), EditError> {
    crate::names::check_name(name).map_err(|why| EditError::InvalidName {
        what,
        name: name.to_string(),
        why,
    })
}

/// The stack template `template` with its top-level `name:` set to `project_name`.
pub fn render_stack(template: &str, project_name: &str) -> Result<String, EditError> {
    let text =
        stack_template(template).ok_or_else(|| EditError::UnknownStack(template.to_string()))?;
    check_name("project name", project_name)?;
    let mut out = String::with_capacity(text.len() + project_name.len());
    let mut replaced = false;
    for line in text.split_inclusive('\n') {
        if !replaced && line.starts_with("name:") {
            out.push_str(&format!("name: {project_name}\n"));
            replaced = true;
        } else {
            out.push_str(line);
        }
    }
    Ok(out)
}

/// Formats one `--config` value as YAML: `a,b` and `[a,b]` become `[a, b]`; numbers and
/// booleans stay plain; text that YAML would misread is double-quoted.
pub fn config_value(value: &str) -> String {
    let v = value.trim();
    if let Some(inner) = v.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return list_value(inner);
    }
    if v.contains(',') {
        return list_value(v);
    }
    scalar(v)
}

/// Formats the `--config` value of `key` for `template` as YAML, like [`config_value`], but
/// a key whose value is a list (`databases` of postgres) takes one item too: `one` becomes
/// `[one]`.
pub fn config_value_for(template: &str, key: &str, value: &str) -> String {
    let out = config_value(value);
    let is_list = templates::template(template).is_some_and(|t| match t.config {
        Shape::Obj(fields) => fields
            .iter()
            .any(|(k, shape)| *k == key && matches!(shape, Shape::List(_))),
        _ => false,
    });
    if is_list && !out.starts_with('[') {
        format!("[{out}]")
    } else {
        out
    }
}

/// `a, b` as a YAML flow list, empty items dropped.
fn list_value(items: &str) -> String {
    let items: Vec<String> = items
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(scalar)
        .collect();
    format!("[{}]", items.join(", "))
}

fn scalar(v: &str) -> String {
    let plain_safe = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./@+".contains(c))
        && !v.starts_with(['-', '.', '@'])
        && !matches!(v, "null" | "Null" | "NULL" | "~")
        || v.starts_with("http://")
            && !v
                .chars()
                .any(|c| c.is_whitespace() || "#,[]{}\"'".contains(c))
        || v.starts_with("https://")
            && !v
                .chars()
                .any(|c| c.is_whitespace() || "#,[]{}\"'".contains(c));
    let number = v.parse::<f64>().is_ok_and(f64::is_finite) && !v.starts_with('+');
    if plain_safe || number {
        v.to_string()
    } else {
        serde_json::Value::String(v.to_string()).to_string()
    }
}

fn is_content(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && !t.starts_with('#')
}

/// Inserts a service `name` using `template` (with `config` key/value pairs) at the end of
/// the `services:` block of `src`, keeping every other byte and matching the indentation.
pub fn add_service(
    src: &str,
    name: &str,
    template: &TemplateRef,
    config: &[(String, String)],
) -> Result<String, EditError> {
    check_name("service name", name)?;
    if templates::template(&template.name).is_none() {
        return Err(EditError::UnknownTemplate {
            name: template.name.clone(),
            known: templates::all_templates()
                .iter()
                .map(|t| t.name)
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    for (k, _) in config {
        if k.is_empty()
            || !k
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
        {
            return Err(EditError::InvalidConfigKey(k.clone()));
        }
    }
    if src.replace("\r\n", "").contains('\r') {
        return Err(EditError::Layout(
            "it uses bare carriage returns as line breaks".into(),
        ));
    }
    let root = yaml::parse(src).map_err(|e| EditError::Syntax {
        line: e.pos.line,
        column: e.pos.column,
        message: e.message,
    })?;
    let lines: Vec<&str> = src.split_inclusive('\n').collect();
    let newline = if src.contains("\r\n") { "\r\n" } else { "\n" };
    let top: &[(yaml::Node, yaml::Node)] = match root.as_ref().map(|r| &r.kind) {
        None => &[],
        Some(NodeKind::Map(entries)) => entries,
        Some(_) => return Err(EditError::Layout("its top level is not a mapping".into())),
    };
    let Some(at) = top.iter().position(|(k, _)| k.scalar() == Some("services")) else {
        // No `services:` yet: append one at the end.
        let mut out = src.to_string();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push_str(newline);
        }
        out.push_str(&format!("{newline}services:{newline}"));
        out.push_str(&service_block(name, template, config, 2, 2, newline));
        return Ok(out);
    };
    let (key, value) = &top[at];
    let layout = |why: &str| Err(EditError::Layout(why.to_string()));
    let key_idx = key.pos.line.saturating_sub(1);
    let Some(key_text) = lines.get(key_idx).copied() else {
        return layout("cannot find the `services:` line");
    };
    if !key_text.starts_with("services") || key.pos.column != 1 {
        return layout("`services:` is not a block key at the start of its line");
    }
    // The block runs until the line of the next top-level key (or the end of the file).
    let block_end = top
        .get(at + 1)
        .map(|(k, _)| k.pos.line.saturating_sub(1))
        .unwrap_or(lines.len())
        .min(lines.len());
    let entries: &[(yaml::Node, yaml::Node)] = match &value.kind {
        NodeKind::Map(e) => e,
        _ if value.is_null() => &[],
        _ => return layout("`services` is not a mapping"),
    };
    if entries.iter().any(|(k, _)| k.scalar() == Some(name)) {
        return Err(EditError::ServiceExists(name.to_string()));
    }
    let after_colon = key_text
        .split_once(':')
        .map(|(_, r)| r.trim())
        .unwrap_or("");
    let inline = !after_colon.is_empty() && !after_colon.starts_with('#');
    if inline && !entries.is_empty() || entries.first().is_some_and(|(k, _)| k.pos != value.pos) {
        return layout("`services` is written in flow style; add the service by hand");
    }
    for (i, l) in lines.iter().enumerate().take(block_end).skip(key_idx + 1) {
        if is_content(l) && l[..l.len() - l.trim_start().len()].contains('\t') {
            return Err(EditError::Layout(format!(
                "line {} is indented with a tab; re-indent `services` with spaces",
                i + 1
            )));
        }
    }
    // Indentation of service keys and of their own keys, from the parsed positions.
    let (child, step) = match entries.first() {
        None => (2, 2),
        Some((k, v)) => {
            let child = k.pos.column - 1;
            let step = match &v.kind {
                NodeKind::Map(inner) => inner
                    .first()
                    .filter(|(ik, _)| ik.pos.line > k.pos.line && ik.pos.column > k.pos.column)
                    .map(|(ik, _)| ik.pos.column - k.pos.column)
                    .unwrap_or(child.max(1)),
                _ => child.max(1),
            };
            (child, step)
        }
    };
    if child == 0 {
        return layout("service keys are not indented under `services:`");
    }
    let block = service_block(name, template, config, child, step, newline);

    let mut out = String::with_capacity(src.len() + block.len() + 2);
    if inline {
        // `services: {}` becomes `services:` followed by the new block.
        out.extend(lines[..key_idx].iter().copied());
        out.push_str(&format!("services:{newline}"));
        out.push_str(&block);
        out.extend(lines[key_idx + 1..].iter().copied());
        return Ok(out);
    }
    let last_content = (key_idx + 1..block_end)
        .rev()
        .find(|i| is_content(lines[*i]))
        .unwrap_or(key_idx);
    out.extend(lines[..=last_content].iter().copied());
    if !out.ends_with('\n') {
        out.push_str(newline);
    }
    if last_content > key_idx {
        out.push_str(newline);
    }
    out.push_str(&block);
    out.extend(lines[last_content + 1..].iter().copied());
    Ok(out)
}

fn service_block(
    name: &str,
    template: &TemplateRef,
    config: &[(String, String)],
    indent: usize,
    step: usize,
    newline: &str,
) -> String {
    let pad = " ".repeat(indent);
    let pad2 = " ".repeat(indent + step);
    let pad3 = " ".repeat(indent + 2 * step);
    let mut s = format!("{pad}{name}:{newline}{pad2}template: {template}{newline}");
    if !config.is_empty() {
        s.push_str(&format!("{pad2}config:{newline}"));
        for (k, v) in config {
            let value = config_value_for(&template.name, k, v);
            s.push_str(&format!("{pad3}{k}: {value}{newline}"));
        }
    }
    s
}

/// Removes service `name` from the block-style `services:` mapping of `src`: its key, its
/// body, and the comment lines directly above it at its indentation. Every other line is
/// kept as written; a blank line left doubled is dropped. Removing the last service leaves
/// `services: {}`.
pub fn remove_service(src: &str, name: &str) -> Result<String, EditError> {
    let root = yaml::parse(src).map_err(|e| EditError::Syntax {
        line: e.pos.line,
        column: e.pos.column,
        message: e.message,
    })?;
    let layout = |why: &str| Err(EditError::Layout(why.to_string()));
    let top: &[(yaml::Node, yaml::Node)] = match root.as_ref().map(|r| &r.kind) {
        Some(NodeKind::Map(entries)) => entries,
        _ => return Err(EditError::NoSuchService(name.to_string())),
    };
    let Some(at) = top.iter().position(|(k, _)| k.scalar() == Some("services")) else {
        return Err(EditError::NoSuchService(name.to_string()));
    };
    let (key, value) = &top[at];
    let entries: &[(yaml::Node, yaml::Node)] = match &value.kind {
        NodeKind::Map(e) => e,
        _ => return Err(EditError::NoSuchService(name.to_string())),
    };
    let Some(i) = entries.iter().position(|(k, _)| k.scalar() == Some(name)) else {
        return Err(EditError::NoSuchService(name.to_string()));
    };
    let lines: Vec<&str> = src.split_inclusive('\n').collect();
    let services_line = key.pos.line.saturating_sub(1);
    if key.pos.column != 1 || entries[0].0.pos.line <= key.pos.line {
        return layout("`services` is written in flow style; remove the service by hand");
    }
    let (skey, _) = &entries[i];
    let key_line = skey.pos.line - 1;
    let indent = skey.pos.column - 1;
    let block_end = top
        .get(at + 1)
        .map(|(k, _)| k.pos.line.saturating_sub(1))
        .unwrap_or(lines.len())
        .min(lines.len());
    let mut end = entries
        .get(i + 1)
        .map(|(k, _)| k.pos.line - 1)
        .unwrap_or(block_end)
        .min(lines.len());
    if entries
        .get(i + 1)
        .is_some_and(|(k, _)| k.pos.line - 1 <= key_line)
    {
        return layout("services share a line; remove the service by hand");
    }
    let indent_of = |l: &str| l.len() - l.trim_start().len();
    let is_comment = |l: &str| l.trim_start().starts_with('#');
    // Blank lines and comments at the key's indentation or less before the next entry
    // belong to what follows.
    while end > key_line + 1 {
        let l = lines[end - 1];
        if l.trim().is_empty() || (is_comment(l) && indent_of(l) <= indent) {
            end -= 1;
        } else {
            break;
        }
    }
    // Comment lines right above the key, at its indentation, describe it.
    let mut start = key_line;
    while start > services_line + 1
        && is_comment(lines[start - 1])
        && indent_of(lines[start - 1]) == indent
    {
        start -= 1;
    }
    if start == services_line + 1 && start != key_line {
        // A comment right under `services:` may be about the whole section: keep it.
        start = key_line;
    }
    let blank_before = start == services_line + 1 || lines[start - 1].trim().is_empty();
    if blank_before && end < lines.len() && lines[end].trim().is_empty() {
        end += 1;
    }
    let mut out = String::with_capacity(src.len());
    let only = entries.len() == 1;
    for (n, l) in lines.iter().enumerate() {
        if n >= start && n < end {
            continue;
        }
        if only && n == services_line {
            let newline = if l.ends_with("\r\n") { "\r\n" } else { "\n" };
            let comment = l.find(" #").map(|p| &l[p..]).unwrap_or("").trim_end();
            out.push_str(&format!("services: {{}}{comment}{newline}"));
            continue;
        }
        out.push_str(l);
    }
    Ok(out)
}

#[cfg(test)]
mod remove_tests {
    use super::*;

    const SRC: &str = "name: shop # the shop\n\nservices:\n  # Databases\n  postgres:\n    template: postgres@15 # main db\n    config:\n      databases: [app]\n\n  # Cache for sessions\n  redis:\n    template: redis@7\n    # tuned\n    config: {maxmemory: 64mb}\n\n  api:\n    build: .\n    depends_on: [postgres]\n\n# Tests below\ntests:\n  unit:\n    command: make test\n";

    #[test]
    fn a_middle_service_goes_with_its_comments() {
        let out = remove_service(SRC, "redis").unwrap();
        assert_eq!(
            out,
            "name: shop # the shop\n\nservices:\n  # Databases\n  postgres:\n    template: postgres@15 # main db\n    config:\n      databases: [app]\n\n  api:\n    build: .\n    depends_on: [postgres]\n\n# Tests below\ntests:\n  unit:\n    command: make test\n"
        );
    }

    #[test]
    fn the_first_service_keeps_the_section_comment() {
        let out = remove_service(SRC, "postgres").unwrap();
        assert!(
            out.starts_with(
                "name: shop # the shop\n\nservices:\n  # Databases\n\n  # Cache for sessions\n  redis:\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn the_last_service_keeps_what_follows() {
        let out = remove_service(SRC, "api").unwrap();
        assert!(
            out.contains("config: {maxmemory: 64mb}\n\n# Tests below\ntests:\n"),
            "{out}"
        );
        assert!(!out.contains("api:"));
    }

    #[test]
    fn the_only_service_leaves_an_empty_mapping() {
        let out = remove_service(
            "name: x\nservices:\n  pg:\n    template: postgres@15\n",
            "pg",
        )
        .unwrap();
        assert_eq!(out, "name: x\nservices: {}\n");
    }

    #[test]
    fn unknown_and_flow_style_are_refused() {
        assert_eq!(
            remove_service(SRC, "nope"),
            Err(EditError::NoSuchService("nope".into()))
        );
        assert!(matches!(
            remove_service("services: {a: {template: redis}}\n", "a"),
            Err(EditError::Layout(_))
        ));
    }
}
