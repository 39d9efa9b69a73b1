//! Scenario suites (`tests.SUITE.scenarios[]`) and `chaos.scenarios[]`: the hosted
//! product's format decodes to one fault type, and every nonsensical fault is refused at the
//! line and column of the key at fault.

use std::path::Path;
use std::time::Duration;

use vers_manifest::{
    parse_str, plan, Diagnostic, FaultAction, FaultError, FaultField, FaultOption, FaultScope,
    FaultSpec, Manifest,
};

fn parse(src: &str) -> Result<Manifest, Vec<Diagnostic>> {
    parse_str(src, Path::new("vers-integration.yaml")).map_err(|d| d.0)
}

fn ok(src: &str) -> Manifest {
    parse(src).unwrap_or_else(|d| panic!("expected valid, got {d:#?}\n{src}"))
}

/// The services and the head of a `chaos` suite; scenarios follow at line 16.
const HEAD: &str = "name: t
services:
  postgres:
    template: postgres@15
  redis:
    template: redis@7
  app:
    build: .
    depends_on: [postgres, redis]
  smtp:
    template: mailhog
tests:
  chaos:
    command: npm run test:chaos
    timeout: 5m
    scenarios:
";

/// The manifest of the issue, verbatim (plus the services it names).
const HOSTED: &str = "name: t
services:
  postgres:
    template: postgres@15
  redis:
    template: redis@7
  app:
    build: .
    depends_on: [postgres, redis]
tests:
  chaos:
    command: npm run test:chaos
    timeout: 5m
    scenarios:
      - name: database-crash
        inject: { service: postgres, action: kill, after: 30s }
        expect: [app.returns_503, app.reconnects]
      - name: redis-unavailable
        inject: { service: redis, action: pause, duration: 60s }
";

#[test]
fn the_hosted_format_decodes_to_fault_specs() {
    let m = ok(HOSTED);
    let s = &m.tests["chaos"].scenarios;
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].name, "database-crash");
    let mut crash = FaultSpec::new("postgres", FaultAction::Kill);
    crash.after = Some(Duration::from_secs(30));
    assert_eq!(s[0].inject, crash);
    assert_eq!(s[0].expect, ["app.returns_503", "app.reconnects"]);
    assert_eq!(s[1].inject.action, FaultAction::Pause);
    assert_eq!(s[1].inject.duration, Some(Duration::from_secs(60)));
    assert!(s[1].expect.is_empty());
    assert!(m.tests["chaos"].branches.is_empty());
    // The plan lists scenarios under their suite, like branches.
    let json = serde_json::to_value(plan(&m)).unwrap();
    assert_eq!(
        json["tests"][0],
        serde_json::json!({"suite": "chaos", "branches": ["database-crash", "redis-unavailable"], "scenarios": ["database-crash", "redis-unavailable"]})
    );
}

#[test]
fn every_option_of_the_cli_is_accepted() {
    let m = ok(&format!(
        "{HEAD}      - name: slow
        inject:
          service: postgres
          action: network-delay
          latency: 500ms
          jitter: 50ms
          from: [app]
          after: 1s
          duration: 2s
      - name: lossy
        inject: {{service: redis, action: network-loss, loss: 12.5%}}
      - name: narrow
        inject: {{service: redis, action: bandwidth, rate: 64}}
      - name: errors
        inject: {{service: app, action: http-error, status: 429, percent: 50}}
      - name: mail-errors
        inject: {{service: smtp, action: http-error}}
      - name: hot
        inject: {{service: app, action: cpu-stress, intensity: 80}}
      - name: full
        inject: {{service: postgres, action: disk-fill, percentage: 95}}
      - name: cut
        inject: {{service: postgres, action: network-isolate, from: app}}
"
    ));
    let s = &m.tests["chaos"].scenarios;
    assert_eq!(s[0].inject.latency, Some(Duration::from_millis(500)));
    assert_eq!(s[0].inject.jitter, Some(Duration::from_millis(50)));
    assert_eq!(s[0].inject.from, ["app"]);
    assert_eq!(s[1].inject.loss, Some(12.5));
    assert_eq!(s[2].inject.rate, Some(64));
    assert_eq!(
        (s[3].inject.status, s[3].inject.percent),
        (Some(429), Some(50.0))
    );
    assert_eq!(s[5].inject.intensity, Some(80));
    assert_eq!(s[6].inject.percentage, Some(95));
    assert_eq!(s[7].inject.from, ["app"]);
}

/// The single error of a scenario whose `inject:` is `inject` (a flow mapping on the line after the scenario's name),
/// checked to contain `needle` and to point at the first occurrence of `at` on that line.
fn refused(inject: &str, needle: &str, at: &str) -> Diagnostic {
    refused_in(HEAD, inject, needle, at)
}

fn refused_in(head: &str, inject: &str, needle: &str, at: &str) -> Diagnostic {
    let line_text = format!("        inject: {inject}");
    let src = format!("{head}      - name: s\n{line_text}\n");
    let line = head.lines().count() + 2;
    let errs = parse(&src)
        .err()
        .unwrap_or_else(|| panic!("expected an error for {inject}"));
    assert_eq!(errs.len(), 1, "{errs:#?}");
    let d = errs.into_iter().next().unwrap();
    assert!(
        d.message.contains(needle),
        "`{}` lacks `{needle}`",
        d.message
    );
    let column = line_text
        .find(at)
        .unwrap_or_else(|| panic!("{at} not in {line_text}"))
        + 1;
    assert_eq!(
        (d.line, d.column),
        (line, column),
        "{}: {}",
        d.message,
        line_text
    );
    d
}

#[test]
fn unknown_actions_get_a_suggestion() {
    let d = refused(
        "{service: postgres, action: kil}",
        "`action` of scenario `s` of suite `chaos` names no chaos action: `kil`",
        "kil}",
    );
    assert!(d.help.unwrap().starts_with("did you mean `kill`?"));
}

#[test]
fn values_out_of_range_are_refused() {
    refused(
        "{service: redis, action: bandwidth, rate: 0}",
        "`rate` of scenario `s` of suite `chaos` must be a bandwidth in KB/s of at least 1, found 0",
        "0}",
    );
    refused(
        "{service: redis, action: network-loss, loss: 150}",
        "must be a percentage from 0 to 100, found 150",
        "150",
    );
    refused(
        "{service: redis, action: network-loss, loss: -1}",
        "`loss` of scenario `s` of suite `chaos` must be a percentage from 0 to 100, found -1",
        "-1",
    );
    refused(
        "{service: app, action: http-error, percent: 0}",
        "`percent` of scenario `s` of suite `chaos` must be a percentage from 1 to 100, found 0",
        "0}",
    );
    refused(
        "{service: app, action: cpu-stress, intensity: 101}",
        "must be a percentage from 0 to 100, found 101",
        "101",
    );
    refused(
        "{service: postgres, action: disk-fill, percentage: 0}",
        "`percentage` of scenario `s` of suite `chaos` must be a percentage from 1 to 100",
        "0}",
    );
    refused(
        "{service: app, action: http-error, status: 600}",
        "`status` of scenario `s` of suite `chaos` must be an HTTP status from 100 to 599, found 600",
        "600",
    );
    refused(
        "{service: app, action: http-error, status: 99999}",
        "must be an HTTP status from 100 to 599, found 99999",
        "99999",
    );
    refused(
        "{service: app, action: pause, after: soon}",
        "invalid duration",
        "soon",
    );
}

#[test]
fn options_must_belong_to_the_action() {
    let d = refused(
        "{service: postgres, action: kill, latency: 5s}",
        "`latency` of scenario `s` of suite `chaos` does not apply to `kill`",
        "5s",
    );
    assert_eq!(d.help.as_deref(), Some("`kill` takes: after, duration"));
    refused(
        "{service: postgres, action: pause, from: [app]}",
        "`from` of scenario `s` of suite `chaos` does not apply to `pause`",
        "[app]",
    );
    refused(
        "{service: app, action: network-loss, status: 503}",
        "`status` of scenario `s` of suite `chaos` does not apply to `network-loss`",
        "503",
    );
    // Required options are missing at the `inject` mapping.
    let d = refused(
        "{service: postgres, action: network-delay}",
        "`latency` of scenario `s` of suite `chaos` is required by `network-delay`",
        "{",
    );
    assert_eq!(d.help.as_deref(), Some("e.g. latency: 500ms"));
    refused(
        "{service: postgres, action: pause, bogus: 1}",
        "unknown key `bogus`",
        "bogus",
    );
    refused("{action: pause}", "missing the required key `service`", "{");
}

#[test]
fn http_errors_need_a_service_that_speaks_http() {
    refused(
        "{service: postgres, action: http-error}",
        "`action` of scenario `s` of suite `chaos` `http-error` needs a service that speaks HTTP; `postgres` does not",
        "http-error",
    );
    refused(
        "{service: redis, action: http-error, status: 503}",
        "`redis` does not",
        "http-error",
    );
}

#[test]
fn services_must_exist_and_be_started_by_the_suite() {
    let d = refused(
        "{service: postgress, action: kill}",
        "`service` of scenario `s` of suite `chaos` names no service: `postgress`",
        "postgress",
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `postgres`?"));
    refused(
        "{service: postgres, action: network-delay, latency: 1s, from: [app, nope]}",
        "`from` of scenario `s` of suite `chaos` names no service: `nope`",
        "nope",
    );
    let narrow = HEAD.replace(
        "    timeout: 5m\n",
        "    timeout: 5m\n    depends_on: [postgres]\n",
    );
    let d = refused_in(
        &narrow,
        "{service: redis, action: pause}",
        "`service` of scenario `s` of suite `chaos` names `redis`, which suite `chaos` does not start",
        "redis",
    );
    assert_eq!(
        d.help.as_deref(),
        Some("add `redis` to the suite's `depends_on`")
    );
    // A service the suite's services depend on is started, so it is a valid target.
    let via_app = HEAD.replace(
        "    timeout: 5m\n",
        "    timeout: 5m\n    depends_on: [app]\n",
    );
    ok(&format!(
        "{via_app}      - name: s\n        inject: {{service: redis, action: pause}}\n"
    ));
}

#[test]
fn after_must_fit_in_the_suite_timeout() {
    refused(
        "{service: postgres, action: kill, after: 10m}",
        "`after` of scenario `s` of suite `chaos` (10m) is not shorter than the suite's timeout (5m)",
        "10m",
    );
    refused(
        "{service: postgres, action: kill, after: 5m}",
        "is not shorter than the suite's timeout",
        "5m}",
    );
    ok(&format!(
        "{HEAD}      - name: s\n        inject: {{service: postgres, action: kill, after: 299s}}\n"
    ));
    // Without a timeout any `after` is accepted.
    let no_timeout = HEAD.replace("    timeout: 5m\n", "");
    ok(&format!(
        "{no_timeout}      - name: s\n        inject: {{service: postgres, action: kill, after: 2h}}\n"
    ));
}

#[test]
fn scenario_lists_names_and_labels() {
    let src = format!(
        "{HEAD}      - name: s\n        inject: {{service: app, action: kill}}\n        expect: [ok, \"a,b\"]\n"
    );
    let e = parse(&src).unwrap_err();
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(
        e[0].message.contains("invalid label `a,b`"),
        "{}",
        e[0].message
    );
    assert_eq!((e[0].line, e[0].column), (19, 22));
    let src = format!(
        "{HEAD}      - name: s\n        inject: {{service: app, action: kill}}\n      - name: s\n        inject: {{service: app, action: pause}}\n"
    );
    let e = parse(&src).unwrap_err();
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(e[0].message.contains("duplicate scenario name `s`"));
    assert_eq!((e[0].line, e[0].column), (19, 15));
    let src = format!("{HEAD}      - name: s\n        expect: [x]\n");
    let e = parse(&src).unwrap_err();
    assert!(
        e[0].message.contains("missing the required key `inject`"),
        "{e:#?}"
    );
    assert_eq!((e[0].line, e[0].column), (17, 9));
    let e = parse(&HEAD.replace("    scenarios:\n", "    scenarios: {}\n")).unwrap_err();
    assert!(e[0].message.contains("must be a list"), "{e:#?}");
}

#[test]
fn branch_and_scenario_names_share_one_namespace() {
    let src = "name: t
services:
  db:
    template: postgres@15
tests:
  chaos:
    command: x
    branches:
      - name: baseline
    scenarios:
      - name: baseline
        inject: {service: db, action: kill}
";
    let e = parse(src).unwrap_err();
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(e[0]
        .message
        .contains("`baseline` in `scenarios` of suite `chaos` is also the name of a branch"));
    assert_eq!((e[0].line, e[0].column), (11, 15));
    // With distinct names, the plan lists both.
    let m = ok(&src.replace(
        "      - name: baseline\n        inject",
        "      - name: db-down\n        inject",
    ));
    let p = plan(&m);
    assert_eq!(p.tests[0].branches, ["baseline", "db-down"]);
    assert_eq!(p.tests[0].scenarios, ["db-down"]);
}

#[test]
fn a_suite_of_scenarios_needs_a_command() {
    let src = HOSTED.replace("    command: npm run test:chaos\n", "");
    let e = parse(&src).unwrap_err();
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(e[0].message.contains("suite `chaos` has no `command`"));
}

const CHAOS_HEAD: &str = "name: t
services:
  db:
    template: postgres@15
  api:
    command: ./api
chaos:
  scenarios:
";

#[test]
fn top_level_chaos_takes_the_same_shape_and_the_flat_alias() {
    let m = ok(&format!(
        "{CHAOS_HEAD}    - name: slow-db
      description: the database answers slowly
      inject: {{service: db, action: network-delay, latency: 500ms, from: [api]}}
      expect: [api.times_out]
    - name: slow-db-flat
      service: db
      action: network-delay
      latency: 500ms
      from: [api]
"
    ));
    let c = m.chaos.as_ref().unwrap();
    assert_eq!(c.scenarios[0].inject, c.scenarios[1].inject);
    assert_eq!(c.scenarios[0].expect, ["api.times_out"]);
    assert_eq!(
        c.scenario("slow-db").unwrap().description.as_deref(),
        Some("the database answers slowly")
    );
    assert!(c.scenario("nope").is_none());
    let e = parse(&format!(
        "{CHAOS_HEAD}    - name: mixed\n      inject: {{service: db, action: kill}}\n      action: pause\n"
    ))
    .unwrap_err();
    assert!(
        e[0].message.contains("has both `inject` and `action`"),
        "{e:#?}"
    );
    assert_eq!((e[0].line, e[0].column), (11, 7));
    // The same checks as in suites, without the suite's rules.
    let e = parse(&format!(
        "{CHAOS_HEAD}    - name: x\n      service: db\n      action: http-error\n"
    ))
    .unwrap_err();
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(e[0].message.starts_with(
        "`action` of chaos scenario `x` `http-error` needs a service that speaks HTTP"
    ));
    assert_eq!((e[0].line, e[0].column), (11, 15));
    ok(&format!(
        "{CHAOS_HEAD}    - name: x\n      inject: {{service: api, action: http-error, after: 2h}}\n"
    ));
}

/// The check the CLI and the engine call for `vers chaos inject` flags.
#[test]
fn the_check_serves_the_command_line() {
    let m = ok(HOSTED);
    let mut f = FaultSpec::new("redis", FaultAction::Bandwidth);
    f.rate = Some(0);
    f.latency = Some(Duration::from_millis(5));
    let errs: Vec<FaultError> = f.check(&m, FaultScope::Environment);
    let flags: Vec<String> = errs.iter().map(|e| format!("{}: {e}", e.flag())).collect();
    assert_eq!(
        flags,
        [
            "--latency: `latency` does not apply to `bandwidth`",
            "--rate: `rate` must be a bandwidth in KB/s of at least 1, found 0"
        ]
    );
    let mut late = FaultSpec::new("postgres", FaultAction::Kill);
    late.after = Some(Duration::from_secs(600));
    assert!(late.check(&m, FaultScope::Environment).is_empty());
    let e = late.check(&m, FaultScope::Suite("chaos"));
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].field, FaultField::Option(FaultOption::After));
}
