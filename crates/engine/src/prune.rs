//! Deleting checkpoints: one by tag, name or id (`checkpoint rm`), or every one that no
//! branch and no tag needs (`checkpoint prune`). A checkpoint is needed while a tag (or a
//! manifest checkpoint name, which names its latest) points to it or an environment was
//! forked from it. Its record goes first, then its snapshot: a crash in between leaves an
//! unnamed snapshot, which the next daemon start collects.

use serde::{Deserialize, Serialize};

use crate::checkpoint;
use crate::error::EngineError;
use crate::stack::Stack;
use crate::state::{self, CheckpointRecord, State};

/// A deleted checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Removed {
    /// Its id.
    pub id: String,
    /// Its name (manifest checkpoint or tag).
    pub name: String,
}

/// Deletes the checkpoint `name` (a tag, manifest checkpoint name or id) and every tag naming
/// it; refused while an environment of the user's was forked from it. Its warm pool (whose
/// branches are not the user's) goes with it and is not refilled: no tag names it any more.
pub async fn remove(stack: &Stack, name: &str) -> Result<Vec<Removed>, EngineError> {
    let mut g = state::lock(&stack.project.state_dir)?;
    let rec = g.state.find_checkpoint(name).cloned().ok_or_else(|| {
        EngineError::NotFound(format!(
            "no checkpoint named {}; `vers log` lists them",
            vers_manifest::quote(name)
        ))
    })?;
    let users: Vec<String> = g
        .state
        .envs
        .values()
        .filter(|e| e.warm.is_none() && e.parent_checkpoint.as_deref() == Some(rec.id.as_str()))
        .map(|e| e.name.clone())
        .collect();
    if !users.is_empty() {
        return Err(EngineError::Failed(format!(
            "checkpoint {} ({}) is the base of {}; delete {} first (`vers branch delete NAME`)",
            rec.name,
            rec.id,
            users.join(", "),
            if users.len() == 1 { "it" } else { "them" }
        )));
    }
    forget(&mut g.state, &rec);
    g.save()?;
    drop(g);
    crate::pool::drop_pools_of(stack, std::slice::from_ref(&rec.id)).await?;
    delete_snapshot(stack, &rec)?;
    Ok(vec![Removed {
        id: rec.id,
        name: rec.name,
    }])
}

/// Deletes every checkpoint no tag names and no environment of the user's was forked from,
/// with the warm branches of it (a pool whose tag moved on).
pub async fn prune(stack: &Stack) -> Result<Vec<Removed>, EngineError> {
    let mut g = state::lock(&stack.project.state_dir)?;
    let doomed: Vec<CheckpointRecord> = unneeded(&g.state)
        .into_iter()
        .filter_map(|id| g.state.checkpoints.get(&id).cloned())
        .collect();
    for rec in &doomed {
        forget(&mut g.state, rec);
    }
    g.save()?;
    drop(g);
    let ids: Vec<String> = doomed.iter().map(|r| r.id.clone()).collect();
    crate::pool::drop_pools_of(stack, &ids).await?;
    let mut removed = Vec::new();
    for rec in doomed {
        delete_snapshot(stack, &rec)?;
        removed.push(Removed {
            id: rec.id,
            name: rec.name,
        });
    }
    Ok(removed)
}

/// Ids of the checkpoints no tag names and no environment of the user's (warm pool branches
/// do not count) was forked from.
pub fn unneeded(state: &State) -> Vec<String> {
    state
        .checkpoints
        .keys()
        .filter(|id| {
            !state.tags.values().any(|t| t == *id)
                && !state.envs.values().any(|e| {
                    e.warm.is_none() && e.parent_checkpoint.as_deref() == Some(id.as_str())
                })
        })
        .cloned()
        .collect()
}

/// Drops a checkpoint from the state: its record, the tags and cache entries naming it; its
/// children hang from its parent instead.
fn forget(state: &mut State, rec: &CheckpointRecord) {
    state.checkpoints.remove(&rec.id);
    state.tags.retain(|_, id| *id != rec.id);
    state.cache.retain(|_, id| *id != rec.id);
    for child in state.checkpoints.values_mut() {
        if child.parent.as_deref() == Some(rec.id.as_str()) {
            child.parent = rec.parent.clone();
        }
    }
}

fn delete_snapshot(stack: &Stack, rec: &CheckpointRecord) -> Result<(), EngineError> {
    checkpoint::forget_inputs(&stack.project, &rec.id);
    if !stack.snap.checkpoint_exists(&rec.id) {
        return Ok(());
    }
    stack.snap.delete_checkpoint(&rec.id).map_err(|e| {
        EngineError::Failed(format!(
            "deleting the snapshot of checkpoint {} ({}): {e}",
            rec.name, rec.id
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{EnvRecord, EnvStatus};

    fn ckpt(id: &str, name: &str, parent: Option<&str>) -> CheckpointRecord {
        CheckpointRecord {
            id: id.into(),
            name: name.into(),
            parent: parent.map(str::to_string),
            env: "e1".into(),
            services: Vec::new(),
            message: None,
            cache_key: Some(format!("k{id}")),
            created: 1,
            manifest_hash: String::new(),
            engines: Default::default(),
            matrix: Default::default(),
        }
    }

    #[test]
    fn what_no_tag_or_branch_needs_is_unneeded_and_forgetting_relinks_children() {
        let mut st = State::default();
        // c1 services-ready (superseded by c3), c2 seeded (forked by a branch, superseded by
        // c4), c3/c4 the latest of each name, c5 a commit tag.
        for (id, name, parent) in [
            ("c1", "services-ready", None),
            ("c2", "seeded", Some("c1")),
            ("c3", "services-ready", None),
            ("c4", "seeded", Some("c3")),
            ("c5", "mine", Some("c4")),
        ] {
            st.checkpoints.insert(id.into(), ckpt(id, name, parent));
            st.cache.insert(format!("k{id}"), id.into());
        }
        for (tag, id) in [("services-ready", "c3"), ("seeded", "c4"), ("mine", "c5")] {
            st.tags.insert(tag.into(), id.into());
        }
        st.envs.insert(
            "e9".into(),
            EnvRecord {
                id: "e9".into(),
                name: "fork".into(),
                root: false,
                parent_checkpoint: Some("c2".into()),
                services: Vec::new(),
                status: EnvStatus::Running,
                created: 1,
                restored: 0,
                matrix: Default::default(),
                test_run: false,
                manifest_hash: None,
                run: None,
                warm: None,
            },
        );
        assert_eq!(unneeded(&st), ["c1"]);
        let c1 = st.checkpoints["c1"].clone();
        forget(&mut st, &c1);
        assert!(!st.checkpoints.contains_key("c1"));
        assert!(!st.cache.values().any(|id| id == "c1"));
        assert_eq!(st.checkpoints["c2"].parent, None);
        let c4 = st.checkpoints["c4"].clone();
        forget(&mut st, &c4);
        assert_eq!(st.checkpoints["c5"].parent.as_deref(), Some("c3"));
        assert!(!st.tags.contains_key("seeded"));
    }
}
