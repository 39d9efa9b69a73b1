//! `vers dashboard`: asks the daemon for its web dashboard and prints the URL.

use std::path::Path;
use std::process::{Command, Stdio};

use vers_engine::api::client::Method;
use vers_engine::progress::Silent;

use crate::args::DashboardArgs;
use crate::context;
use crate::exit::Exit;

/// Prints the dashboard's URL (token included) as the first line on stdout, starting the
/// dashboard in the daemon if it is not serving yet, then opens it unless `--no-open`.
pub async fn dashboard(file: Option<&Path>, args: DashboardArgs) -> Result<i32, Exit> {
    let api = context::api(file).await?;
    let body = serde_json::json!({ "port": args.port });
    let answer = api
        .call(Method::POST, "/api/dashboard", Some(&body), &Silent)
        .await?;
    let url = answer["url"]
        .as_str()
        .ok_or_else(|| Exit::failure("the daemon answered no dashboard URL"))?;
    if args.json {
        println!("{}", serde_json::json!({ "url": url }));
        return Ok(0);
    }
    println!("{url}");
    if !args.no_open {
        let opened = Command::new("xdg-open")
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !opened {
            eprintln!("open the URL above in a browser");
        }
    }
    Ok(0)
}
