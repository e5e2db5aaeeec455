//! The PostgreSQL state's schema: tables in the `slugplan` schema, migrated forward only.
//!
//! The rule is SQLite's (`crate::sqlite`), on PostgreSQL's means:
//!
//! - **Versioned, append only.** `slugplan.schema_migrations` has one row per migration
//!   applied. A migration is never edited or reordered once released: append a new one.
//! - **One transaction, under a lock.** The missing migrations run in one transaction that
//!   first takes a transaction-scoped advisory lock and re-reads the version, so two runners
//!   starting at once on a fresh database never apply one twice, and a migration cut short
//!   (a crash, a lost connection) leaves nothing behind.
//! - **A newer schema is refused, untouched.** A version above the migrations this slugplan
//!   knows was written by a newer one; it is refused with [`StateError::NewerSchema`] before
//!   anything is written.
//!
//! Opening costs one round trip when the schema is current: the version read.
//!
//! Every table but the version table is keyed by workspace first: one database serves many
//! manifests, each reading and writing its own rows only. Times are RFC 3339 text, as slugplan
//! writes them everywhere (UTC, whole seconds, so text order is time order).

use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, GenericClient};

use super::{advisory_key, pg_err};
use crate::state::{DatabaseUrl, StateError, now};

/// Migrations, in order. Append only.
const MIGRATIONS: &[&str] = &[
    // 1: uploads, releases made (and what rollbacks went back to), pipeline promotions
    // started, slug keys, the config keys managed and the key of their values' hashes, the
    // audit log and the lock's holder, by workspace.
    "CREATE TABLE slugplan.workspaces (
        name text PRIMARY KEY,
        created_at text NOT NULL,
        last_apply bigint NOT NULL
    );
    CREATE TABLE slugplan.uploads (
        workspace text NOT NULL,
        platform text NOT NULL,
        checksum text NOT NULL,
        stack text NOT NULL,
        process_types text NOT NULL,
        slug_id text NOT NULL,
        app text NOT NULL,
        created_at text NOT NULL,
        PRIMARY KEY (workspace, platform, checksum, stack, process_types)
    );
    CREATE TABLE slugplan.releases (
        workspace text NOT NULL,
        platform text NOT NULL,
        release_id text NOT NULL,
        app text NOT NULL,
        version bigint NOT NULL,
        checksum text,
        created_at text NOT NULL,
        restores_version bigint,
        restores_created_at text,
        PRIMARY KEY (workspace, platform, release_id)
    );
    CREATE TABLE slugplan.promotions (
        seq bigserial UNIQUE,
        workspace text NOT NULL,
        platform text NOT NULL,
        promotion_id text NOT NULL,
        source_release_id text NOT NULL,
        target_app_ids text NOT NULL,
        created_at text NOT NULL,
        PRIMARY KEY (workspace, platform, promotion_id)
    );
    CREATE INDEX promotions_by_source
        ON slugplan.promotions (workspace, platform, source_release_id);
    CREATE TABLE slugplan.slug_keys (
        workspace text NOT NULL,
        slug text NOT NULL,
        key text NOT NULL,
        parts text NOT NULL,
        recorded_at text NOT NULL,
        PRIMARY KEY (workspace, slug)
    );
    CREATE TABLE slugplan.value_keys (
        workspace text PRIMARY KEY,
        key text NOT NULL,
        created_at text NOT NULL
    );
    CREATE TABLE slugplan.config_keys (
        workspace text NOT NULL,
        platform text NOT NULL,
        app text NOT NULL,
        key text NOT NULL,
        sensitive boolean NOT NULL,
        digest text,
        removed boolean NOT NULL DEFAULT false,
        updated_at text NOT NULL,
        PRIMARY KEY (workspace, platform, app, key)
    );
    CREATE TABLE slugplan.applies (
        workspace text NOT NULL,
        id bigint NOT NULL,
        started_at text NOT NULL,
        finished_at text,
        command text NOT NULL,
        platform text NOT NULL,
        manifest_sha256 text NOT NULL,
        outcome text,
        PRIMARY KEY (workspace, id)
    );
    CREATE TABLE slugplan.events (
        id bigserial PRIMARY KEY,
        workspace text NOT NULL,
        apply_id bigint NOT NULL,
        at text NOT NULL,
        address text NOT NULL,
        action text NOT NULL,
        outcome text NOT NULL,
        detail text NOT NULL,
        FOREIGN KEY (workspace, apply_id) REFERENCES slugplan.applies (workspace, id)
    );
    CREATE INDEX events_by_apply ON slugplan.events (workspace, apply_id, id);
    CREATE TABLE slugplan.lock_holders (
        workspace text PRIMARY KEY,
        backend_pid integer NOT NULL,
        pid bigint NOT NULL,
        host text NOT NULL,
        command text NOT NULL,
        started_at text NOT NULL,
        ci_job text
    );",
    // 2: the releases slugplan asked for and has not recorded yet, written before the request
    // is sent, so a release the platform made just before slugplan died is still its own.
    "CREATE TABLE slugplan.started_releases (
        workspace text NOT NULL,
        platform text NOT NULL,
        app text NOT NULL,
        slug_id text NOT NULL,
        description text NOT NULL,
        created_at text NOT NULL,
        PRIMARY KEY (workspace, platform, app, slug_id, description)
    );",
];

/// The schema version of an up-to-date database.
pub(super) fn version() -> usize {
    MIGRATIONS.len()
}

/// Brings the database up to [`version`], or refuses it when it is newer; returns the version
/// it has now.
pub(super) async fn migrate(client: &mut Client, url: &DatabaseUrl) -> Result<usize, StateError> {
    let found = current(client, url).await?;
    check(found, url)?;
    if found == version() {
        return Ok(found);
    }
    let fail = |doing| pg_err(url, doing);
    let tx = client
        .transaction()
        .await
        .map_err(fail("begin the schema migration"))?;
    tx.query_typed(
        "SELECT pg_advisory_xact_lock($1)",
        &[(&advisory_key("schema migration"), Type::INT8)],
    )
    .await
    .map_err(fail("lock the schema to migrate it"))?;
    tx.batch_execute(
        "CREATE SCHEMA IF NOT EXISTS slugplan;
         CREATE TABLE IF NOT EXISTS slugplan.schema_migrations (
             version integer PRIMARY KEY,
             applied_at text NOT NULL,
             by_slugplan text NOT NULL
         );",
    )
    .await
    .map_err(fail("create the slugplan schema"))?;
    // Another runner may have migrated since the first read.
    let applied = current(&tx, url).await?;
    check(applied, url)?;
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.batch_execute(migration)
            .await
            .map_err(fail("apply a schema migration"))?;
        let number = i32::try_from(index + 1).expect("fewer than 2^31 migrations");
        tx.execute_typed(
            "INSERT INTO slugplan.schema_migrations VALUES ($1, $2, $3)",
            &[
                (&number, Type::INT4),
                (&now(), Type::TEXT),
                (&env!("CARGO_PKG_VERSION"), Type::TEXT),
            ],
        )
        .await
        .map_err(fail("record the schema version"))?;
    }
    tx.commit()
        .await
        .map_err(fail("commit the schema migration"))?;
    Ok(version())
}

/// The version, 0 when the schema or its version table does not exist yet.
pub(super) async fn current(
    client: &impl GenericClient,
    url: &DatabaseUrl,
) -> Result<usize, StateError> {
    match client
        .query_typed_one(
            "SELECT COALESCE(MAX(version), 0)::bigint FROM slugplan.schema_migrations",
            &[],
        )
        .await
    {
        Ok(row) => Ok(usize::try_from(row.get::<_, i64>(0)).unwrap_or(usize::MAX)),
        Err(err)
            if err.code() == Some(&SqlState::UNDEFINED_TABLE)
                || err.code() == Some(&SqlState::INVALID_SCHEMA_NAME) =>
        {
            Ok(0)
        }
        Err(err) => Err(pg_err(url, "read the schema version")(err)),
    }
}

fn check(found: usize, url: &DatabaseUrl) -> Result<(), StateError> {
    if found > version() {
        return Err(StateError::NewerSchema {
            url: url.to_string(),
            found,
            known: version(),
        });
    }
    Ok(())
}
