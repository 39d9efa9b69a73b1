//! One module per group of commands; `dispatch` routes `vers integration <cmd>`.

pub mod branching;
pub mod chaos;
pub mod daemon;
pub mod dashboard;
pub mod deploy;
pub mod docs;
pub mod engines;
pub mod environments;
pub mod export;
pub mod inspect;
pub mod manifest;
pub mod mock;
pub mod testing;

use std::path::Path;

use crate::args::IntegrationCommand;
use crate::exit::Exit;

/// Runs one integration command; returns the process exit code.
pub async fn dispatch(file: Option<&Path>, cmd: IntegrationCommand) -> Result<i32, Exit> {
    use IntegrationCommand::*;
    match cmd {
        Validate(a) => manifest::validate(file, a.json),
        Plan(a) => manifest::plan(file, a.json).await,
        Init(a) => manifest::init(a),
        Add(a) => manifest::add(file, a),
        Remove(a) => manifest::remove(file, a).await,
        Up(a) => environments::up(file, a).await,
        Down(a) => environments::down(file, a).await,
        Status(a) => environments::status(file, a.json).await,
        Logs(a) => environments::logs(file, a).await,
        Execute(a) => environments::execute(file, a).await,
        Connect(a) => environments::connect(file, a).await,
        Test(a) => testing::test(file, a).await,
        Matrix(a) => testing::matrix(file, a).await,
        Commit(a) => branching::commit(file, a).await,
        Branch(a) => branching::branch(file, a).await,
        Checkout(a) => branching::checkout(file, a).await,
        Rollback(a) => branching::rollback(file, a).await,
        Log(a) => branching::log(file, a).await,
        Checkpoint(a) => branching::checkpoint(file, a).await,
        Chaos(a) => chaos::run(file, a).await,
        Diff(a) => inspect::diff(file, a).await,
        Db(a) => inspect::db(file, a).await,
        Export(a) => export::export(file, a).await,
        Docs(a) => docs::docs(file, a).await,
        Deploy(a) => deploy::deploy(file, a).await,
        Deployments(a) => deploy::list(file, a.json, false).await,
        Preview(a) => deploy::preview(file, a).await,
        Dashboard(a) => dashboard::dashboard(file, a).await,
    }
}
