//! Key counts of a redis service of a running environment (`INFO keyspace` through
//! `redis-cli`, inside the environment).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::environment::{self, EnvContext};
use crate::error::EngineError;

use super::target;

/// Keys per logical database (`0` → 12); databases without keys are absent.
pub async fn key_counts(
    ctx: &EnvContext,
    service: &str,
) -> Result<BTreeMap<u32, u64>, EngineError> {
    let engine = target::engine(ctx, service)?;
    let inst = environment::instance(ctx, service, 0)?;
    let exec = vers_catalog::clients::redis_cli(&inst, &engine, &["INFO", "keyspace"])
        .map_err(|e| EngineError::Failed(format!("{service}: {e}")))?;
    let done = environment::run_client(ctx, service, &exec, Duration::from_secs(30)).await?;
    if done.code != Some(0) || done.output.starts_with("ERR") || done.output.contains("NOAUTH") {
        return Err(EngineError::Failed(format!(
            "{service} in {}: redis-cli INFO keyspace failed: {} {}",
            ctx.env_name,
            done.output.trim(),
            done.stderr.trim()
        )));
    }
    Ok(parse_keyspace(&done.output))
}

/// Reads `db0:keys=3,expires=0,avg_ttl=0` lines.
fn parse_keyspace(text: &str) -> BTreeMap<u32, u64> {
    text.lines()
        .filter_map(|l| {
            let (db, rest) = l.trim().strip_prefix("db")?.split_once(':')?;
            let keys = rest
                .split(',')
                .find_map(|kv| kv.strip_prefix("keys="))?
                .parse()
                .ok()?;
            Some((db.parse().ok()?, keys))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyspace_lines_become_counts() {
        let info =
            "# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=0\r\ndb2:keys=10,expires=0,avg_ttl=0\r\n";
        let counts = parse_keyspace(info);
        assert_eq!(counts, BTreeMap::from([(0, 3), (2, 10)]));
        assert!(parse_keyspace("# Keyspace\r\n").is_empty());
    }
}
