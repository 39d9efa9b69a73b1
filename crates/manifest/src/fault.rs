//! One fault request: what `vers chaos inject` takes on the command line, what a test
//! scenario's `inject:` says and what a top-level `chaos.scenarios[]` entry holds. One type
//! ([`FaultSpec`]) and one check ([`FaultSpec::check`]), so the CLI, the engine and the
//! manifest accept and refuse the same requests with the same words.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ctx::{names_help, suggest};
use crate::diagnostic::quote;
use crate::model::Manifest;
use crate::plan::suite_services;
use crate::templates;

/// A chaos action (SPEC section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultAction {
    /// Freeze the service's processes.
    Pause,
    /// SIGKILL the service; it stays down until recovered (or `duration` ends).
    Kill,
    /// Added latency (± jitter) on traffic to the service.
    NetworkDelay,
    /// A share of connections to the service dropped.
    NetworkLoss,
    /// No traffic reaches the service.
    NetworkIsolate,
    /// Bandwidth cap on traffic to the service.
    Bandwidth,
    /// Connections to the service reset.
    ResetPeer,
    /// Connections to the service accepted but never answered.
    Timeout,
    /// HTTP requests to the service answered with an error status.
    HttpError,
    /// CPU load beside the service.
    CpuStress,
    /// Memory pressure beside the service.
    MemoryStress,
    /// The service's volume filled up.
    DiskFill,
}

/// An option of a fault besides `service` and `action`: a manifest key of `inject:` and a
/// `vers chaos inject --KEY` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultOption {
    /// Time between the test command's start and the fault (scenarios).
    After,
    /// How long the fault lasts.
    Duration,
    /// Added latency.
    Latency,
    /// Latency jitter.
    Jitter,
    /// Dropped share, percent.
    Loss,
    /// Bandwidth, KB/s.
    Rate,
    /// HTTP status.
    Status,
    /// Share of HTTP requests, percent.
    Percent,
    /// Only traffic from these services.
    From,
    /// Stress level, percent.
    Intensity,
    /// Share of the volume to fill, percent.
    Percentage,
}

use FaultAction as A;
use FaultOption as O;

impl FaultAction {
    /// Every action, in SPEC order.
    pub const ALL: [FaultAction; 12] = [
        A::Pause,
        A::Kill,
        A::NetworkDelay,
        A::NetworkLoss,
        A::NetworkIsolate,
        A::Bandwidth,
        A::ResetPeer,
        A::Timeout,
        A::HttpError,
        A::CpuStress,
        A::MemoryStress,
        A::DiskFill,
    ];

    /// The action's name as written (`network-delay`).
    pub const fn as_str(self) -> &'static str {
        match self {
            A::Pause => "pause",
            A::Kill => "kill",
            A::NetworkDelay => "network-delay",
            A::NetworkLoss => "network-loss",
            A::NetworkIsolate => "network-isolate",
            A::Bandwidth => "bandwidth",
            A::ResetPeer => "reset-peer",
            A::Timeout => "timeout",
            A::HttpError => "http-error",
            A::CpuStress => "cpu-stress",
            A::MemoryStress => "memory-stress",
            A::DiskFill => "disk-fill",
        }
    }

    /// Whether the fault acts on traffic to the service (through the proxy in front of it),
    /// so `from` can narrow it to some senders.
    pub const fn is_network(self) -> bool {
        matches!(
            self,
            A::NetworkDelay
                | A::NetworkLoss
                | A::NetworkIsolate
                | A::Bandwidth
                | A::ResetPeer
                | A::Timeout
                | A::HttpError
        )
    }

    /// The options this action takes (`after` and `duration` apply to every action).
    pub fn options(self) -> &'static [FaultOption] {
        match self {
            A::Pause | A::Kill => &[O::After, O::Duration],
            A::NetworkDelay => &[O::After, O::Duration, O::Latency, O::Jitter, O::From],
            A::NetworkLoss => &[O::After, O::Duration, O::Loss, O::From],
            A::NetworkIsolate | A::ResetPeer | A::Timeout => &[O::After, O::Duration, O::From],
            A::Bandwidth => &[O::After, O::Duration, O::Rate, O::From],
            A::HttpError => &[O::After, O::Duration, O::Status, O::Percent, O::From],
            A::CpuStress | A::MemoryStress => &[O::After, O::Duration, O::Intensity],
            A::DiskFill => &[O::After, O::Duration, O::Percentage],
        }
    }

    /// The options this action cannot do without.
    pub fn required(self) -> &'static [FaultOption] {
        match self {
            A::NetworkDelay => &[O::Latency],
            A::Bandwidth => &[O::Rate],
            _ => &[],
        }
    }
}

/// Names of every action, in SPEC order (the words `--action` and `action:` accept).
pub const CHAOS_ACTIONS: &[&str] = &action_names();

const fn action_names() -> [&'static str; FaultAction::ALL.len()] {
    let mut out = [""; FaultAction::ALL.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = FaultAction::ALL[i].as_str();
        i += 1;
    }
    out
}

impl fmt::Display for FaultAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FaultAction {
    type Err = FaultError;

    /// Parses an action name; an unknown one is a [`FaultError`] on `action` with a
    /// suggestion.
    fn from_str(s: &str) -> Result<FaultAction, FaultError> {
        let t = s.trim();
        FaultAction::ALL
            .into_iter()
            .find(|a| a.as_str() == t)
            .ok_or_else(|| FaultError {
                field: FaultField::Action,
                index: None,
                problem: format!("names no chaos action: {}", quote(t)),
                help: Some(match suggest(t, CHAOS_ACTIONS.iter().copied()) {
                    Some(c) => format!(
                        "did you mean {}? actions: {}",
                        quote(c),
                        CHAOS_ACTIONS.join(", ")
                    ),
                    None => format!("actions: {}", CHAOS_ACTIONS.join(", ")),
                }),
            })
    }
}

impl FaultOption {
    /// Every option.
    pub const ALL: [FaultOption; 11] = [
        O::After,
        O::Duration,
        O::Latency,
        O::Jitter,
        O::Loss,
        O::Rate,
        O::Status,
        O::Percent,
        O::From,
        O::Intensity,
        O::Percentage,
    ];

    /// The manifest key and flag name (`latency`, `--latency`).
    pub const fn key(self) -> &'static str {
        match self {
            O::After => "after",
            O::Duration => "duration",
            O::Latency => "latency",
            O::Jitter => "jitter",
            O::Loss => "loss",
            O::Rate => "rate",
            O::Status => "status",
            O::Percent => "percent",
            O::From => "from",
            O::Intensity => "intensity",
            O::Percentage => "percentage",
        }
    }

    /// An example value, for help texts.
    pub const fn example(self) -> &'static str {
        match self {
            O::After => "30s",
            O::Duration => "60s",
            O::Latency => "500ms",
            O::Jitter => "100ms",
            O::Loss => "25",
            O::Rate => "64",
            O::Status => "503",
            O::Percent => "50",
            O::From => "[app]",
            O::Intensity => "80",
            O::Percentage => "95",
        }
    }

    /// The accepted range of a numeric option (inclusive) and its unit, for the range
    /// check; `None` for options that are not numbers.
    pub const fn range(self) -> Option<(f64, f64, &'static str)> {
        match self {
            O::Loss => Some((0.0, 100.0, "a percentage")),
            O::Percent => Some((1.0, 100.0, "a percentage")),
            O::Intensity => Some((0.0, 100.0, "a percentage")),
            O::Percentage => Some((1.0, 100.0, "a percentage")),
            O::Status => Some((100.0, 599.0, "an HTTP status")),
            O::Rate => Some((1.0, f64::MAX, "a bandwidth in KB/s")),
            _ => None,
        }
    }

    /// The range error for `value` of this option, if it is outside [`Self::range`]
    /// (non-finite numbers are outside every range).
    pub fn check_number(self, value: f64) -> Result<(), FaultError> {
        let Some((lo, hi, what)) = self.range() else {
            return Ok(());
        };
        if value.is_finite() && value >= lo && value <= hi {
            return Ok(());
        }
        let expected = if hi == f64::MAX {
            format!("{what} of at least {lo}")
        } else {
            format!("{what} from {lo} to {hi}")
        };
        Err(FaultError {
            field: FaultField::Option(self),
            index: None,
            problem: format!("must be {expected}, found {value}"),
            help: Some(format!("e.g. {}: {}", self.key(), self.example())),
        })
    }
}

impl fmt::Display for FaultOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// A fault to inject into one service: `vers chaos inject` flags, a scenario's `inject:`,
/// or a `chaos.scenarios[]` entry. Durations are written and serialized like the manifest's
/// (`500ms`, `30s`; a bare number is milliseconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Target service.
    pub service: String,
    /// What to do to it.
    pub action: FaultAction,
    /// Time after the test command starts (absent: before it starts).
    #[serde(
        default,
        with = "opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub after: Option<Duration>,
    /// How long the fault lasts (absent: until recovered).
    #[serde(
        default,
        with = "opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<Duration>,
    /// Added latency (`network-delay`).
    #[serde(
        default,
        with = "opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub latency: Option<Duration>,
    /// Latency jitter (`network-delay`).
    #[serde(
        default,
        with = "opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub jitter: Option<Duration>,
    /// Share of dropped connections in percent, 0–100 (`network-loss`; default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    /// Bandwidth in KB/s, at least 1 (`bandwidth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<u64>,
    /// HTTP status, 100–599 (`http-error`; default 503).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Share of HTTP requests in percent, 1–100 (`http-error`; default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    /// Only traffic from these services (network and HTTP faults).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<String>,
    /// Stress level in percent, 0–100 (`cpu-stress`, `memory-stress`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intensity: Option<u32>,
    /// Share of the volume to fill in percent, 1–100 (`disk-fill`; default 95).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<u32>,
}

/// Which part of a fault an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultField {
    /// `service`.
    Service,
    /// `action`.
    Action,
    /// One of the options.
    Option(FaultOption),
}

impl FaultField {
    /// The manifest key (`service`, `latency`).
    pub const fn key(self) -> &'static str {
        match self {
            FaultField::Service => "service",
            FaultField::Action => "action",
            FaultField::Option(o) => o.key(),
        }
    }
}

/// Why a fault is refused: which field, what is wrong, and how to fix it. Shown by the
/// manifest at the field's line and column and by the CLI after `--FIELD`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{}` {problem}", field.key())]
pub struct FaultError {
    /// The field at fault.
    pub field: FaultField,
    /// Which item of `from`, for an error about one of them.
    pub index: Option<usize>,
    /// What is wrong, as a phrase following the field's name ("must be …").
    pub problem: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl FaultError {
    /// The command-line flag of the field (`--latency`).
    pub fn flag(&self) -> String {
        format!("--{}", self.field.key())
    }
}

/// Where a fault is checked: on its own (the CLI, `chaos.scenarios[]`) or as a scenario of
/// a suite, which adds the suite's rules (the `after` fits in its `timeout`, the service is
/// one the suite starts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultScope<'a> {
    /// Against the running environment (`vers chaos inject`, `vers chaos run`).
    Environment,
    /// In a scenario of this suite.
    Suite(&'a str),
}

impl FaultSpec {
    /// A fault with no options.
    pub fn new(service: impl Into<String>, action: FaultAction) -> FaultSpec {
        FaultSpec {
            service: service.into(),
            action,
            after: None,
            duration: None,
            latency: None,
            jitter: None,
            loss: None,
            rate: None,
            status: None,
            percent: None,
            from: Vec::new(),
            intensity: None,
            percentage: None,
        }
    }

    /// The options that are set.
    pub fn options_set(&self) -> Vec<FaultOption> {
        let set = [
            (O::After, self.after.is_some()),
            (O::Duration, self.duration.is_some()),
            (O::Latency, self.latency.is_some()),
            (O::Jitter, self.jitter.is_some()),
            (O::Loss, self.loss.is_some()),
            (O::Rate, self.rate.is_some()),
            (O::Status, self.status.is_some()),
            (O::Percent, self.percent.is_some()),
            (O::From, !self.from.is_empty()),
            (O::Intensity, self.intensity.is_some()),
            (O::Percentage, self.percentage.is_some()),
        ];
        set.into_iter()
            .filter(|(_, s)| *s)
            .map(|(o, _)| o)
            .collect()
    }

    /// The one check of a fault, for the manifest, the CLI and the engine: options that
    /// belong to the action and are within range, required options present, `service` and
    /// `from` naming services of `m`, `http-error` only on a service that speaks HTTP, and
    /// in a suite's scenario, an `after` shorter than the suite's `timeout` and a service
    /// the suite starts. Returns every error, empty when the fault is acceptable.
    pub fn check(&self, m: &Manifest, scope: FaultScope<'_>) -> Vec<FaultError> {
        let mut errs = Vec::new();
        let err = |field: FaultField, problem: String, help: Option<String>| FaultError {
            field,
            index: None,
            problem,
            help,
        };
        let takes = self.action.options();
        for o in self.options_set() {
            if !takes.contains(&o) {
                let list: Vec<&str> = takes.iter().map(|t| t.key()).collect();
                errs.push(err(
                    FaultField::Option(o),
                    format!("does not apply to `{}`", self.action),
                    Some(format!("`{}` takes: {}", self.action, list.join(", "))),
                ));
            }
        }
        for o in self.action.required() {
            if !self.options_set().contains(o) {
                errs.push(err(
                    FaultField::Option(*o),
                    format!("is required by `{}`", self.action),
                    Some(format!("e.g. {}: {}", o.key(), o.example())),
                ));
            }
        }
        let numbers = [
            (O::Loss, self.loss),
            (O::Percent, self.percent),
            (O::Rate, self.rate.map(|v| v as f64)),
            (O::Status, self.status.map(f64::from)),
            (O::Intensity, self.intensity.map(f64::from)),
            (O::Percentage, self.percentage.map(f64::from)),
        ];
        for (o, v) in numbers {
            if let Some(Err(e)) = v.map(|v| o.check_number(v)) {
                errs.push(e);
            }
        }
        let services: Vec<&str> = m.services.keys().map(String::as_str).collect();
        match m.services.get(&self.service) {
            None => errs.push(err(
                FaultField::Service,
                format!("names no service: {}", quote(&self.service)),
                Some(names_help(
                    &self.service,
                    &services,
                    "the manifest declares none",
                )),
            )),
            Some(svc) => {
                if self.action == A::HttpError && !templates::speaks_http(svc) {
                    errs.push(err(
                        FaultField::Action,
                        format!(
                            "`http-error` needs a service that speaks HTTP; {} does not",
                            quote(&self.service)
                        ),
                        Some(
                            "use a network fault (timeout, reset-peer, network-delay) for it, \
                             or http-error on the app or mock in front of it"
                                .to_string(),
                        ),
                    ));
                }
            }
        }
        for (i, f) in self.from.iter().enumerate() {
            if !m.services.contains_key(f) {
                errs.push(FaultError {
                    field: FaultField::Option(O::From),
                    index: Some(i),
                    problem: format!("names no service: {}", quote(f)),
                    help: Some(names_help(f, &services, "the manifest declares none")),
                });
            }
        }
        if let FaultScope::Suite(suite) = scope {
            self.check_in_suite(m, suite, &mut errs);
        }
        errs
    }

    fn check_in_suite(&self, m: &Manifest, suite: &str, errs: &mut Vec<FaultError>) {
        let Some(s) = m.tests.get(suite) else { return };
        if let (Some(after), Some(timeout)) = (self.after, s.timeout) {
            if after >= timeout {
                errs.push(FaultError {
                    field: FaultField::Option(O::After),
                    index: None,
                    problem: format!(
                        "({}) is not shorter than the suite's timeout ({}), so the fault would never start",
                        human(after),
                        human(timeout)
                    ),
                    help: Some("shorten `after` or raise the suite's `timeout`".to_string()),
                });
            }
        }
        if m.services.contains_key(&self.service)
            && !suite_services(m, suite).contains(&self.service)
        {
            errs.push(FaultError {
                field: FaultField::Service,
                index: None,
                problem: format!(
                    "names {}, which suite {} does not start",
                    quote(&self.service),
                    quote(suite)
                ),
                help: Some(format!(
                    "add {} to the suite's `depends_on`",
                    quote(&self.service)
                )),
            });
        }
    }
}

/// A duration as the manifest writes it: whole hours, minutes or seconds when exact, else
/// milliseconds.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        "0s".to_string()
    } else if ms.is_multiple_of(3_600_000) {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Serde for `Option<Duration>` as the manifest writes durations: `"30s"` (or a number of
/// milliseconds) in, the shortest exact text out.
mod opt_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        Millis(u64),
        Text(String),
    }

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&super::human(*d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        match Option::<Text>::deserialize(d)? {
            None => Ok(None),
            Some(Text::Millis(ms)) => Ok(Some(Duration::from_millis(ms))),
            Some(Text::Text(t)) => crate::units::parse_duration(&t)
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_and_suggest() {
        for a in FaultAction::ALL {
            assert_eq!(a.as_str().parse::<FaultAction>(), Ok(a));
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
        assert_eq!(CHAOS_ACTIONS.len(), 12);
        assert_eq!(CHAOS_ACTIONS[2], "network-delay");
        let e = "netwrk-delay".parse::<FaultAction>().unwrap_err();
        assert_eq!(e.field, FaultField::Action);
        assert!(e
            .help
            .as_deref()
            .unwrap()
            .starts_with("did you mean `network-delay`?"));
        assert!(e.to_string().starts_with("`action` names no chaos action"));
    }

    #[test]
    fn serde_uses_manifest_durations() {
        let mut f = FaultSpec::new("db", A::NetworkDelay);
        f.latency = Some(Duration::from_millis(500));
        f.after = Some(Duration::from_secs(30));
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"service": "db", "action": "network-delay", "after": "30s", "latency": "500ms"})
        );
        let back: FaultSpec = serde_json::from_value(json).unwrap();
        assert_eq!(back, f);
        let n: FaultSpec =
            serde_json::from_str(r#"{"service":"db","action":"pause","duration":1500}"#).unwrap();
        assert_eq!(n.duration, Some(Duration::from_millis(1500)));
        assert!(serde_json::from_str::<FaultSpec>(
            r#"{"service":"db","action":"pause","bogus":1}"#
        )
        .is_err());
        assert!(serde_json::from_str::<FaultSpec>(
            r#"{"service":"db","action":"pause","after":"5x"}"#
        )
        .is_err());
    }

    #[test]
    fn ranges() {
        assert!(O::Loss.check_number(0.0).is_ok());
        assert!(O::Loss.check_number(100.0).is_ok());
        assert!(O::Loss.check_number(100.5).is_err());
        assert!(O::Loss.check_number(f64::NAN).is_err());
        assert!(O::Percent.check_number(0.0).is_err());
        assert!(O::Rate.check_number(0.0).is_err());
        assert!(O::Rate.check_number(1.0).is_ok());
        let e = O::Status.check_number(600.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`status` must be an HTTP status from 100 to 599, found 600"
        );
        assert_eq!(e.flag(), "--status");
        assert!(O::Percentage.check_number(0.0).is_err());
        assert!(O::Intensity.check_number(0.0).is_ok());
        assert!(O::Jitter.check_number(-1.0).is_ok());
    }

    #[test]
    fn every_option_is_taken_by_some_action() {
        for o in FaultOption::ALL {
            assert!(
                FaultAction::ALL.iter().any(|a| a.options().contains(&o)),
                "{o}"
            );
        }
        for a in FaultAction::ALL {
            assert_eq!(a.options().contains(&O::From), a.is_network(), "{a}");
            assert!(a.required().iter().all(|r| a.options().contains(r)), "{a}");
        }
    }
}
