//! The local platform's SQLite database: its schema (the migration list) and how it is opened.
//!
//! Opening and migrating are [`crate::sqlite`]'s: an append-only migration list under
//! `pragma user_version` applied in one exclusive transaction, so two processes opening a fresh
//! directory at once never apply a migration twice, and a database written by a newer slugplan is
//! refused, untouched, instead of misread. WAL and a busy timeout let a server and a CLI share
//! one data directory.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::platform::PlatformError;
use crate::sqlite::{Database, Schema};

/// The schema, one migration per entry. Never edit or reorder an entry once it has shipped:
/// append a new one, because `user_version` records how many have run.
const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE apps (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    stack TEXT NOT NULL,
    generation TEXT NOT NULL DEFAULT 'cedar',
    region TEXT NOT NULL DEFAULT 'us',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    released_at TEXT
);
CREATE TABLE slugs (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps(id),
    checksum TEXT,
    process_types TEXT NOT NULL,
    stack TEXT NOT NULL,
    commit_sha TEXT,
    commit_description TEXT,
    buildpack_description TEXT,
    blob_sha256 TEXT,
    size INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE releases (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps(id),
    version INTEGER NOT NULL,
    slug_id TEXT REFERENCES slugs(id),
    description TEXT NOT NULL,
    status TEXT NOT NULL,
    current INTEGER NOT NULL DEFAULT 0,
    ready_at INTEGER,
    settles_to TEXT NOT NULL DEFAULT 'succeeded',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (app_id, version)
);
CREATE UNIQUE INDEX releases_one_current ON releases (app_id) WHERE current = 1;
CREATE TABLE config_vars (
    app_id TEXT NOT NULL REFERENCES apps(id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (app_id, key)
);
CREATE TABLE pipelines (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE couplings (
    id TEXT PRIMARY KEY,
    pipeline_id TEXT NOT NULL REFERENCES pipelines(id),
    app_id TEXT NOT NULL UNIQUE REFERENCES apps(id),
    stage TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE promotions (
    id TEXT PRIMARY KEY,
    pipeline_id TEXT NOT NULL REFERENCES pipelines(id),
    source_app_id TEXT NOT NULL REFERENCES apps(id),
    source_release_id TEXT NOT NULL REFERENCES releases(id),
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE promotion_targets (
    id TEXT PRIMARY KEY,
    promotion_id TEXT NOT NULL REFERENCES promotions(id),
    position INTEGER NOT NULL,
    app_id TEXT NOT NULL REFERENCES apps(id),
    status TEXT NOT NULL,
    error_message TEXT,
    release_id TEXT REFERENCES releases(id)
);
CREATE TABLE blob_urls (
    token TEXT PRIMARY KEY,
    slug_id TEXT NOT NULL REFERENCES slugs(id),
    expires_at INTEGER NOT NULL
);
",
    // 2: `PATCH /apps/{app}`: the maintenance flag, and the stack the next release may move the
    // app to (`heroku stack:set`); NULL means the app's own stack.
    r"
ALTER TABLE apps ADD COLUMN maintenance INTEGER NOT NULL DEFAULT 0;
ALTER TABLE apps ADD COLUMN build_stack TEXT;
",
    // 3: config versioned per release, as on Heroku (a release's config as JSON; NULL for
    // releases made before), and each app's formation, the running release's process types
    // given theirs as a first release would have (dyno::initial_quantity, dyno::DEFAULT_SIZE).
    r"
ALTER TABLE releases ADD COLUMN config TEXT;
CREATE TABLE formation (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps(id),
    type TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    size TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (app_id, type)
);
INSERT INTO formation (id, app_id, type, quantity, size, created_at, updated_at)
SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' ||
             substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + abs(random()) % 4, 1) ||
             substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
       r.app_id, j.key, CASE WHEN j.key = 'web' THEN 1 ELSE 0 END, 'Basic',
       r.created_at, r.created_at
FROM releases r JOIN slugs s ON s.id = r.slug_id, json_each(s.process_types) j
WHERE r.current = 1;
",
    // 4: dynos, as the supervisor that runs them records them (`slugplan server`, `slugplan up`;
    // see platform/local/dynos.rs), one-off dynos asked for and not yet started (`launched` 0),
    // and the restarts and stops asked of the supervisor, oldest first.
    r"
CREATE TABLE dynos (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps(id),
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    release_id TEXT NOT NULL,
    command TEXT NOT NULL,
    size TEXT NOT NULL,
    state TEXT NOT NULL,
    detail TEXT,
    port INTEGER,
    env TEXT,
    time_to_live INTEGER,
    one_off INTEGER NOT NULL DEFAULT 0,
    launched INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (app_id, name, release_id)
);
CREATE TABLE dyno_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id TEXT NOT NULL REFERENCES apps(id),
    action TEXT NOT NULL,
    target TEXT,
    created_at TEXT NOT NULL
);
",
    // 5: each app's web port on 127.0.0.1, where the router answers for it (its `web_url`);
    // apps made before are given one when the store opens (web_port.rs).
    r"
ALTER TABLE apps ADD COLUMN web_port INTEGER;
CREATE UNIQUE INDEX apps_web_port ON apps (web_port) WHERE web_port IS NOT NULL;
",
];

/// How the local platform's database is opened: WAL with a busy timeout (a server and a CLI
/// share one data directory), foreign keys enforced, and `synchronous = NORMAL` (safe with WAL:
/// a power cut may lose the last commits, never corrupt the file).
pub(crate) const SCHEMA: Schema = Schema {
    name: "local platform",
    busy_timeout: Duration::from_secs(30),
    pragmas: &[("foreign_keys", "ON"), ("synchronous", "NORMAL")],
    migrations: MIGRATIONS,
};

/// Opens (creating if needed) the database at `path` and brings its schema up to date.
pub(crate) fn open(path: &Path) -> Result<Database, PlatformError> {
    Ok(Database::open(path, &SCHEMA).map_err(Box::new)?)
}

/// The database file at `path`, opened when it is first needed, and created only when it is
/// first written: until then reads see an empty platform (an in-memory database with the
/// schema). `slugplan plan` against a fresh directory so creates nothing; the first apply
/// that writes creates the directory and the file.
#[derive(Debug)]
pub(crate) struct LazyDatabase {
    path: PathBuf,
    file: OnceLock<Database>,
    empty: OnceLock<Database>,
    opening: Mutex<()>,
}

impl LazyDatabase {
    /// The database at `path`, opened now if the file exists (so a newer schema is refused at
    /// once), else when it is first written.
    pub(crate) fn new(path: PathBuf) -> Result<Self, PlatformError> {
        let lazy = LazyDatabase {
            path,
            file: OnceLock::new(),
            empty: OnceLock::new(),
            opening: Mutex::new(()),
        };
        if lazy.path.exists() {
            lazy.for_writing()?;
        }
        Ok(lazy)
    }

    /// The file, created now if it does not exist.
    pub(crate) fn for_writing(&self) -> Result<&Database, PlatformError> {
        if let Some(db) = self.file.get() {
            return Ok(db);
        }
        let _opening = crate::sync::lock(&self.opening);
        if let Some(db) = self.file.get() {
            return Ok(db);
        }
        if let Some(dir) = self.path.parent() {
            fs_err::create_dir_all(dir).map_err(|e| super::blobs::io_error(dir, e))?;
        }
        let db = open(&self.path)?;
        Ok(self.file.get_or_init(|| db))
    }

    /// The file once this store opened it, else the empty in-memory database. A file another
    /// process creates meanwhile is not switched to mid-command: this store reads the platform
    /// as it was when it was opened (empty) until it writes.
    pub(crate) fn for_reading(&self) -> &Database {
        if let Some(db) = self.file.get() {
            return db;
        }
        self.empty.get_or_init(|| {
            Database::open(Path::new(":memory:"), &SCHEMA)
                .expect("an in-memory database opens and migrates")
        })
    }

    /// The file's path (whether or not it exists yet).
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// A storage error naming the database file.
pub(crate) fn storage(
    path: &Path,
    what: &str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> PlatformError {
    PlatformError::Storage {
        message: format!("{what} ({})", path.display()),
        source: Some(Box::new(source)),
    }
}
