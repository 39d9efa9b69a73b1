//! kong@3 end to end: `vers up` with Pattern 2's gateway in front of an app with two replicas
//! and a second app; requests through the gateway alternate between the replicas, a route
//! with key-auth guards the second app, and the Admin API answers on 8001.

mod common;

use common::*;

const STACK: &str = r#"
name: gatewaytest
services:
  user-service:
    command: python3 app.py users
    replicas: 2
  order-service:
    command: python3 app.py orders
  gateway:
    template: kong@3
    depends_on: [user-service, order-service]
    config:
      routes:
        - paths: [/api/users]
          service: user-service
        - paths: [/api/orders]
          service: order-service
          plugins:
            - name: key-auth
      consumers:
        - username: tester
          keyauth_credentials:
            - key: s3cret
"#;

/// An HTTP/1.1 app that keeps connections alive and says which instance answered (the
/// address it was reached at): a gateway reusing one upstream connection would reach a
/// single replica.
const APP: &str = r#"
import json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = json.dumps({
            "service": sys.argv[1],
            "instance": self.connection.getsockname()[0],
            "path": self.path,
            "consumer": self.headers.get("X-Consumer-Username"),
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

ThreadingHTTPServer((os.environ["HOST"], int(os.environ["PORT"])), Handler).serve_forever()
"#;

fn through_gateway(p: &TempProject, path: &str, header: Option<&str>) -> serde_json::Value {
    let header = header.map(|h| format!("-H '{h}' ")).unwrap_or_default();
    let out = p.ok(&[
        "execute",
        &format!("curl -s -w '\\n%{{http_code}}' {header}http://gateway:8000{path}"),
    ]);
    let (body, code) = out.trim().rsplit_once('\n').unwrap_or(("", out.trim()));
    serde_json::json!({
        "code": code.parse::<u16>().unwrap_or(0),
        "body": serde_json::from_str::<serde_json::Value>(body).unwrap_or(serde_json::Value::Null),
    })
}

#[test]
fn gateway_routes_to_replicas_in_turn_and_guards_a_route_with_key_auth() {
    let p = TempProject::new(STACK);
    p.write("app.py", APP);
    p.ok(&["up", "--no-checkpoints"]);
    let st = p.json(&["status", "--json"]);
    let gateway = st["environments"][0]["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "gateway")
        .unwrap_or_else(|| panic!("no gateway in {st:#}"));
    assert_eq!(gateway["health"], "healthy", "{gateway}");

    // Round robin over user-service's replicas: consecutive requests reach different ones.
    let mut instances = Vec::new();
    for i in 0..6 {
        let r = through_gateway(&p, &format!("/api/users/{i}"), None);
        assert_eq!(r["code"], 200, "{r}");
        assert_eq!(r["body"]["service"], "users");
        assert_eq!(r["body"]["path"], format!("/{i}"));
        instances.push(r["body"]["instance"].as_str().unwrap().to_string());
    }
    let mut distinct = instances.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 2, "both replicas answer: {instances:?}");
    assert!(
        instances.windows(2).all(|w| w[0] != w[1]),
        "requests alternate between the replicas: {instances:?}"
    );

    // The second app, behind key-auth.
    let r = through_gateway(&p, "/api/orders/9", None);
    assert_eq!(r["code"], 401, "{r}");
    assert_eq!(r["body"]["message"], "No API key found in request");
    let r = through_gateway(&p, "/api/orders/9", Some("apikey: s3cret"));
    assert_eq!(r["code"], 200, "{r}");
    assert_eq!(r["body"]["service"], "orders");
    assert_eq!(r["body"]["path"], "/9");
    assert_eq!(r["body"]["consumer"], "tester");
    let r = through_gateway(&p, "/elsewhere", None);
    assert_eq!(r["code"], 404);
    assert_eq!(r["body"]["message"], "no Route matched with those values");

    // The Admin API on 8001 reflects the manifest.
    let routes = p.ok(&["execute", "curl -s http://gateway:8001/routes"]);
    let routes: serde_json::Value = serde_json::from_str(&routes).unwrap();
    let paths: Vec<&serde_json::Value> = routes["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["paths"][0])
        .collect();
    assert_eq!(paths, ["/api/users", "/api/orders"]);
    let info = p.ok(&["execute", "curl -s http://gateway:8001/"]);
    assert!(info.contains("\"version\":\"3."), "{info}");
}
