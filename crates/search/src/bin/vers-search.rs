//! `vers-search`: the built-in Elasticsearch stand-in as a program of its own (vers runs the
//! same server as `vers mock elasticsearch`); used by the crash tests, which must kill a
//! server process.
//!
//! Usage: `vers-search --listen ADDR --port PORT --data-dir DIR [--major 8] [--product elasticsearch]`

use std::net::IpAddr;
use std::path::PathBuf;

fn usage(msg: &str) -> ! {
    eprintln!("vers-search: {msg}\nusage: vers-search --listen ADDR --port PORT --data-dir DIR [--major 7|8|2] [--product elasticsearch|opensearch]");
    std::process::exit(2);
}

fn main() {
    let mut listen: Option<IpAddr> = None;
    let mut port: u16 = 9200;
    let mut data_dir: Option<PathBuf> = None;
    let mut version = "8".to_string();
    let mut product = "elasticsearch".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--listen" => listen = Some(value.parse().unwrap_or_else(|_| usage("bad --listen"))),
            "--port" => port = value.parse().unwrap_or_else(|_| usage("bad --port")),
            "--data-dir" => data_dir = Some(PathBuf::from(value)),
            "--major" => version = value,
            "--product" => product = value,
            other => usage(&format!("unknown flag {other}")),
        }
    }
    let flavor =
        vers_search::Flavor::from_product(&product, &version).unwrap_or_else(|e| usage(&e));
    let opts = vers_search::SearchOptions {
        listen: listen.unwrap_or_else(|| usage("--listen is required")),
        port,
        data_dir: data_dir.unwrap_or_else(|| usage("--data-dir is required")),
        flavor,
        cluster_name: "vers".into(),
        node_name: "vers-search".into(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .build()
        .unwrap_or_else(|e| usage(&format!("runtime: {e}")));
    if let Err(e) = rt.block_on(vers_search::serve(opts)) {
        eprintln!("vers-search: {e}");
        std::process::exit(1);
    }
}
