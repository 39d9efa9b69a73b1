//! Decodes scenarios (`tests.SUITE.scenarios[]`, `chaos.scenarios[]`) and their faults.
//! The shape is the hosted product's: `{name, description, inject: {service, action, …},
//! expect: [labels]}`; `chaos.scenarios[]` also takes the older flat form with the fault's
//! keys beside `name`. Values are read here; whether the fault makes sense against the
//! manifest is [`crate::FaultSpec::check`]'s job, run by [`crate::validate`].

use indexmap::IndexMap;

use crate::ctx::Ctx;
use crate::decode::{check_name_at, FaultAt, Index};
use crate::diagnostic::quote;
use crate::fault::{FaultAction, FaultOption, FaultSpec};
use crate::model::{Branch, ChaosScenario};
use crate::read::{self, describe, Fields};
use crate::yaml::{Node, NodeKind, Pos};

/// Keys of a scenario.
const SCENARIO_KEYS: &[&str] = &["name", "description", "inject", "expect"];

/// Keys of a fault (`inject:`).
pub const FAULT_KEYS: &[&str] = &[
    "service",
    "action",
    "after",
    "duration",
    "latency",
    "jitter",
    "loss",
    "rate",
    "status",
    "percent",
    "from",
    "intensity",
    "percentage",
];

/// Longest `expect` label accepted.
const MAX_LABEL_LEN: usize = 128;

/// Whose scenarios are decoded.
pub enum Owner<'a> {
    /// A test suite, whose branch names the scenario names must not repeat.
    Suite {
        /// The suite's name.
        name: &'a str,
        /// Its branches.
        branches: &'a [Branch],
    },
    /// The top-level `chaos:` block (which also accepts the flat form).
    Chaos,
}

/// Decodes a `scenarios:` list. Scenarios whose name, service or action cannot be read are
/// left out (their errors are recorded).
pub fn decode_list(cx: &mut Ctx, node: &Node, owner: Owner, ix: &mut Index) -> Vec<ChaosScenario> {
    let (list_what, suite) = match &owner {
        Owner::Suite { name, .. } => (format!("`scenarios` of suite {}", quote(name)), Some(*name)),
        Owner::Chaos => ("`chaos.scenarios`".to_string(), None),
    };
    let NodeKind::Seq(items) = &node.kind else {
        cx.err_help(
            node.pos,
            format!("{list_what} must be a list, found {}", node.type_name()),
            "e.g. scenarios: [{name: db-down, inject: {service: db, action: kill}}]",
        );
        return Vec::new();
    };
    let mut out: Vec<ChaosScenario> = Vec::new();
    for item in items {
        let Some((sc, name_pos, at)) = decode_one(cx, item, &owner, &list_what, suite) else {
            continue;
        };
        let clash = match &owner {
            Owner::Suite { branches, .. } => branches.iter().any(|b| b.name == sc.name),
            Owner::Chaos => false,
        };
        if clash {
            cx.err_help(
                name_pos,
                format!(
                    "{} in {list_what} is also the name of a branch",
                    quote(&sc.name)
                ),
                "branch and scenario names of a suite share one namespace (each becomes a branch)",
            );
            continue;
        }
        if out.iter().any(|s| s.name == sc.name) {
            cx.err(
                name_pos,
                format!("duplicate scenario name {} in {list_what}", quote(&sc.name)),
            );
            continue;
        }
        ix.faults.push(FaultAt {
            index: out.len(),
            ..at
        });
        out.push(sc);
    }
    out
}

fn decode_one(
    cx: &mut Ctx,
    item: &Node,
    owner: &Owner,
    list_what: &str,
    suite: Option<&str>,
) -> Option<(ChaosScenario, Pos, FaultAt)> {
    let a_scenario = format!("a scenario of {list_what}");
    let allowed: Vec<&str> = match owner {
        Owner::Suite { .. } => SCENARIO_KEYS.to_vec(),
        Owner::Chaos => SCENARIO_KEYS.iter().chain(FAULT_KEYS).copied().collect(),
    };
    let f = read::fields(cx, item, Some(&allowed), &a_scenario)?;
    let name_node = f.require(cx, "name", &a_scenario)?;
    let name = read::string(cx, name_node, "scenario `name`")?;
    check_name_at(cx, name_node.pos, "scenario", &name);
    let what = match owner {
        Owner::Suite { name: s, .. } => format!("scenario {} of suite {}", quote(&name), quote(s)),
        Owner::Chaos => format!("chaos scenario {}", quote(&name)),
    };
    let description = f
        .get("description")
        .and_then(|n| read::string(cx, n, &format!("`description` of {what}")));
    let expect = f
        .get("expect")
        .map(|n| labels(cx, n, &format!("`expect` of {what}")))
        .unwrap_or_default();
    let flat_key = f
        .iter()
        .find(|(k, _, _)| FAULT_KEYS.contains(k))
        .map(|(k, n, _)| (*k, n.pos));
    let (fault_fields, fault_pos) = match (f.get("inject"), flat_key) {
        (Some(inject), Some((key, pos))) => {
            cx.err_help(
                pos,
                format!("{what} has both `inject` and `{key}`"),
                "put every fault key inside `inject:`",
            );
            let _ = inject;
            return None;
        }
        (Some(inject), None) => {
            let ff = read::fields(cx, inject, Some(FAULT_KEYS), &format!("`inject` of {what}"))?;
            (ff, inject.pos)
        }
        (None, Some(_)) => (f, item.pos),
        (None, None) => {
            cx.err_help(
                f.pos,
                format!("{what} is missing the required key `inject`"),
                "e.g. inject: {service: postgres, action: kill, after: 30s}",
            );
            return None;
        }
    };
    let (inject, keys, from) = decode_fault(cx, &fault_fields, &what)?;
    let at = FaultAt {
        suite: suite.map(str::to_string),
        index: 0,
        what: what.clone(),
        pos: fault_pos,
        keys,
        from,
    };
    Some((
        ChaosScenario {
            name,
            description,
            inject,
            expect,
        },
        name_node.pos,
        at,
    ))
}

/// Reads a fault's keys. Values are typed here (a duration, a number); ranges, what belongs
/// to which action and the references are checked by [`FaultSpec::check`].
fn decode_fault(
    cx: &mut Ctx,
    f: &Fields,
    what: &str,
) -> Option<(FaultSpec, IndexMap<&'static str, Pos>, Vec<Pos>)> {
    let mut keys: IndexMap<&'static str, Pos> = IndexMap::new();
    for k in FAULT_KEYS {
        if let Some(n) = f.get(k) {
            keys.insert(k, n.pos);
        }
    }
    let service = f
        .require(cx, "service", what)
        .and_then(|n| read::string(cx, n, &format!("`service` of {what}")));
    let action = f.require(cx, "action", what).and_then(|n| {
        let text = read::string(cx, n, &format!("`action` of {what}"))?;
        match text.parse::<FaultAction>() {
            Ok(a) => Some(a),
            Err(e) => {
                cx.err_help(
                    n.pos,
                    format!("`action` of {what} {}", e.problem),
                    e.help.unwrap_or_default(),
                );
                None
            }
        }
    });
    let dur = |cx: &mut Ctx, key: &str| {
        f.get(key)
            .and_then(|n| read::duration(cx, n, &format!("`{key}` of {what}")))
    };
    let after = dur(cx, "after");
    let duration = dur(cx, "duration");
    let latency = dur(cx, "latency");
    let jitter = dur(cx, "jitter");
    let loss = number(cx, f, FaultOption::Loss, what, false);
    let percent = number(cx, f, FaultOption::Percent, what, false);
    let rate = number(cx, f, FaultOption::Rate, what, true).map(|v| v as u64);
    let status =
        number(cx, f, FaultOption::Status, what, true).and_then(|v| u16::try_from(v as u64).ok());
    let intensity = number(cx, f, FaultOption::Intensity, what, true)
        .and_then(|v| u32::try_from(v as u64).ok());
    let percentage = number(cx, f, FaultOption::Percentage, what, true)
        .and_then(|v| u32::try_from(v as u64).ok());
    let mut from = Vec::new();
    let mut from_pos = Vec::new();
    if let Some(n) = f.get("from") {
        let fw = format!("`from` of {what}");
        if let NodeKind::Map(_) = n.kind {
            cx.err(
                n.pos,
                format!("{fw} must be a list of services, found a mapping"),
            );
        }
        for (s, sn) in read::string_list(cx, n, &fw) {
            if from.contains(&s) {
                cx.err(sn.pos, format!("{} is listed twice in {fw}", quote(&s)));
                continue;
            }
            from.push(s);
            from_pos.push(sn.pos);
        }
    }
    let mut spec = FaultSpec::new(service?, action?);
    spec.after = after;
    spec.duration = duration;
    spec.latency = latency;
    spec.jitter = jitter;
    spec.loss = loss;
    spec.percent = percent;
    spec.rate = rate;
    spec.status = status;
    spec.intensity = intensity;
    spec.percentage = percentage;
    spec.from = from;
    Some((spec, keys, from_pos))
}

/// A numeric option (a trailing `%` is allowed): a whole number when `whole`. A value that
/// does not fit the option's type is refused here with the range check's words; one that
/// fits is kept for [`FaultSpec::check`].
fn number(cx: &mut Ctx, f: &Fields, o: FaultOption, what: &str, whole: bool) -> Option<f64> {
    let n = f.get(o.key())?;
    let text = n
        .scalar()
        .filter(|_| !n.is_null())
        .map(|t| t.trim().trim_end_matches('%').trim());
    let parsed = text.and_then(|t| {
        if whole {
            t.parse::<u64>().ok().map(|v| v as f64)
        } else {
            t.parse::<f64>().ok().filter(|v| v.is_finite())
        }
    });
    let kind = if whole { "a whole number" } else { "a number" };
    let Some(v) = parsed else {
        cx.err_help(
            n.pos,
            format!(
                "`{}` of {what} must be {kind}, found {}",
                o.key(),
                describe(n)
            ),
            format!("e.g. {}: {}", o.key(), o.example()),
        );
        return None;
    };
    let fits = match o {
        FaultOption::Status => v <= f64::from(u16::MAX),
        FaultOption::Intensity | FaultOption::Percentage => v <= f64::from(u32::MAX),
        _ => true,
    };
    if !fits {
        if let Err(e) = o.check_number(v) {
            cx.err_help(
                n.pos,
                format!("`{}` of {what} {}", o.key(), e.problem),
                e.help.unwrap_or_default(),
            );
        }
        return None;
    }
    Some(v)
}

/// `expect:` of a scenario: labels (a string or a list), each non-empty, without commas or
/// spaces (they are passed comma-separated in `VERS_EXPECT`), listed once.
fn labels(cx: &mut Ctx, node: &Node, what: &str) -> Vec<String> {
    if let NodeKind::Map(_) = node.kind {
        cx.err_help(
            node.pos,
            format!("{what} must be a list of labels, found a mapping"),
            "e.g. expect: [app.returns_503, app.reconnects]",
        );
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for (label, n) in read::string_list(cx, node, what) {
        let bad = label.is_empty()
            || label.len() > MAX_LABEL_LEN
            || label
                .chars()
                .any(|c| c == ',' || c.is_whitespace() || c.is_control());
        if bad {
            cx.err_help(
                n.pos,
                format!("invalid label {} in {what}", quote(&label)),
                format!("labels are passed comma-separated in VERS_EXPECT: no commas or spaces, at most {MAX_LABEL_LEN} characters, e.g. app.returns_503"),
            );
        } else if out.contains(&label) {
            cx.err(
                n.pos,
                format!("{} is listed twice in {what}", quote(&label)),
            );
        } else {
            out.push(label);
        }
    }
    out
}
