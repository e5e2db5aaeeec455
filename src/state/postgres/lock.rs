//! The apply lock on PostgreSQL: a session advisory lock per workspace, on a connection of its
//! own held for the whole apply.
//!
//! The server releases a session's advisory locks when its connection ends, however it ends:
//! a runner killed by `kill -9`, or a laptop losing its network, never leaves the workspace
//! locked. Taking the lock and writing the holder's row (`slugplan.lock_holders`) are one
//! statement. A holder row is only believed while `pg_locks` shows its backend holding the
//! lock, so the row a killed holder leaves behind is never named; the next holder replaces it.
//!
//! Waiting (`--lock-timeout`) polls `pg_try_advisory_lock` rather than blocking in
//! `pg_advisory_lock`, so the wait can end on time and a connection that drops while waiting
//! (a server restart, a proxy's idle cut) is opened again until the deadline.

use std::time::{Duration, Instant};

use tokio_postgres::Client;
use tokio_postgres::types::Type;

use super::{advisory_key, connect, pg_err};
use crate::state::lock::POLL;
use crate::state::{DatabaseUrl, LockHolder, StateError};

/// The lock connection's `application_name`, so an operator can find it in
/// `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "slugplan apply lock";

/// A held advisory lock and the connection that holds it.
#[derive(Debug)]
pub struct AdvisoryLock {
    client: Client,
    url: DatabaseUrl,
    workspace: String,
}

/// The advisory lock key of `workspace`'s apply lock.
fn key_of(workspace: &str) -> i64 {
    advisory_key(&format!("apply lock/{workspace}"))
}

/// The `pg_locks` columns of the advisory lock with key `key`: a bigint key shows as its
/// high and low 32 bits, `objsubid` 1.
fn lock_columns(key: i64) -> (i64, i64) {
    let key = key as u64;
    ((key >> 32) as i64, (key & 0xffff_ffff) as i64)
}

impl AdvisoryLock {
    /// Takes the lock of `workspace` as `holder`, waiting up to `timeout`.
    pub(super) async fn acquire(
        url: &DatabaseUrl,
        workspace: &str,
        holder: &LockHolder,
        timeout: Duration,
    ) -> Result<AdvisoryLock, StateError> {
        let deadline = Instant::now() + timeout;
        loop {
            let client = match connect(url, Some(APPLICATION_NAME)).await {
                Ok(client) => client,
                Err(err) if Instant::now() < deadline => {
                    tracing::warn!("waiting for the apply lock: {err}; connecting again");
                    tokio::time::sleep(POLL).await;
                    continue;
                }
                Err(err) => return Err(err),
            };
            loop {
                match try_take(&client, workspace, holder).await {
                    Ok(true) => {
                        return Ok(AdvisoryLock {
                            client,
                            url: url.clone(),
                            workspace: workspace.to_owned(),
                        });
                    }
                    Ok(false) if Instant::now() < deadline => tokio::time::sleep(POLL).await,
                    Ok(false) => {
                        let holder = holder_of(&client, url, workspace)
                            .await?
                            .unwrap_or_else(LockHolder::unknown);
                        return Err(StateError::Locked { holder });
                    }
                    Err(err) if connection_lost(&err, &client) && Instant::now() < deadline => {
                        tracing::warn!(
                            "the connection waiting for the apply lock closed ({err}); connecting again"
                        );
                        break;
                    }
                    Err(err) => return Err(pg_err(url, "take the apply lock")(err)),
                }
            }
        }
    }

    /// Clears the holder row and ends the connection, which releases the lock.
    pub(crate) async fn release(self) {
        let cleared = self
            .client
            .execute_typed(
                "DELETE FROM slugplan.lock_holders
                 WHERE workspace = $1 AND backend_pid = pg_backend_pid()",
                &[(&self.workspace, Type::TEXT)],
            )
            .await;
        if let Err(err) = cleared {
            // The lock goes with the connection anyway; the row is ignored once it does.
            tracing::debug!("clearing the apply lock's holder in {}: {err}", self.url);
        }
    }
}

/// Whether `err` means the connection is gone (closed, or ended by the server: an operator's
/// `pg_terminate_backend`, a shutdown), so a new one may do better.
fn connection_lost(err: &tokio_postgres::Error, client: &Client) -> bool {
    err.is_closed()
        || client.is_closed()
        || err
            .code()
            .is_some_and(|code| code.code().starts_with("57P") || code.code().starts_with("08"))
}

/// Tries the lock once, recording `holder` in the same statement when it is taken.
async fn try_take(
    client: &Client,
    workspace: &str,
    holder: &LockHolder,
) -> Result<bool, tokio_postgres::Error> {
    let key = key_of(workspace);
    let pid = i64::from(holder.pid);
    let rows = client
        .query_typed(
            "WITH got AS (SELECT pg_try_advisory_lock($1) AS locked)
             INSERT INTO slugplan.lock_holders
                 (workspace, backend_pid, pid, host, command, started_at, ci_job)
             SELECT $2, pg_backend_pid(), $3, $4, $5, $6, $7 FROM got WHERE got.locked
             ON CONFLICT (workspace) DO UPDATE SET
                 backend_pid = EXCLUDED.backend_pid, pid = EXCLUDED.pid, host = EXCLUDED.host,
                 command = EXCLUDED.command, started_at = EXCLUDED.started_at,
                 ci_job = EXCLUDED.ci_job
             RETURNING 1",
            &[
                (&key, Type::INT8),
                (&workspace, Type::TEXT),
                (&pid, Type::INT8),
                (&holder.host, Type::TEXT),
                (&holder.command, Type::TEXT),
                (&holder.started_at, Type::TEXT),
                (&holder.ci_job, Type::TEXT),
            ],
        )
        .await?;
    Ok(!rows.is_empty())
}

/// Who holds the lock of `workspace` now: None when nobody does, [`LockHolder::unknown`]
/// when a session does whose row is not (yet) there.
pub(super) async fn holder_of(
    client: &Client,
    url: &DatabaseUrl,
    workspace: &str,
) -> Result<Option<LockHolder>, StateError> {
    let (classid, objid) = lock_columns(key_of(workspace));
    let row = client
        .query_typed_opt(
            "SELECT h.pid, h.host, h.command, h.started_at, h.ci_job
             FROM pg_locks l
             LEFT JOIN slugplan.lock_holders h
                 ON h.workspace = $1 AND h.backend_pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
               AND l.classid::bigint = $2 AND l.objid::bigint = $3
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             LIMIT 1",
            &[
                (&workspace, Type::TEXT),
                (&classid, Type::INT8),
                (&objid, Type::INT8),
            ],
        )
        .await
        .map_err(pg_err(url, "read the apply lock's holder"))?;
    Ok(row.map(|row| match row.get::<_, Option<i64>>(0) {
        Some(pid) => LockHolder {
            pid: u32::try_from(pid).unwrap_or(0),
            host: row.get(1),
            command: row.get(2),
            started_at: row.get(3),
            ci_job: row.get(4),
        },
        None => LockHolder::unknown(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_splits_into_the_columns_pg_locks_shows() {
        assert_eq!(
            lock_columns(0x0123_4567_89ab_cdef),
            (0x0123_4567, 0x89ab_cdef)
        );
        assert_eq!(lock_columns(-1), (0xffff_ffff, 0xffff_ffff));
    }
}
