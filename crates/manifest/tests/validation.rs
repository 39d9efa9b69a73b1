//! Validation errors: each names file, line and column, and the manifest as a whole reports
//! every error at once.

use std::path::Path;

use vers_manifest::{parse_str, Diagnostic, Manifest};

fn errors(src: &str) -> Vec<Diagnostic> {
    match parse_str(src, Path::new("vers-integration.yaml")) {
        Ok(_) => panic!("expected errors for:\n{src}"),
        Err(d) => d.0,
    }
}

fn ok(src: &str) -> Manifest {
    parse_str(src, Path::new("vers-integration.yaml"))
        .unwrap_or_else(|d| panic!("expected valid:\n{d}"))
}

/// The single error of `src`, checked to contain `needle`.
fn one(src: &str, needle: &str) -> Diagnostic {
    let e = errors(src);
    assert_eq!(e.len(), 1, "expected one error, got: {e:#?}");
    assert!(
        e[0].message.contains(needle),
        "`{}` does not contain `{needle}`",
        e[0].message
    );
    e.into_iter().next().unwrap()
}

const BASE: &str = "name: t\nservices:\n  db:\n    template: postgres@15\n";

#[test]
fn unknown_key_suggests_and_points_at_the_key() {
    let d = one(
        "name: t\nservices:\n  db:\n    template: postgres@15\n  app:\n    build: .\n    depends_no: [db]\n",
        "unknown key `depends_no`",
    );
    assert_eq!((d.line, d.column), (7, 5));
    assert_eq!(d.help.as_deref(), Some("did you mean `depends_on`?"));
    let text = d.to_string();
    assert!(
        text.starts_with("vers-integration.yaml:7:5: error: unknown key `depends_no`"),
        "{text}"
    );
    assert!(text.contains("    depends_no: [db]\n   |     ^"), "{text}");
    let d = one("name: t\nservics: {}\n", "unknown key `servics`");
    assert_eq!(d.help.as_deref(), Some("did you mean `services`?"));
}

#[test]
fn all_errors_are_collected_in_order() {
    let e = errors(
        "name: t\nservices:\n  db:\n    template: postgres@12\n  app:\n    replicas: many\n    depends_on: [cache]\n",
    );
    let msgs: Vec<String> = e
        .iter()
        .map(|d| format!("{}:{} {}", d.line, d.column, d.message))
        .collect();
    assert_eq!(e.len(), 4, "{msgs:#?}");
    assert!(
        msgs[0].starts_with("4:15 unsupported version `12` of `postgres`"),
        "{msgs:#?}"
    );
    assert!(e[0].help.as_deref().unwrap().contains("13, 14, 15, 16, 17"));
    assert!(
        msgs[1].starts_with("5:3 service `app` has neither"),
        "{msgs:#?}"
    );
    assert!(
        msgs[2].starts_with("6:15 `replicas` of service `app` must be a non-negative integer"),
        "{msgs:#?}"
    );
    assert!(
        msgs[3].starts_with("7:18 unknown service `cache`"),
        "{msgs:#?}"
    );
}

#[test]
fn yaml_syntax_error_has_a_position() {
    let e = errors("name: t\nservices:\n  db: [1, 2\n  x: 3\n");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].message.starts_with("YAML syntax error"),
        "{}",
        e[0].message
    );
    assert!(e[0].line >= 3);
    assert!(errors("").len() == 1);
    assert!(errors("- a\n- b\n")[0]
        .message
        .contains("must be a mapping"));
}

#[test]
fn unknown_template_lists_the_catalog() {
    let d = one(
        "name: t\nservices:\n  db:\n    template: postgress@15\n",
        "unknown template `postgress`",
    );
    let help = d.help.unwrap();
    assert!(help.starts_with("did you mean `postgres`?"), "{help}");
    assert!(help.contains("stripe-mock"));
    one(
        "name: t\nservices:\n  s:\n    template: stripe-mock@2\n",
        "unversioned",
    );
    ok("name: t\nservices:\n  db:\n    template: postgres\n  m:\n    template: mysql@8.0\n");
}

#[test]
fn dependencies_and_cycles() {
    let d = one(
        "name: t\nservices:\n  a:\n    command: x\n    depends_on: [b]\n  b:\n    command: y\n    soft_depends_on: [a]\n",
        "dependency cycle: a -> b -> a",
    );
    assert_eq!((d.line, d.column), (3, 3));
    one(
        "name: t\nservices:\n  a:\n    command: x\n    depends_on: [a]\n",
        "dependency cycle: a -> a",
    );
    let d = one(
        &format!("{BASE}  app:\n    build: .\n    soft_depends_on: [dbb]\n"),
        "unknown service `dbb`",
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `db`?"));
}

#[test]
fn suite_references() {
    let m = ok(&format!(
        "{BASE}tests:\n  first:\n    command: a\n  second:\n    command: b\n    depends_on: [db, first]\n"
    ));
    assert_eq!(m.tests["second"].depends_on, ["db", "first"]);
    one(
        &format!("{BASE}tests:\n  s:\n    command: a\n    depends_on: [nothing]\n"),
        "unknown service or suite `nothing`",
    );
    one(
        &format!("{BASE}tests:\n  a:\n    command: a\n    depends_on: [b]\n  b:\n    command: b\n    depends_on: [a]\n"),
        "cycle: a -> b -> a",
    );
    // A suite named like a service may depend on that service: the name means the service.
    let m = ok(&format!(
        "{BASE}tests:\n  db:\n    command: a\n    depends_on: [db]\n  later:\n    command: b\n    depends_on: [db, first]\n  first:\n    command: c\n"
    ));
    assert_eq!(m.tests["db"].depends_on, ["db"]);
    assert_eq!(vers_manifest::suite_services(&m, "db"), ["db"]);
    assert!(vers_manifest::suite_prerequisites(&m, "db").is_empty());
    assert_eq!(vers_manifest::suite_prerequisites(&m, "later"), ["first"]);
    // A suite naming itself when no service has that name still depends on itself.
    one(
        &format!("{BASE}tests:\n  s:\n    command: a\n    depends_on: [s]\n"),
        "suite `s` depends on itself",
    );
    let d = one(
        &format!(
            "{BASE}tests:\n  s:\n    command: a\n    branches:\n      - name: x\n      - name: x\n"
        ),
        "duplicate branch name `x`",
    );
    assert_eq!(d.line, 10);
    one(
        &format!("{BASE}tests:\n  s:\n    branches:\n      - name: x\n"),
        "has no `command`",
    );
    // Unknown checkpoint names are accepted: they may be tags made by `vers commit --tag`.
    let m = ok(&format!(
        "{BASE}tests:\n  s:\n    command: a\n    checkpoint: from-commit\n    branches:\n      - name: x\n        from: other-tag\n        expect: fail\n"
    ));
    assert_eq!(m.tests["s"].branches[0].from.as_deref(), Some("other-tag"));
    assert_eq!(m.tests["s"].branches[0].expect.unwrap().exit_code(), -1);
}

#[test]
fn checkpoints_and_selectors() {
    ok(&format!(
        "{BASE}checkpoints:\n  - name: services-ready\n    after: services.*.healthcheck\n  - name: seeded\n    after: npm run seed\n"
    ));
    let d = one(
        &format!("{BASE}checkpoints:\n  - name: a\n    after: services.[db,cache-*].healthcheck\n"),
        "`cache-*` in `after` of checkpoint `a` matches no service",
    );
    assert_eq!((d.line, d.column), (7, 12));
    one(
        &format!(
            "{BASE}checkpoints:\n  - name: a\n    after: x.sh\n  - name: a\n    after: y.sh\n"
        ),
        "duplicate checkpoint name `a`",
    );
    one(
        &format!("{BASE}checkpoints:\n  - name: a\n    after: tests.nope.setup\n"),
        "unknown suite `nope`",
    );
    one(
        &format!("{BASE}tests:\n  s:\n    command: a\n    setup: [one]\ncheckpoints:\n  - name: a\n    after: tests.s.setup[1]\n"),
        "has 1 setup command(s)",
    );
    one(
        &format!("{BASE}checkpoints:\n  - name: a\n    after: ../outside.sh\n"),
        "inside the project",
    );
}

#[test]
fn durations_sizes_ports_and_resources() {
    one(
        &format!("{BASE}    healthcheck:\n      interval: 2 weeks\n"),
        "invalid duration",
    );
    one(
        &format!("{BASE}    resources:\n      memory: 12 parsecs\n"),
        "invalid size",
    );
    one(
        &format!("{BASE}    ports: [\"99999:5432\"]\n"),
        "invalid port mapping `99999:5432`",
    );
    one(
        &format!("{BASE}    ports: [\"0.0.0.0:15432:5432\"]\n"),
        "vers forwards host ports on 127.0.0.1 only",
    );
    one(
        &format!("{BASE}    ports:\n      - target: 5432\n        protocol: udp\n"),
        "vers forwards TCP only",
    );
    let m = ok(&format!(
        "{BASE}    ports:\n      - \"127.0.0.1:25432:5432/tcp\"\n      - target: 5432\n        published: \"35432\"\n        host_ip: 127.0.0.1\n"
    ));
    let db = &m.services["db"];
    assert_eq!(
        db.ports
            .iter()
            .map(|p| (p.host, p.container))
            .collect::<Vec<_>>(),
        [(25432, 5432), (35432, 5432)]
    );
    let m = ok(&format!(
        "{BASE}    ports: [\"15432:5432\"]\n    healthcheck:\n      command: pg_isready\n      interval: 2s\n      retries: 30\n      start_period: 60000\n    resources:\n      memory: 512mb\n      cpu: {{request: 500m, limit: 2}}\n"
    ));
    let db = &m.services["db"];
    assert_eq!(db.ports[0].host, 15432);
    let hc = db.healthcheck.as_ref().unwrap();
    assert_eq!(hc.start_period, Some(std::time::Duration::from_secs(60)));
    let r = db.resources.as_ref().unwrap();
    assert_eq!(r.memory.unwrap().limit, Some(512 << 20));
    assert_eq!(r.memory.unwrap().request, Some(512 << 20));
    assert_eq!(r.cpu.unwrap().request, Some(0.5));
    assert_eq!(r.cpu.unwrap().limit, Some(2.0));
}

#[test]
fn template_config_is_checked() {
    one(
        &format!("{BASE}    config:\n      databasez: [a]\n"),
        "unknown key `databasez`",
    );
    let d = one(
        "name: t\nservices:\n  r:\n    template: redis@7\n    config:\n      maxmemory_policy: allkeys-lr\n",
        "invalid value `allkeys-lr`",
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `allkeys-lru`?"));
    one(
        "name: t\nservices:\n  r:\n    template: redis@7\n    config:\n      maxmemory: lots\n",
        "invalid size",
    );
    // `persistence` is a bool or one of rdb, aof, none (two scalar readings).
    for v in ["true", "false", "rdb", "aof", "none"] {
        ok(&format!(
            "name: t\nservices:\n  r:\n    template: redis@7\n    config:\n      persistence: {v}\n"
        ));
    }
    one(
        "name: t\nservices:\n  r:\n    template: redis@7\n    config:\n      persistence: disk\n",
        "must be true or false or one of rdb, aof, none, found `disk`",
    );
    ok("name: t\nservices:\n  m:\n    template: mongodb@7\n    config:\n      replica_set: rs0\n");
    one(
        "name: t\nservices:\n  s:\n    template: stripe-mock\n    config:\n      webhook_endpoint: app:3000/hook\n",
        "must be an http(s) URL",
    );
    one(
        "name: t\nservices:\n  s:\n    template: stripe-mock\n    config:\n      fixtures:\n        products:\n          - id: p\n            colour: red\n",
        "unknown key `colour`",
    );
    one(
        "name: t\nservices:\n  o:\n    template: oauth-mock\n    config:\n      providers: [google, gitbub]\n",
        "unknown OAuth provider `gitbub`",
    );
    ok("name: t\nservices:\n  o:\n    template: oauth-mock\n    config:\n      providers:\n        corp-sso:\n          client_id: a\n          client_secret: b\n          users: [me@example.com]\n");
    one(
        "name: t\nservices:\n  m:\n    template: mailhog\n    config:\n      storage: disk\n",
        "invalid value `disk`",
    );
    one("name: t\nservices:\n  k:\n    template: kafka@3\n    config:\n      topics:\n        - name: a\n          partitions: six\n", "non-negative integer");
    ok("name: t\nservices:\n  x:\n    build: .\n  k:\n    template: kong@3\n    config:\n      database: off\n      routes:\n        - paths: [/a]\n          service: x\n        - paths: [/b]\n          service: ext\n          plugins:\n            - name: key-auth\n              config: { key_names: [apikey] }\n      services:\n        - name: ext\n          url: http://x:3000/v1\n      plugins:\n        - name: rate-limiting\n          config: { minute: 5, policy: local }\n      consumers:\n        - username: alice\n          keyauth_credentials: [{ key: k1 }]\n");
    one(
        "name: t\nservices:\n  users:\n    build: .\n  k:\n    template: kong@3\n    config:\n      routes:\n        - paths: [/a]\n          service: user\n",
        "unknown service `user` in `config.routes[0].service` of service `k`",
    );
    one(
        "name: t\nservices:\n  k:\n    template: kong@3\n    config:\n      consumers:\n        - username: a\n          keyauth_credentials: [{ secret: k1 }]\n",
        "unknown key `secret`",
    );
    one(
        &format!("{BASE}  app:\n    build: .\n    config:\n      a: 1\n"),
        "has `config` but no `template`",
    );
}

#[test]
fn matrix_keys_and_versions() {
    ok(&format!(
        "{BASE}matrix:\n  postgres: [14, 15]\n  node: [18, 20]\n"
    ));
    ok(&format!("{BASE}matrix:\n  db: [16]\n"));
    let d = one(
        &format!("{BASE}matrix:\n  postgres: [12, 15]\n"),
        "unsupported version `12`",
    );
    assert_eq!((d.line, d.column), (6, 14));
    one(
        &format!("{BASE}matrix:\n  redis: [7]\n"),
        "names a template no service uses",
    );
    let d = one(
        &format!("{BASE}matrix:\n  postgress: [15]\n"),
        "unknown matrix key `postgress`",
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `postgres`?"));
}

#[test]
fn deploy_chaos_monitoring() {
    ok(&format!(
        "{BASE}deploy:\n  dev:\n    target: local\nchaos:\n  scenarios:\n    - name: slow-db\n      service: db\n      action: network-delay\n      latency: 500ms\n      duration: 30s\nmonitoring:\n  prometheus: true\n"
    ));
    one(
        &format!("{BASE}deploy:\n  dev:\n    target: heroku\n"),
        "unknown deploy target `heroku`",
    );
    let d = one(
        &format!("{BASE}chaos:\n  scenarios:\n    - name: x\n      service: db\n      action: netwrk-delay\n"),
        "`action` of chaos scenario `x` names no chaos action: `netwrk-delay`",
    );
    assert!(d
        .help
        .as_deref()
        .unwrap()
        .starts_with("did you mean `network-delay`?"));
    one(
        &format!(
            "{BASE}chaos:\n  scenarios:\n    - name: x\n      service: nope\n      action: kill\n"
        ),
        "`service` of chaos scenario `x` names no service: `nope`",
    );
    one(
        &format!("{BASE}monitoring: yes\n"),
        "`monitoring` must be a mapping",
    );
}

#[test]
fn interpolation_syntax_is_checked() {
    let d = one(
        &format!("{BASE}    env:\n      URL: postgres://${{HOST\n"),
        "unclosed `${`",
    );
    assert_eq!(d.line, 6);
    one(
        &format!("{BASE}tests:\n  s:\n    command: echo ${{}}\n"),
        "invalid variable name",
    );
    one(
        &format!("{BASE}tests:\n  s:\n    command: a\n    branches:\n      - name: b\n        before: [\"echo ${{X\"]\n"),
        "unclosed",
    );
    let m = ok(&format!(
        "{BASE}    env:\n      DB: app_${{BRANCH_ID}}\n      PORT: 5432\n      EMPTY:\n"
    ));
    assert_eq!(m.services["db"].env["PORT"], "5432");
    assert_eq!(m.services["db"].env["EMPTY"], "");
}

#[test]
fn name_is_required_and_services_are_host_names() {
    one(
        "services:\n  db:\n    template: redis\n",
        "missing the required key `name`",
    );
    one(
        "name: t\nservices:\n  \"my db\":\n    template: redis\n",
        "invalid service name",
    );
}

#[test]
fn hostile_inputs_do_not_panic() {
    for src in [
        "a: &a [*a]",
        "a: &a\n  b: *a\n",
        "{{{{{{{{",
        "name: t\nservices: !!binary x",
        "\u{feff}name: t\n",
        "name: [\n",
        "? [a]\n: b\n",
        "name: t\nmatrix:\n  a: [1,2,3,4,5,6,7,8,9,10]\n  b: [1,2,3,4,5,6,7,8,9,10]\n  c: [1,2,3,4,5,6,7,8,9,10]\n",
    ] {
        let _ = parse_str(src, Path::new("x.yaml"));
    }
    let bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n";
    assert!(parse_str(bomb, Path::new("x.yaml")).is_err());
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    const PIECES: &[&str] = &[
        "name: t\n",
        "services:\n",
        "  a:\n",
        "    template: redis@7\n",
        "    depends_on: [a]\n",
        "tests:\n",
        "  s:\n",
        "    command: x\n",
        "    branches: [b, b]\n",
        "checkpoints:\n",
        "  - name: c\n",
        "    after: services.[a,z*].healthcheck\n",
        "matrix:\n",
        "  redis: [6, 9]\n",
        "    config: {maxmemory: 1zb}\n",
        "    env: {X: ${Y\n",
        "  - ",
        ": ",
        "[",
        "{",
        "&a ",
        "*a",
        "\t",
        "'",
        "\"",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// Any concatenation of manifest fragments parses to a manifest or to diagnostics
        /// that all carry 1-based positions.
        #[test]
        fn fragments_never_panic(idx in proptest::collection::vec(0usize..PIECES.len(), 0..40)) {
            let src: String = idx.iter().map(|i| PIECES[*i]).collect();
            if let Err(d) = parse_str(&src, Path::new("f.yaml")) {
                prop_assert!(!d.is_empty());
                for e in d.iter() {
                    prop_assert!(e.line >= 1 && e.column >= 1);
                }
            }
        }
    }
}

/// Compose keys vers has no key for are answered with what vers does instead, at their line.
#[test]
fn compose_only_service_keys_say_what_vers_does_instead() {
    let d = one(
        &format!("{BASE}    restart: unless-stopped\n"),
        "unknown key `restart`",
    );
    assert_eq!(d.line, 5);
    let help = d.help.unwrap_or_default();
    assert!(help.contains("restarts no service on its own"), "{help}");
    let d = one(
        &format!("{BASE}    env_file: .env\n"),
        "unknown key `env_file`",
    );
    assert!(d.help.unwrap_or_default().contains("under `env:`"));
    // Outside a service the usual list of keys is the help.
    let d = one(
        "name: t\nrestart: always\nservices:\n  db:\n    template: postgres@15\n",
        "unknown key `restart`",
    );
    assert!(!d.help.unwrap_or_default().contains("restarts no service"));
}

/// `replicas` is for apps: N brokers or databases of one template service would all run on
/// its one data directory (two tansu brokers lock each other out of their SQLite file and
/// `up` waits 120 s for health), so `validate` refuses it at the key, with the fix.
#[test]
fn replicas_of_a_template_service_are_refused_at_the_key() {
    let d = one(
        "name: t\nservices:\n  broker:\n    template: kafka@3\n    replicas: 2\n  web:\n    command: python3 -m http.server\n    replicas: 3\n",
        "`replicas` of service `broker` is 2, but replicas are for apps",
    );
    assert_eq!((d.line, d.column), (5, 15));
    assert!(
        d.help.as_deref().unwrap_or("").contains("broker-1"),
        "{d:?}"
    );
    // One instance, written out, is fine; so are an app's replicas.
    let m = ok("name: t\nservices:\n  broker:\n    template: kafka@3\n    replicas: 1\n  web:\n    command: python3 -m http.server\n    replicas: 3\n");
    assert_eq!(m.services["web"].replicas, 3);
}
