//! The HTTP server: content negotiation (`application/json`, the vendor media types with
//! `compatible-with`), the product header, gzip bodies, `pretty` and `filter_path`, a
//! periodic refresh, and a clean commit on shutdown.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body as AxumBody, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method as HttpMethod, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use serde_json::Value;

use crate::api::{App, Body, Method, Reply, Request};
use crate::error::{EsError, ServeError};
use crate::flavor::Flavor;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct SearchOptions {
    /// Address to bind.
    pub listen: IpAddr,
    /// Port.
    pub port: u16,
    /// Where indices live.
    pub data_dir: PathBuf,
    /// What the server presents itself as.
    pub flavor: Flavor,
    /// `cluster_name`.
    pub cluster_name: String,
    /// The node name.
    pub node_name: String,
}

/// The media type a request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Media {
    /// Plain JSON.
    Json,
    /// `application/vnd.elasticsearch+json; compatible-with=N`.
    Compat(u8),
}

/// Reads a `compatible-with` version from a header value listing media types (`Accept`
/// may list several, e.g. `application/vnd.elasticsearch+json; compatible-with=8,text/plain`).
fn compat_version(value: &str) -> Result<Option<u8>, ()> {
    let mut found = None;
    for range in value.to_ascii_lowercase().split(',') {
        if !range.contains("application/vnd.elasticsearch+") {
            continue;
        }
        let version = range
            .split(';')
            .filter_map(|p| p.trim().strip_prefix("compatible-with="))
            .next()
            .ok_or(())?;
        found = Some(version.trim().parse().map_err(|_| ())?);
    }
    Ok(found)
}

fn media_error(accept: &str, content_type: &str) -> EsError {
    EsError::new(400, "media_type_header_exception", "Invalid media-type value on headers [Accept, Content-Type]").caused_by(
        EsError::new(
            400,
            "status_exception",
            format!(
                "A compatible version is required on both Content-Type and Accept headers if either one has requested a compatible version. Accept={accept}, Content-Type={content_type}"
            ),
        ),
    )
}

fn negotiate(flavor: Flavor, headers: &HeaderMap, has_body: bool) -> Result<Media, (u16, EsError)> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let accept = get("accept");
    let content_type = get("content-type");
    let a = compat_version(accept).map_err(|_| (400, media_error(accept, content_type)))?;
    let c = compat_version(content_type).map_err(|_| (400, media_error(accept, content_type)))?;
    if has_body && !content_type.is_empty() {
        let base = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let known = [
            "application/json",
            "application/x-ndjson",
            "application/vnd.elasticsearch+json",
            "application/vnd.elasticsearch+x-ndjson",
            "application/smile",
            "application/yaml",
            "application/cbor",
        ];
        if !known.contains(&base.as_str())
            || base == "application/smile"
            || base == "application/yaml"
            || base == "application/cbor"
        {
            return Err((
                406,
                EsError::new(
                    406,
                    "media_type_header_exception",
                    format!("Content-Type header [{content_type}] is not supported"),
                ),
            ));
        }
    }
    match (a, c) {
        (None, None) => Ok(Media::Json),
        (Some(v), c) | (c @ None, Some(v)) => {
            if let Some(cv) = c {
                if cv != v {
                    return Err((400, media_error(accept, content_type)));
                }
            }
            if !flavor.accepts_compat(v) {
                return Err((
                    if flavor.is_elasticsearch() { 400 } else { 406 },
                    media_error(accept, content_type),
                ));
            }
            Ok(Media::Compat(v))
        }
    }
}

fn params(uri: &Uri) -> BTreeMap<String, String> {
    uri.query()
        .map(|q| {
            form_urlencoded_pairs(q)
                .into_iter()
                .collect::<BTreeMap<String, String>>()
        })
        .unwrap_or_default()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn form_urlencoded_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode(&s.replace('+', "%2B")))
        .collect()
}

/// Keeps the parts of `v` that `filter_path` patterns name (`*` one level, `**` any).
fn filter_path(v: &Value, patterns: &[Vec<String>]) -> Option<Value> {
    if patterns.iter().any(|p| p.is_empty()) {
        return Some(v.clone());
    }
    match v {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, child) in map {
                let mut next: Vec<Vec<String>> = Vec::new();
                for p in patterns {
                    let head = &p[0];
                    if head == "**" {
                        next.push(p.clone());
                        next.push(p[1..].to_vec());
                    } else if crate::mapping::wildcard_match(head, k) {
                        next.push(p[1..].to_vec());
                    }
                }
                if next.is_empty() {
                    continue;
                }
                if let Some(f) = filter_path(child, &next) {
                    out.insert(k.clone(), f);
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Value::Array(items) => {
            let kept: Vec<Value> = items
                .iter()
                .filter_map(|i| filter_path(i, patterns))
                .collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        _ => None,
    }
}

fn render(app: &App, reply: Reply, media: Media, req: &Request) -> Response {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    if app.flavor.is_elasticsearch() {
        builder = builder.header("X-elastic-product", "Elasticsearch");
    }
    let json_type = match media {
        Media::Compat(v) => format!("application/vnd.elasticsearch+json;compatible-with={v}"),
        Media::Json if app.flavor == Flavor::Elasticsearch8 => "application/json".to_string(),
        Media::Json => "application/json; charset=UTF-8".to_string(),
    };
    let (content_type, bytes) = match reply.body {
        Body::Json(v) => {
            let v = match req.param("filter_path") {
                Some(fp) if reply.status < 300 => {
                    let patterns: Vec<Vec<String>> = fp
                        .split(',')
                        .map(|p| p.trim().split('.').map(String::from).collect())
                        .collect();
                    filter_path(&v, &patterns).unwrap_or_else(|| Value::Object(Default::default()))
                }
                _ => v,
            };
            let text = if req.flag("pretty") {
                serde_json::to_vec_pretty(&v)
            } else {
                serde_json::to_vec(&v)
            }
            .unwrap_or_default();
            (json_type, text)
        }
        Body::Text(t) => ("text/plain; charset=UTF-8".to_string(), t.into_bytes()),
        Body::Empty => (json_type, Vec::new()),
    };
    builder = builder.header(
        "content-type",
        HeaderValue::from_str(&content_type)
            .unwrap_or(HeaderValue::from_static("application/json")),
    );
    builder
        .body(AxumBody::from(bytes))
        .unwrap_or_else(|_| Response::new(AxumBody::empty()))
}

fn decode_body(headers: &HeaderMap, body: Bytes) -> Result<Vec<u8>, EsError> {
    let gzip = headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    if !gzip {
        return Ok(body.to_vec());
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_end(&mut out)
        .map_err(|e| EsError::bad_json(format!("invalid gzip body: {e}")))?;
    Ok(out)
}

async fn handle(
    State(app): State<Arc<App>>,
    method: HttpMethod,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = params(&uri);
    let method = Method::from_http(method.as_str());
    let mut req = Request {
        method,
        path: uri.path().to_string(),
        segments: segments(uri.path()),
        params,
        body: Vec::new(),
    };
    let media = match negotiate(app.flavor, &headers, !body.is_empty()) {
        Ok(m) => m,
        Err((status, e)) => {
            let mut reply = Reply::error(&e);
            reply.status = status;
            return render(&app, reply, Media::Json, &req);
        }
    };
    req.body = match decode_body(&headers, body) {
        Ok(b) => b,
        Err(e) => return render(&app, Reply::error(&e), media, &req),
    };
    let worker = app.clone();
    let req = Arc::new(req);
    let req2 = req.clone();
    let reply = tokio::task::spawn_blocking(move || worker.handle(&req2))
        .await
        .unwrap_or_else(|e| Reply::error(&EsError::internal(format!("request failed: {e}"))));
    render(&app, reply, media, &req)
}

/// Runs the server until it is stopped (SIGTERM or SIGINT commit every index first).
pub async fn serve(opts: SearchOptions) -> Result<(), ServeError> {
    std::fs::create_dir_all(&opts.data_dir).map_err(|source| ServeError::Io {
        path: opts.data_dir.clone(),
        source,
    })?;
    let data_dir = opts.data_dir.clone();
    let (flavor, cluster, node) = (
        opts.flavor,
        opts.cluster_name.clone(),
        opts.node_name.clone(),
    );
    let app = tokio::task::spawn_blocking(move || App::open(&data_dir, flavor, &cluster, &node))
        .await
        .map_err(|e| ServeError::Config(format!("opening the data directory failed: {e}")))??;
    let app = Arc::new(app);
    let addr = SocketAddr::new(opts.listen, opts.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let refresher = app.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tick.tick().await;
            let r = refresher.clone();
            let _ = tokio::task::spawn_blocking(move || r.registry.refresh_pending()).await;
        }
    });
    let router = Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::max(100 * 1024 * 1024))
        .with_state(app.clone());
    tracing::info!("vers search ({:?}) listening on {addr}", opts.flavor);
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let closing = app.clone();
    let _ = tokio::task::spawn_blocking(move || {
        for index in closing.registry.all() {
            if let Err(e) = index.refresh() {
                tracing::warn!("final commit of {}: {e}", index.name);
            }
        }
    })
    .await;
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut t), Ok(mut i)) => {
            tokio::select! {
                _ = t.recv() => {}
                _ = i.recv() => {}
            }
        }
        _ => std::future::pending::<()>().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compat_media_types() {
        assert_eq!(compat_version("application/json"), Ok(None));
        assert_eq!(
            compat_version("application/vnd.elasticsearch+json; compatible-with=8"),
            Ok(Some(8))
        );
        assert_eq!(
            compat_version("application/vnd.elasticsearch+x-ndjson;compatible-with=7"),
            Ok(Some(7))
        );
        assert!(compat_version("application/vnd.elasticsearch+json").is_err());
        assert_eq!(
            compat_version("application/vnd.elasticsearch+json; compatible-with=8,text/plain"),
            Ok(Some(8))
        );
    }

    #[test]
    fn negotiation_follows_the_flavor() {
        let mut h = HeaderMap::new();
        h.insert(
            "accept",
            HeaderValue::from_static("application/vnd.elasticsearch+json; compatible-with=8"),
        );
        h.insert(
            "content-type",
            HeaderValue::from_static("application/vnd.elasticsearch+json; compatible-with=8"),
        );
        assert_eq!(
            negotiate(Flavor::Elasticsearch8, &h, true).unwrap(),
            Media::Compat(8)
        );
        assert_eq!(
            negotiate(Flavor::Elasticsearch7, &h, true).unwrap_err().0,
            400
        );
        let mut form = HeaderMap::new();
        form.insert(
            "content-type",
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        assert_eq!(
            negotiate(Flavor::Elasticsearch8, &form, true)
                .unwrap_err()
                .0,
            406
        );
        assert_eq!(
            negotiate(Flavor::Elasticsearch8, &form, false).unwrap(),
            Media::Json
        );
    }

    #[test]
    fn paths_and_filter_paths() {
        assert_eq!(
            segments("/my%2Dindex/_doc/a%20b"),
            ["my-index", "_doc", "a b"]
        );
        assert_eq!(
            params(&"/x?q=a%3Ab&pretty".parse().unwrap())
                .get("q")
                .unwrap(),
            "a:b"
        );
        let v = json!({"took": 1, "hits": {"total": {"value": 2}, "hits": [{"_id": "1", "_source": {}}]}});
        let p = vec![vec![
            "hits".to_string(),
            "hits".to_string(),
            "_id".to_string(),
        ]];
        assert_eq!(
            filter_path(&v, &p).unwrap(),
            json!({"hits": {"hits": [{"_id": "1"}]}})
        );
    }
}
