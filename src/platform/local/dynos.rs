//! Dynos on the local platform, as its database records them: what the supervisor runs (it
//! writes each dyno's state as it changes), what clients ask of it (restarts, stops, one-off
//! dynos), and who the supervisor is.
//!
//! The supervisor ([`crate::dynos`], in `slugplan server` or `slugplan up`) is one process per
//! data directory, holding [`SupervisorLock`] on `supervisor.lock`; any process can ask
//! [`running_supervisor`] whether one runs. The database is how every other process learns
//! what runs and asks for changes, so `slugplan ps` or `slugplan apply` in another terminal read
//! the same states, and `heroku ps:restart` is a request row the supervisor takes.
//!
//! What an app runs is derived, not only recorded: [`Store::dynos`] lists a dyno for each of the
//! formation's counts of the current release (`web.1`, `web.2`), with its recorded state, or
//! `starting` when the supervisor has not reported on it yet, or `down` when no supervisor runs
//! (records left by one that was killed are ignored: its dynos died with it). Dynos of an
//! earlier release that still serve while the current one boots are listed after them, marked.
//! A formation dyno's id is derived from its app, release and name, so it is the same whether
//! recorded yet or not.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use super::apps::app_in;
use super::config::config_in;
use super::formation::canonical_size;
use super::store::{Store, invalid, not_found, now};
use crate::dyno;
use crate::platform::{Dyno, DynoState, PlatformError};

/// The supervisor's lock file, in the data directory.
pub const SUPERVISOR_LOCK: &str = "supervisor.lock";

/// The process type of one-off dynos.
pub const ONE_OFF_TYPE: &str = "run";

/// Who runs the local platform's dynos: written into the lock file by its holder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SupervisorInfo {
    /// Its process id.
    pub pid: u32,
    /// What it is: `slugplan server`, `slugplan up`.
    pub command: String,
    /// When it started (RFC 3339).
    pub started_at: String,
}

impl std::fmt::Display for SupervisorInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` (pid {}, since {})",
            self.command, self.pid, self.started_at
        )
    }
}

/// The supervisor's hold on a data directory: one supervisor per directory, released by the
/// kernel when its process dies, however it dies.
#[derive(Debug)]
pub struct SupervisorLock {
    _file: File,
}

impl SupervisorLock {
    /// Takes the lock of the data directory `dir` for `holder`; fails naming the supervisor
    /// that holds it.
    pub fn acquire(dir: &Path, holder: &SupervisorInfo) -> Result<SupervisorLock, PlatformError> {
        let path = dir.join(SUPERVISOR_LOCK);
        let io = |e| super::blobs::io_error(&path, e);
        fs_err::create_dir_all(dir).map_err(|e| super::blobs::io_error(dir, e))?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        // A reader asking whether a supervisor runs holds a shared lock for an instant: wait
        // that out before deciding another supervisor has it.
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(TryLockError::WouldBlock) => {
                    let other = read_holder(&path);
                    return Err(PlatformError::Conflict {
                        message: format!(
                            "the local platform in {} already runs its dynos in {other}: stop it first, \
                             or use that one",
                            dir.display()
                        ),
                        request_id: None,
                    });
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        let json = serde_json::to_string(holder).expect("the holder serialises");
        file.set_len(0).map_err(io)?;
        file.write_all(json.as_bytes()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(SupervisorLock { _file: file })
    }
}

/// The supervisor that runs the dynos of the data directory `dir`, if one does.
pub fn running_supervisor(dir: &Path) -> Option<SupervisorInfo> {
    let path = dir.join(SUPERVISOR_LOCK);
    let file = File::open(&path).ok()?;
    match file.try_lock_shared() {
        // Nobody holds it; dropping the file releases the shared lock at once.
        Ok(()) => None,
        Err(TryLockError::WouldBlock) => Some(read_holder(&path)),
        Err(TryLockError::Error(_)) => None,
    }
}

fn read_holder(path: &Path) -> SupervisorInfo {
    let mut text = String::new();
    let _ = File::open(path).and_then(|mut f| f.read_to_string(&mut text));
    serde_json::from_str(&text).unwrap_or_default()
}

/// A dyno as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynoRecord {
    /// UUID.
    pub id: String,
    /// The app's UUID.
    pub app_id: String,
    /// The app's name.
    pub app_name: String,
    /// `web.1`, `run.1234`.
    pub name: String,
    /// The process type (`run` for one-off dynos).
    pub process_type: String,
    /// The command.
    pub command: String,
    /// The size, in Heroku's spelling.
    pub size: String,
    /// The state.
    pub state: DynoState,
    /// Why it is in that state, when the supervisor said.
    pub detail: Option<String>,
    /// The port its process listens on (`PORT`), once started.
    pub port: Option<u16>,
    /// The release it runs.
    pub release_id: String,
    /// That release's version.
    pub release_version: u64,
    /// Whether it runs an earlier release than the app's current one (serving until the
    /// current one is up).
    pub previous_release: bool,
    /// Whether it is a one-off dyno.
    pub one_off: bool,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time its state last changed.
    pub updated_at: String,
}

impl From<DynoRecord> for Dyno {
    fn from(r: DynoRecord) -> Dyno {
        Dyno {
            name: r.name,
            process_type: r.process_type,
            state: r.state,
            command: r.command,
            size: r.size,
            release_version: Some(r.release_version),
            previous_release: r.previous_release,
            updated_at: r.updated_at,
            port: r.port,
            detail: r.detail,
        }
    }
}

/// What the supervisor reports of one dyno.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynoReport {
    /// Its id: [`formation_dyno_id`] for a formation dyno, the request's for a one-off.
    pub id: String,
    /// The app's UUID.
    pub app_id: String,
    /// Its name.
    pub name: String,
    /// Its process type.
    pub process_type: String,
    /// The release it runs.
    pub release_id: String,
    /// Its command.
    pub command: String,
    /// Its size.
    pub size: String,
    /// Its state now.
    pub state: DynoState,
    /// Why, if there is more to say.
    pub detail: Option<String>,
    /// Its port, once it has one.
    pub port: Option<u16>,
    /// Whether it is a one-off dyno.
    pub one_off: bool,
}

/// What a client asks the supervisor to do to dynos.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DynoAction {
    /// Stop them and start them again.
    Restart,
    /// Stop them: a one-off dyno ends; a formation dyno is started again, as on Heroku.
    Stop,
}

impl DynoAction {
    fn as_str(self) -> &'static str {
        match self {
            DynoAction::Restart => "restart",
            DynoAction::Stop => "stop",
        }
    }
}

/// Which dynos a request is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DynoTarget {
    /// All of the app's.
    All,
    /// Those of a process type.
    Type(String),
    /// One, by name or id.
    Dyno(String),
}

/// A request for the supervisor, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynoRequest {
    /// The app's UUID.
    pub app_id: String,
    /// What to do.
    pub action: DynoAction,
    /// To which dynos: None for all, else a process type or a dyno name.
    pub target: Option<String>,
}

/// What a one-off dyno is created with (`POST /apps/{app}/dynos`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OneOffParams {
    /// The command.
    pub command: String,
    /// Variables added to the release's config vars.
    pub env: BTreeMap<String, String>,
    /// The size; the default size when None.
    pub size: Option<String>,
    /// Seconds it may run before it is stopped.
    pub time_to_live: Option<u64>,
}

/// A one-off dyno asked for and not started yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneOff {
    /// The dyno's id.
    pub id: String,
    /// The app's UUID.
    pub app_id: String,
    /// `run.1234`.
    pub name: String,
    /// The release it runs.
    pub release_id: String,
    /// What it was asked with.
    pub params: OneOffParams,
}

/// What an app should run now, as the supervisor reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPlan {
    /// The app's UUID.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its current release, if it has one with a slug.
    pub release: Option<ReleasePlan>,
    /// Its formation: process type → (quantity, size), the current release's types.
    pub formation: BTreeMap<String, (u32, String)>,
}

/// A release the supervisor runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleasePlan {
    /// UUID.
    pub id: String,
    /// Version.
    pub version: u64,
    /// The hex SHA-256 of its slug's archive, once uploaded.
    pub blob_sha256: Option<String>,
    /// Its slug's process types: name → command.
    pub process_types: BTreeMap<String, String>,
    /// The config vars it runs with.
    pub config: BTreeMap<String, String>,
}

/// The id of formation dyno `name` of `release_id` on `app_id`: a UUID derived from them.
pub fn formation_dyno_id(app_id: &str, release_id: &str, name: &str) -> String {
    super::derived_id("dyno", &format!("{app_id}:{release_id}:{name}"))
}

/// The columns [`dyno_from_row`] reads, in order.
const DYNO_COLUMNS: &str = "d.id, d.app_id, a.name, d.name, d.type, d.command, d.size, d.state, \
    d.detail, d.port, d.release_id, COALESCE(r.version, 0), d.one_off, d.created_at, d.updated_at";

impl Store {
    /// A counter that changes whenever another connection (another process, or another store
    /// on this directory) commits: cheap to poll (`PRAGMA data_version`).
    pub fn data_version(&self) -> Result<i64, PlatformError> {
        self.conn()
            .pragma_query_value(None, "data_version", |row| row.get(0))
            .map_err(self.err("cannot read the data version"))
    }

    /// `app`'s dynos: its formation's, each with its recorded state (see the module docs),
    /// its one-off dynos, then dynos of an earlier release still serving.
    pub fn dynos(&self, app: &str) -> Result<Vec<DynoRecord>, PlatformError> {
        let app = self.app(app)?;
        let supervisor = running_supervisor(self.dir());
        let conn = self.conn();
        let current: Option<(String, u64, String)> = conn
            .query_row(
                "SELECT id, version, created_at FROM releases WHERE app_id = ?1 AND current = 1",
                [&app.id],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()
            .map_err(self.err("cannot read the current release"))?;
        let recorded = if supervisor.is_some() {
            recorded_in(&conn, &app.id, self)?
        } else {
            Vec::new()
        };
        drop(conn);
        let mut dynos = Vec::new();
        if let Some((release_id, version, released_at)) = &current {
            for formation in self.formation(&app.name)? {
                for n in 1..=formation.quantity {
                    let name = format!("{}.{n}", formation.process_type);
                    let id = formation_dyno_id(&app.id, release_id, &name);
                    let record = recorded.iter().find(|r| r.id == id).cloned();
                    dynos.push(record.unwrap_or_else(|| DynoRecord {
                        id,
                        app_id: app.id.clone(),
                        app_name: app.name.clone(),
                        name,
                        process_type: formation.process_type.clone(),
                        command: formation.command.clone(),
                        size: formation.size.clone(),
                        state: if supervisor.is_some() {
                            DynoState::Starting
                        } else {
                            DynoState::Down
                        },
                        detail: None,
                        port: None,
                        release_id: release_id.clone(),
                        release_version: *version,
                        previous_release: false,
                        one_off: false,
                        created_at: released_at.clone(),
                        updated_at: released_at.clone(),
                    }));
                }
            }
        }
        let current_id = current.as_ref().map(|(id, _, _)| id.as_str());
        dynos.extend(recorded.iter().filter(|r| r.one_off).cloned());
        dynos.extend(
            recorded
                .iter()
                .filter(|r| !r.one_off && Some(r.release_id.as_str()) != current_id)
                .map(|r| DynoRecord {
                    previous_release: true,
                    ..r.clone()
                }),
        );
        dynos.sort_by(|a, b| {
            (a.previous_release, &a.process_type, ordinal(&a.name)).cmp(&(
                b.previous_release,
                &b.process_type,
                ordinal(&b.name),
            ))
        });
        Ok(dynos)
    }

    /// One of `app`'s dynos by name or id (a dyno of the current release or a one-off).
    pub fn dyno(&self, app: &str, dyno: &str) -> Result<DynoRecord, PlatformError> {
        self.dynos(app)?
            .into_iter()
            .find(|d| !d.previous_release && (d.name == dyno || d.id == dyno))
            .ok_or_else(|| not_found(format!("Couldn't find that dyno: {dyno}")))
    }

    /// Asks the supervisor to restart or stop `target` of `app`; a dyno or process type the
    /// app does not have is `not_found`.
    pub fn request_dynos(
        &self,
        app: &str,
        action: DynoAction,
        target: &DynoTarget,
    ) -> Result<(), PlatformError> {
        let record = self.app(app)?;
        let target = match target {
            DynoTarget::All => None,
            DynoTarget::Type(process_type) => {
                let known = self.formation(&record.name)?;
                if !known.iter().any(|f| f.process_type == *process_type)
                    && process_type != ONE_OFF_TYPE
                {
                    return Err(not_found(format!(
                        "Couldn't find that process type ({process_type})."
                    )));
                }
                Some(process_type.clone())
            }
            DynoTarget::Dyno(dyno) => Some(self.dyno(&record.name, dyno)?.name),
        };
        self.write(|tx| {
            tx.execute(
                "INSERT INTO dyno_requests (app_id, action, target, created_at) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![record.id, action.as_str(), target, now()],
            )
            .map_err(self.err("cannot record the request"))?;
            Ok(())
        })
    }

    /// Asks the supervisor for a one-off dyno running `params.command` with `app`'s current
    /// release; answers it, `starting`.
    pub fn create_one_off(
        &self,
        app: &str,
        params: &OneOffParams,
    ) -> Result<DynoRecord, PlatformError> {
        if params.command.trim().is_empty() {
            return Err(invalid("command must not be empty".to_owned()));
        }
        if let Some(bad) = params
            .env
            .keys()
            .find(|k| k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        {
            return Err(invalid(format!("env name {bad:?} must match ^\\w+$")));
        }
        let env = serde_json::to_string(&params.env).expect("a string map serialises");
        let id = uuid::Uuid::new_v4().to_string();
        self.write(|tx| {
            let app = app_in(tx, app, self)?;
            let size = match &params.size {
                None => dyno::DEFAULT_SIZE.to_owned(),
                Some(size) => canonical_size(app.generation, size)?,
            };
            let release: Option<String> = tx
                .query_row(
                    "SELECT id FROM releases WHERE app_id = ?1 AND current = 1 \
                     AND slug_id IS NOT NULL",
                    [&app.id],
                    |row| row.get(0),
                )
                .optional()
                .map_err(self.err("cannot read the current release"))?;
            let release = release.ok_or_else(|| {
                invalid(format!(
                    "{} has no release with a slug to run a one-off dyno from: deploy it first",
                    app.name
                ))
            })?;
            let name = free_one_off_name(tx, &app.id, self)?;
            let now = now();
            tx.execute(
                "INSERT INTO dynos (id, app_id, name, type, release_id, command, size, state, \
                 env, time_to_live, one_off, launched, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'starting', ?8, ?9, 1, 0, ?10, ?10)",
                params![
                    id,
                    app.id,
                    name,
                    ONE_OFF_TYPE,
                    release,
                    params.command,
                    size,
                    env,
                    params.time_to_live,
                    now
                ],
            )
            .map_err(self.err("cannot record the one-off dyno"))?;
            Ok(())
        })?;
        let conn = self.conn();
        conn.query_row(
            &format!(
                "SELECT {DYNO_COLUMNS} FROM dynos d JOIN apps a ON a.id = d.app_id \
                 LEFT JOIN releases r ON r.id = d.release_id WHERE d.id = ?1"
            ),
            [&id],
            dyno_from_row,
        )
        .map_err(self.err("cannot read the one-off dyno"))
    }

    /// What every app should run now: its current release and formation.
    pub fn plans(&self) -> Result<Vec<AppPlan>, PlatformError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT a.id, a.name, r.id, r.version, s.blob_sha256, s.process_types, r.config \
                 FROM apps a LEFT JOIN releases r ON r.app_id = a.id AND r.current = 1 \
                 LEFT JOIN slugs s ON s.id = r.slug_id ORDER BY a.name",
            )
            .map_err(self.err("cannot read what the apps run"))?;
        type Row7 = (
            String,
            String,
            Option<String>,
            Option<u64>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row7> = stmt
            .query_map([], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                    row.get(6)?,
                ))
            })
            .and_then(|rows| rows.collect())
            .map_err(self.err("cannot read what the apps run"))?;
        drop(stmt);
        let mut plans = Vec::new();
        for (id, name, release_id, version, blob, types, config) in rows {
            let release = match (release_id, version, types) {
                (Some(release_id), Some(version), Some(types)) => {
                    let process_types: BTreeMap<String, String> = serde_json::from_str(&types)
                        .map_err(|e| malformed(&release_id, "process types", e))?;
                    let config = match config {
                        Some(json) => serde_json::from_str(&json)
                            .map_err(|e| malformed(&release_id, "config", e))?,
                        None => config_in(&conn, &id, self)?,
                    };
                    Some(ReleasePlan {
                        id: release_id,
                        version,
                        blob_sha256: blob,
                        process_types,
                        config,
                    })
                }
                _ => None,
            };
            let formation = match &release {
                Some(release) => formation_counts(&conn, &id, self)?
                    .into_iter()
                    .filter(|(t, _)| release.process_types.contains_key(t))
                    .collect(),
                None => BTreeMap::new(),
            };
            plans.push(AppPlan {
                id,
                name,
                release,
                formation,
            });
        }
        Ok(plans)
    }

    /// The requests made since the last call, oldest first (each is taken once).
    pub fn take_dyno_requests(&self) -> Result<Vec<DynoRequest>, PlatformError> {
        self.write(|tx| {
            let mut stmt = tx
                .prepare("SELECT app_id, action, target FROM dyno_requests ORDER BY id")
                .map_err(self.err("cannot read dyno requests"))?;
            let requests = stmt
                .query_map([], |row| {
                    let action: String = row.get(1)?;
                    Ok(DynoRequest {
                        app_id: row.get(0)?,
                        action: if action == "stop" {
                            DynoAction::Stop
                        } else {
                            DynoAction::Restart
                        },
                        target: row.get(2)?,
                    })
                })
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(self.err("cannot read dyno requests"))?;
            drop(stmt);
            tx.execute("DELETE FROM dyno_requests", [])
                .map_err(self.err("cannot take dyno requests"))?;
            Ok(requests)
        })
    }

    /// The one-off dynos asked for and not started yet; each is handed out once.
    pub fn take_one_offs(&self) -> Result<Vec<OneOff>, PlatformError> {
        self.write(|tx| {
            let mut stmt = tx
                .prepare(
                    "SELECT id, app_id, name, release_id, command, env, size, time_to_live \
                     FROM dynos WHERE launched = 0 ORDER BY created_at, name",
                )
                .map_err(self.err("cannot read one-off dynos"))?;
            let rows = stmt
                .query_map([], |row| {
                    let env: Option<String> = row.get(5)?;
                    Ok(OneOff {
                        id: row.get(0)?,
                        app_id: row.get(1)?,
                        name: row.get(2)?,
                        release_id: row.get(3)?,
                        params: OneOffParams {
                            command: row.get(4)?,
                            env: env
                                .and_then(|json| serde_json::from_str(&json).ok())
                                .unwrap_or_default(),
                            size: row.get(6)?,
                            time_to_live: row.get(7)?,
                        },
                    })
                })
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(self.err("cannot read one-off dynos"))?;
            drop(stmt);
            tx.execute("UPDATE dynos SET launched = 1 WHERE launched = 0", [])
                .map_err(self.err("cannot mark one-off dynos started"))?;
            Ok(rows)
        })
    }

    /// Records a dyno's state; a dyno of an app deleted meanwhile is not recorded.
    pub fn record_dyno(&self, report: &DynoReport) -> Result<(), PlatformError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO dynos (id, app_id, name, type, release_id, command, size, state, \
                 detail, port, one_off, created_at, updated_at) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12 \
                 WHERE EXISTS (SELECT 1 FROM apps WHERE id = ?2) \
                 ON CONFLICT (id) DO UPDATE SET state = excluded.state, \
                 detail = excluded.detail, port = excluded.port, \
                 updated_at = CASE WHEN dynos.state = excluded.state THEN dynos.updated_at \
                 ELSE excluded.updated_at END",
                params![
                    report.id,
                    report.app_id,
                    report.name,
                    report.process_type,
                    report.release_id,
                    report.command,
                    report.size,
                    report.state.as_str(),
                    report.detail,
                    report.port,
                    report.one_off,
                    now()
                ],
            )
            .map_err(self.err("cannot record the dyno"))?;
            Ok(())
        })
    }

    /// Forgets a dyno that no longer runs.
    pub fn forget_dyno(&self, id: &str) -> Result<(), PlatformError> {
        self.write(|tx| {
            tx.execute("DELETE FROM dynos WHERE id = ?1", [id])
                .map_err(self.err("cannot forget the dyno"))?;
            Ok(())
        })
    }

    /// Forgets every dyno and request: a supervisor starting or stopping (nothing it did not
    /// start runs, so no record of another's is true).
    pub fn forget_all_dynos(&self) -> Result<(), PlatformError> {
        self.write(|tx| {
            tx.execute("DELETE FROM dynos", [])
                .map_err(self.err("cannot forget the dynos"))?;
            tx.execute("DELETE FROM dyno_requests", [])
                .map_err(self.err("cannot forget the dyno requests"))?;
            Ok(())
        })
    }
}

/// The dynos recorded for `app_id`.
fn recorded_in(
    conn: &Connection,
    app_id: &str,
    store: &Store,
) -> Result<Vec<DynoRecord>, PlatformError> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {DYNO_COLUMNS} FROM dynos d JOIN apps a ON a.id = d.app_id \
             LEFT JOIN releases r ON r.id = d.release_id WHERE d.app_id = ?1"
        ))
        .map_err(store.err("cannot read dynos"))?;
    stmt.query_map([app_id], dyno_from_row)
        .and_then(|rows| rows.collect())
        .map_err(store.err("cannot read dynos"))
}

fn dyno_from_row(row: &Row<'_>) -> rusqlite::Result<DynoRecord> {
    let state: String = row.get(7)?;
    Ok(DynoRecord {
        id: row.get(0)?,
        app_id: row.get(1)?,
        app_name: row.get(2)?,
        name: row.get(3)?,
        process_type: row.get(4)?,
        command: row.get(5)?,
        size: row.get(6)?,
        state: DynoState::parse(&state).unwrap_or(DynoState::Down),
        detail: row.get(8)?,
        port: row.get(9)?,
        release_id: row.get(10)?,
        release_version: row.get(11)?,
        previous_release: false,
        one_off: row.get(12)?,
        created_at: row.get(13)?,
        updated_at: row.get(14)?,
    })
}

/// Each process type's (quantity, size) in `app_id`'s formation.
fn formation_counts(
    conn: &Connection,
    app_id: &str,
    store: &Store,
) -> Result<BTreeMap<String, (u32, String)>, PlatformError> {
    let mut stmt = conn
        .prepare("SELECT type, quantity, size FROM formation WHERE app_id = ?1")
        .map_err(store.err("cannot read the formation"))?;
    stmt.query_map([app_id], |row| {
        Ok((row.get(0)?, (row.get(1)?, row.get(2)?)))
    })
    .and_then(|rows| rows.collect())
    .map_err(store.err("cannot read the formation"))
}

/// A one-off dyno name `run.N` no dyno of `app_id` has, N of four digits as on Heroku.
fn free_one_off_name(
    conn: &Connection,
    app_id: &str,
    store: &Store,
) -> Result<String, PlatformError> {
    loop {
        let name = format!("{ONE_OFF_TYPE}.{}", rand::random_range(1000..10_000));
        let taken: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM dynos WHERE app_id = ?1 AND name = ?2)",
                params![app_id, name],
                |row| row.get(0),
            )
            .map_err(store.err("cannot read dynos"))?;
        if !taken {
            return Ok(name);
        }
    }
}

/// The number after a dyno name's dot, for ordering `web.2` before `web.10`.
fn ordinal(name: &str) -> u64 {
    name.rsplit_once('.')
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(0)
}

fn malformed(release_id: &str, what: &str, e: serde_json::Error) -> PlatformError {
    PlatformError::Storage {
        message: format!("release {release_id} has malformed {what}"),
        source: Some(Box::new(e)),
    }
}

/// Where the supervisor unpacks releases, inside the data directory `dir`.
pub fn releases_dir(dir: &Path) -> PathBuf {
    dir.join("dynos")
}
