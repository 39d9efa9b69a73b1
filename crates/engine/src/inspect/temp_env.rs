//! Environments a comparison makes for itself (copy-on-write forks of checkpoints) and paused
//! environments it thaws: undone when the comparison ends, fails or is dropped.

use std::collections::BTreeMap;

use crate::error::EngineError;
use crate::progress::Silent;
use crate::stack::Stack;
use crate::state::{CheckpointRecord, EnvRecord};

/// Name prefix of the environments `vers diff` makes.
pub const PREFIX: &str = "diff-of-";

/// Deletes environments earlier comparisons made in processes that no longer exist (a CLI
/// killed with SIGKILL could not undo its own).
pub async fn sweep(stack: &Stack) -> Result<(), EngineError> {
    let st = crate::state::read(&stack.project.state_dir)?;
    for env in st.envs.values().filter(|e| e.test_run) {
        let Some(pid) = env
            .name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.rsplit_once('-'))
            .and_then(|(_, pid)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            stack.destroy_env(&env.id).await?;
        }
    }
    Ok(())
}

/// Temporary environments and thawed ones, restored by [`Scratch::finish`] or on drop.
pub struct Scratch {
    stack: Stack,
    created: Vec<String>,
    thawed: Vec<String>,
    finished: bool,
}

impl Scratch {
    /// Nothing made yet.
    pub fn new(stack: &Stack) -> Scratch {
        Scratch {
            stack: stack.clone(),
            created: Vec::new(),
            thawed: Vec::new(),
            finished: false,
        }
    }

    /// A new environment holding a copy of checkpoint `ckpt`'s data, with nothing started.
    pub fn clone_checkpoint(
        &mut self,
        ckpt: &CheckpointRecord,
        services: &[String],
    ) -> Result<EnvRecord, EngineError> {
        let name = format!("{PREFIX}{}-{}", ckpt.name, std::process::id());
        let id = self
            .stack
            .new_env(&name, false, Some(&ckpt.id), services, true, &ckpt.matrix)?;
        self.created.push(id.clone());
        crate::state::read(&self.stack.project.state_dir)?
            .envs
            .get(&id)
            .cloned()
            .ok_or_else(|| EngineError::Failed(format!("environment {id} vanished")))
    }

    /// Starts `services` of an environment made by [`Scratch::clone_checkpoint`].
    pub async fn boot(&self, env: &EnvRecord, services: &[String]) -> Result<(), EngineError> {
        let ctx = self
            .stack
            .env_context(&env.id, &env.name, &env.matrix, BTreeMap::new());
        let engines = crate::environment::preflight(&ctx, services)?;
        self.stack.boot(&ctx, services, &engines, &Silent).await
    }

    /// Thaws a paused environment until the comparison ends.
    pub async fn thaw(&mut self, env_id: &str) -> Result<(), EngineError> {
        self.stack.client.thaw(env_id).await?;
        self.thawed.push(env_id.to_string());
        Ok(())
    }

    /// Deletes what was made and pauses again what was thawed.
    pub async fn finish(mut self) -> Result<(), EngineError> {
        self.finished = true;
        undo(
            &self.stack,
            std::mem::take(&mut self.created),
            std::mem::take(&mut self.thawed),
        )
        .await
    }
}

async fn undo(stack: &Stack, created: Vec<String>, thawed: Vec<String>) -> Result<(), EngineError> {
    let mut first_error = None;
    for id in created {
        if let Err(e) = stack.destroy_env(&id).await {
            first_error.get_or_insert(e);
        }
    }
    for id in thawed {
        if let Err(e) = stack.client.freeze(&id).await {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.finished || (self.created.is_empty() && self.thawed.is_empty()) {
            return;
        }
        // Dropped mid-way (the caller was cancelled): undo before the runtime goes away.
        let stack = self.stack.clone();
        let created = std::mem::take(&mut self.created);
        let thawed = std::mem::take(&mut self.thawed);
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let work = async move {
            let _ = undo(&stack, created, thawed).await;
        };
        if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
            tokio::task::block_in_place(|| handle.block_on(work));
        } else {
            handle.spawn(work);
        }
    }
}
