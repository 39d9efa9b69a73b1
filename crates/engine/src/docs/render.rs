//! Markdown (with mermaid diagrams) of [`IntegrationDocs`].

use std::fmt::Write as _;

use super::traffic::TEST_CLIENT;
use super::{DocEdge, Flow, IntegrationDocs};

/// Groups of the topology, in drawing order, with their titles.
const GROUPS: [(&str, &str); 4] = [
    ("apps", "Apps"),
    ("data-stores", "Data stores"),
    ("brokers", "Brokers"),
    ("mocks", "Mocks"),
];

/// The whole document.
pub fn markdown(d: &IntegrationDocs) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Integration: {}\n", d.project);
    match &d.run {
        Some(_) => {
            // The run id is a time: it stays out of the body (`--json` names it).
            out.push_str("Written by `vers docs` from `vers-integration.yaml` and the traffic the stack's proxies recorded during a test run (`vers docs --json` names it). Regenerate it instead of editing it.\n\n");
        }
        None => {
            let _ = writeln!(
                out,
                "Written by `vers docs` from `vers-integration.yaml` only: run `vers integration test` first to add observed traffic. Regenerate it instead of editing it.\n"
            );
        }
    }
    topology(&mut out, d);
    upstreams(&mut out, d);
    flows(&mut out, d);
    failures(&mut out, d);
    out
}

/// A mermaid node id for a service name (ids avoid mermaid keywords and punctuation).
pub fn node_id(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("n_{clean}")
}

/// Text safe inside a mermaid quoted label or message.
fn label(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' => '\'',
            ';' | '#' => ' ',
            '\n' | '\r' => ' ',
            c => c,
        })
        .collect()
}

/// Bytes in words: `512 B`, `4.1 KB`, `3.2 MB`.
pub fn bytes(n: u64) -> String {
    match n {
        n if n < 1000 => format!("{n} B"),
        n if n < 1_000_000 => format!("{:.1} KB", n as f64 / 1e3),
        n if n < 1_000_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        n => format!("{:.1} GB", n as f64 / 1e9),
    }
}

/// Microseconds in words: `0.4 ms`, `12 ms`, `1.5 s`.
pub fn millis(us: u64) -> String {
    match us {
        us if us < 10_000 => format!("{:.1} ms", us as f64 / 1e3),
        us if us < 1_000_000 => format!("{} ms", us / 1000),
        us => format!("{:.1} s", us as f64 / 1e6),
    }
}

fn edge_label(e: &DocEdge) -> String {
    let parts: Vec<String> = e
        .observed
        .iter()
        .map(|t| {
            if t.requests > 0 {
                format!("{} {} req", t.protocol, t.requests)
            } else {
                let s = if t.connections == 1 { "" } else { "s" };
                format!("{} {} conn{s}", t.protocol, t.connections)
            }
        })
        .collect();
    parts.join(", ")
}

fn topology(out: &mut String, d: &IntegrationDocs) {
    out.push_str("## Topology\n\n```mermaid\nflowchart LR\n");
    let uses_tests = d.edges.iter().any(|e| e.from == TEST_CLIENT);
    if uses_tests {
        let _ = writeln!(out, "    {}([\"tests\"])", node_id(TEST_CLIENT));
    }
    for (group, title) in GROUPS {
        let members: Vec<_> = d.services.iter().filter(|s| s.group == group).collect();
        if members.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "    subgraph g_{}[\"{title}\"]",
            group.replace('-', "_")
        );
        for s in members {
            let shape = match group {
                "data-stores" => ("[(\"", "\")]"),
                "brokers" => ("[[\"", "\"]]"),
                "mocks" => ("{{\"", "\"}}"),
                _ => ("[\"", "\"]"),
            };
            let text = match &s.template {
                Some(t) => format!("{}<br/>{}", s.name, t),
                None => s.name.clone(),
            };
            let _ = writeln!(
                out,
                "        {}{}{}{}",
                node_id(&s.name),
                shape.0,
                label(&text),
                shape.1
            );
        }
        out.push_str("    end\n");
    }
    for e in &d.edges {
        let (from, to) = (node_id(&e.from), node_id(&e.to));
        let text = edge_label(e);
        let line = match e.state.as_str() {
            "used" | "tests" => format!("{from} -->|\"{}\"| {to}", label(&text)),
            "declared-unused" => format!("{from} -.->|\"declared, not observed\"| {to}"),
            "undeclared" => format!("{from} ==>|\"undeclared: {}\"| {to}", label(&text)),
            _ => format!("{from} --> {to}"),
        };
        let _ = writeln!(out, "    {line}");
    }
    out.push_str("```\n\n");
    if d.run.is_some() {
        out.push_str("Solid arrows: declared in `depends_on` and observed (labelled with protocol and volume over the whole run). Dotted: declared but never observed. Thick: observed but not declared.\n\n");
    } else {
        out.push_str("Arrows: `depends_on` in the manifest.\n\n");
    }
    out.push_str("| Service | Group | Endpoint | Protocol | Purpose |\n|---------|-------|----------|----------|---------|\n");
    for s in &d.services {
        let _ = writeln!(
            out,
            "| {} | {} | `{}` | {} | {} |",
            s.name,
            s.group,
            s.endpoint,
            s.protocol,
            cell(&s.purpose)
        );
    }
    out.push('\n');
    let unusual: Vec<&DocEdge> = d
        .edges
        .iter()
        .filter(|e| e.state == "declared-unused" || e.state == "undeclared")
        .collect();
    if !unusual.is_empty() {
        out.push_str("Dependencies to review:\n\n");
        for e in unusual {
            let what = if e.state == "undeclared" {
                "called but not in `depends_on`"
            } else {
                "in `depends_on` but never called during the run"
            };
            let _ = writeln!(out, "- `{}` → `{}`: {what}", e.from, e.to);
        }
        out.push('\n');
    }
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn statuses(map: &std::collections::BTreeMap<u16, u64>) -> String {
    if map.is_empty() {
        return "—".into();
    }
    map.iter()
        .map(|(s, n)| {
            let s = if *s == 0 {
                "none".to_string()
            } else {
                s.to_string()
            };
            format!("{s}×{n}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn upstreams(out: &mut String, d: &IntegrationDocs) {
    if d.upstreams.is_empty() {
        return;
    }
    out.push_str("## Upstream Services\n\n");
    for app in &d.upstreams {
        let _ = writeln!(out, "### {}\n", app.app);
        if app.services.is_empty() {
            out.push_str("No upstream services.\n\n");
        } else {
            out.push_str("| Service | Endpoint | Purpose |\n|---------|----------|---------|\n");
            for r in &app.services {
                let mark = match (r.declared, r.observed, d.run.is_some()) {
                    (true, false, true) => " (declared, not called in the run)",
                    (false, true, _) => " (called, not declared)",
                    _ => "",
                };
                let _ = writeln!(
                    out,
                    "| {} | `{}` | {}{mark} |",
                    r.service,
                    r.endpoint,
                    cell(&r.purpose)
                );
            }
            out.push('\n');
        }
        if d.run.is_some() {
            if app.calls.is_empty() {
                let _ = writeln!(out, "No calls of `{}` were observed in the run.\n", app.app);
            } else {
                out.push_str("Observed calls:\n\n| Service | Call | Count | Statuses | p50 | max |\n|---------|------|-------|----------|-----|-----|\n");
                for c in &app.calls {
                    let _ = writeln!(
                        out,
                        "| {} | `{} {}` | {} | {} | {} | {} |",
                        c.server,
                        c.method,
                        c.path,
                        c.count,
                        statuses(&c.statuses),
                        c.p50_us.map_or("—".into(), |u| format!("≤ {}", millis(u))),
                        c.max_us.map_or("—".into(), millis),
                    );
                }
                out.push('\n');
            }
        }
    }
}

fn flows(out: &mut String, d: &IntegrationDocs) {
    out.push_str("## Key Flows\n\n");
    if d.flows.is_empty() {
        out.push_str(
            "No test run recorded yet: run `vers integration test`, then `vers docs`.\n\n",
        );
        return;
    }
    for f in &d.flows {
        let _ = writeln!(out, "### {} / {}\n", f.suite, f.branch);
        let _ = writeln!(out, "**Trigger**: {}  ", f.trigger);
        let outcome = match &f.description {
            Some(desc) => format!("{desc} (branch {})", f.status),
            None => format!("branch {}", f.status),
        };
        let _ = writeln!(out, "**Outcome**: {}  ", outcome);
        match &f.sla {
            Some(s) => {
                let _ = writeln!(
                    out,
                    "**SLA** (measured): p50 {}, max {} over {} request{}\n",
                    millis(s.p50_us),
                    millis(s.max_us),
                    s.requests,
                    if s.requests == 1 { "" } else { "s" }
                );
            }
            None => out.push_str("**SLA**: no HTTP requests measured\n\n"),
        }
        if f.steps.is_empty() {
            out.push_str("No calls through the stack's proxies were observed.\n\n");
            continue;
        }
        sequence(out, f);
    }
}

fn sequence(out: &mut String, f: &Flow) {
    out.push_str("```mermaid\nsequenceDiagram\n");
    for p in &f.participants {
        let kind = if p == TEST_CLIENT {
            "actor"
        } else {
            "participant"
        };
        let _ = writeln!(out, "    {kind} {} as {}", node_id(p), label(p));
    }
    for s in &f.steps {
        let (from, to) = (node_id(&s.from), node_id(&s.to));
        let times = if s.times > 1 {
            format!(" ×{}", s.times)
        } else {
            String::new()
        };
        let _ = writeln!(out, "    {from}->>{to}: {}{times}", label(&s.call));
        if let Some(st) = s.status {
            let text = if st == 0 {
                "no response".to_string()
            } else {
                st.to_string()
            };
            let _ = writeln!(out, "    {to}-->>{from}: {text}");
        }
    }
    if f.more_steps > 0 {
        let last = f
            .participants
            .first()
            .map(|p| node_id(p))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "    Note over {last}: {} more calls not drawn",
            f.more_steps
        );
    }
    out.push_str("```\n\n");
}

fn failures(out: &mut String, d: &IntegrationDocs) {
    out.push_str("## Failure Handling\n\n");
    if d.failures.is_empty() {
        out.push_str("No faults are injected by the test suites (add `scenarios:` to a suite, or `vers chaos inject` in a branch's `before:`).\n");
        return;
    }
    out.push_str("| Fault | Service | Scenario | Outcome | Errors seen | Notes |\n|-------|---------|----------|---------|-------------|-------|\n");
    for r in &d.failures {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            cell(&r.fault),
            r.service,
            cell(&r.scenario),
            cell(&r.outcome),
            cell(&r.errors),
            cell(r.note.as_deref().unwrap_or(""))
        );
    }
}

/// Every mermaid block of a Markdown document, in order.
pub fn mermaid_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim_start().starts_with("```mermaid") => current = Some(String::new()),
            Some(_) if line.trim_start().starts_with("```") => {
                blocks.extend(current.take());
            }
            Some(b) => {
                b.push_str(line);
                b.push('\n');
            }
            None => {}
        }
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(4_100), "4.1 KB");
        assert_eq!(millis(420), "0.4 ms");
        assert_eq!(millis(12_300), "12 ms");
        assert_eq!(millis(1_500_000), "1.5 s");
        assert_eq!(node_id("stripe-mock"), "n_stripe_mock");
    }

    #[test]
    fn manifest_only_docs_draw_declared_edges() {
        let manifest = vers_manifest::parse_str(
            "name: shop\nservices:\n  db:\n    template: postgres@15\n  mail:\n    template: mailhog\n  api:\n    build: .\n    depends_on: [db, mail]\n",
            std::path::Path::new("/tmp/vers-integration.yaml"),
        )
        .expect("manifest");
        let docs = super::super::build(&manifest, None);
        let md = markdown(&docs);
        assert!(md.contains("n_api --> n_db"), "{md}");
        assert!(md.contains("| db | `db:5432` |"), "{md}");
        assert!(md.contains("subgraph g_mocks[\"Mocks\"]"), "{md}");
        assert_eq!(mermaid_blocks(&md).len(), 1);
        assert_eq!(docs.upstreams.len(), 1);
        assert_eq!(docs.upstreams[0].services.len(), 2);
    }
}
