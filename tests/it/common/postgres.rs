//! A real PostgreSQL for the tests (and the performance suite, which includes this file): a
//! throwaway cluster in a temp dir (`initdb`, then the
//! `postgres` server on a free port of 127.0.0.1), run as an unprivileged user (`nobody` when
//! the tests run as root, which PostgreSQL refuses to be), stopped with `pg_ctl` when dropped,
//! and in any case when the test process ends: the server is started under
//! `setpriv --pdeathsig`, from a thread that lives as long as the process, so it gets SIGTERM
//! (a fast shutdown) however the process ends, a panic or a `kill -9` included.
//!
//! [`PgCluster::shared`] is the one cluster a test run shares (each test takes a database of its
//! own with [`PgCluster::database`]); a test that stops and restarts its server, or needs TLS,
//! starts a cluster of its own. The binaries are looked up on `PATH`, then in
//! `pg_config --bindir`, then in Debian's `/usr/lib/postgresql/<version>/bin`; when they are
//! not there the tests fail, saying to run `tests/setup.sh` (which installs them): they never
//! skip.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex, mpsc};
use std::time::{Duration, Instant};

/// The superuser's password: a marker no output may contain, with characters a URL must
/// percent-encode.
pub const PASSWORD: &str = "Pw-Marker-7f3a:p@ss/w";
/// [`PASSWORD`] as a URL spells it.
pub const PASSWORD_IN_URL: &str = "Pw-Marker-7f3a%3Ap%40ss%2Fw";
/// A part of the password no output may contain in any spelling.
pub const PASSWORD_MARKER: &str = "Pw-Marker-7f3a";

/// A running PostgreSQL cluster.
pub struct PgCluster {
    root: tempfile::TempDir,
    data: PathBuf,
    bin: PathBuf,
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    server: Mutex<Option<Child>>,
    /// The CA that signed the server's certificate, for a cluster with TLS.
    pub ca: Option<PathBuf>,
}

static SHARED: LazyLock<PgCluster> = LazyLock::new(|| PgCluster::start(false));
static DATABASES: AtomicUsize = AtomicUsize::new(0);

impl PgCluster {
    /// The cluster this test run shares, started on first use.
    pub fn shared() -> &'static PgCluster {
        &SHARED
    }

    /// A cluster of its own; with `tls`, it accepts only TLS connections, with a certificate
    /// for 127.0.0.1 signed by [`PgCluster::ca`].
    pub fn start(tls: bool) -> PgCluster {
        static SWEPT: std::sync::Once = std::sync::Once::new();
        SWEPT.call_once(sweep_stale_clusters);
        let bin = bin_dir();
        let root = tempfile::Builder::new()
            .prefix(CLUSTER_PREFIX)
            .tempdir()
            .expect("temp dir");
        let data = root.path().join("data");
        let user = ServerUser::get();
        user.own(root.path(), 0o755);
        let pwfile = root.path().join("password");
        std::fs::write(&pwfile, PASSWORD).unwrap();
        user.own(&pwfile, 0o600);
        let initdb = user
            .command(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ])
            .args([
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
                "--no-instructions",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .expect("run initdb");
        check(&initdb, "initdb");
        let ca = tls.then(|| certificates(root.path(), &data, &user));
        let cluster = PgCluster {
            root,
            data,
            bin,
            port: 0,
            server: Mutex::new(None),
            ca,
        };
        cluster.run_server()
    }

    /// Starts the server on a free port (retrying when another process takes it first).
    fn run_server(mut self) -> PgCluster {
        for _ in 0..5 {
            self.port = free_port();
            self.spawn();
            if self.wait_ready() {
                return self;
            }
            self.stop();
        }
        panic!("PostgreSQL did not start:\n{}", self.log());
    }

    fn spawn(&self) {
        let user = ServerUser::get();
        let mut command = user.command(&self.bin.join("postgres"));
        command
            .arg("-D")
            .arg(&self.data)
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "unix_socket_directories="])
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=100"])
            .args(["-c", "log_statement=all", "-c", "log_line_prefix=[%d] "]);
        if self.ca.is_some() {
            command.args(["-c", "ssl=on"]);
        }
        let log = std::fs::File::create(self.root.path().join("server.log")).unwrap();
        user.own(&self.root.path().join("server.log"), 0o644);
        command
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        *self.server.lock().unwrap() = Some(spawn_tied_to_this_process(command));
    }

    fn wait_ready(&self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(child) = self.server.lock().unwrap().as_mut()
                && child.try_wait().unwrap().is_some()
            {
                return false;
            }
            if block_on(self.try_connect("postgres")).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// The server's log so far (every statement is logged).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("server.log")).unwrap_or_default()
    }

    /// How many statements the server has run in `database` so far (from its log: one per
    /// round trip of the extended protocol slugplan uses).
    pub fn statements(&self, database: &str) -> usize {
        let execute = format!("[{database}] LOG:  execute ");
        let statement = format!("[{database}] LOG:  statement: ");
        self.log()
            .lines()
            .filter(|line| line.contains(&execute) || line.contains(&statement))
            .count()
    }

    /// The URL of `database` with the superuser and its password, and `options` (`sslmode=…`).
    pub fn url(&self, database: &str, options: &str) -> String {
        let options = if options.is_empty() {
            String::new()
        } else {
            format!("?{options}")
        };
        format!(
            "postgres://postgres:{PASSWORD_IN_URL}@127.0.0.1:{}/{database}{options}",
            self.port
        )
    }

    /// A fresh, empty database; its name.
    pub fn database(&self) -> String {
        let name = format!(
            "t{}_{}",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::SeqCst)
        );
        self.execute("postgres", &format!("CREATE DATABASE {name}"));
        name
    }

    async fn try_connect(&self, database: &str) -> Result<tokio_postgres::Client, String> {
        let mut config = tokio_postgres::Config::new();
        config
            .host("127.0.0.1")
            .port(self.port)
            .user("postgres")
            .password(PASSWORD)
            .dbname(database)
            .application_name("slugplan tests")
            .connect_timeout(Duration::from_secs(5));
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        Ok(client)
    }

    /// Runs `sql` (statements separated by `;`) in `database` as the superuser, without TLS
    /// (a TLS cluster takes that in the `postgres` database only).
    pub fn execute(&self, database: &str, sql: &str) {
        block_on(async {
            let client = self.try_connect(database).await.expect("connect as admin");
            client
                .batch_execute(sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        });
    }

    /// The rows of `sql` in `database`, each column as text (NULL as `NULL`).
    pub fn query(&self, database: &str, sql: &str) -> Vec<Vec<String>> {
        block_on(async {
            let client = self.try_connect(database).await.expect("connect as admin");
            let messages = client
                .simple_query(sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            messages
                .into_iter()
                .filter_map(|message| match message {
                    tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                        (0..row.len())
                            .map(|i| row.get(i).unwrap_or("NULL").to_owned())
                            .collect(),
                    ),
                    _ => None,
                })
                .collect()
        })
    }

    /// Stops the server (`pg_ctl stop -m fast`: sessions are ended, as when a database is
    /// taken down for maintenance).
    pub fn stop(&self) {
        let pg_ctl = ServerUser::get()
            .command(&self.bin.join("pg_ctl"))
            .arg("stop")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "-t", "30"])
            .output()
            .expect("run pg_ctl");
        if let Some(mut child) = self.server.lock().unwrap().take() {
            if !pg_ctl.status.success() {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }

    /// Starts the stopped server again, on the same port.
    pub fn restart(&self) {
        self.spawn();
        assert!(
            self.wait_ready(),
            "PostgreSQL did not restart:\n{}",
            self.log()
        );
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.server.lock().map(|s| s.is_some()).unwrap_or(false) {
            self.stop();
        }
    }
}

/// The prefix of every cluster's temp dir.
const CLUSTER_PREFIX: &str = "slugplan-pg-";

/// Removes the clusters earlier test runs left behind. The shared cluster lives in a static,
/// which is never dropped, so each run leaves its data directory (about 170 MB) in the temp
/// dir; a cluster whose server no longer runs and that is older than any test is stale.
fn sweep_stale_clusters() {
    let stale_after = Duration::from_secs(15 * 60);
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let root = entry.path();
        let named = entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.starts_with(CLUSTER_PREFIX));
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|modified| modified.elapsed().is_ok_and(|age| age > stale_after));
        if named && old && !server_runs(&root.join("data")) {
            let _ = std::fs::remove_dir_all(&root);
        }
    }
}

/// Whether the server of the cluster in `data` runs: its `postmaster.pid` names a live process.
fn server_runs(data: &Path) -> bool {
    std::fs::read_to_string(data.join("postmaster.pid"))
        .ok()
        .and_then(|pid| pid.lines().next()?.trim().parse::<u32>().ok())
        .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
}

/// Who runs the server: this user, or `nobody` when this is root.
struct ServerUser {
    /// `(uid, gid)` of `nobody` when running as root.
    switch_to: Option<(u32, u32)>,
}

impl ServerUser {
    fn get() -> ServerUser {
        let root = std::fs::metadata("/proc/self")
            .map(|m| m.uid() == 0)
            .unwrap_or(false);
        let switch_to = root.then(|| {
            let id = |flag: &str| -> u32 {
                let out = Command::new("id")
                    .args([flag, "nobody"])
                    .output()
                    .expect("run id");
                String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .parse()
                    .expect("nobody's ids")
            };
            (id("-u"), id("-g"))
        });
        ServerUser { switch_to }
    }

    /// `program` run as this user, under `setpriv`, which also ties it to its parent thread.
    fn command(&self, program: &Path) -> Command {
        let mut command = Command::new("setpriv");
        if let Some((uid, gid)) = self.switch_to {
            command.args([
                format!("--reuid={uid}"),
                format!("--regid={gid}"),
                "--clear-groups".to_owned(),
            ]);
        }
        command.args(["--pdeathsig", "TERM"]).arg(program);
        command
    }

    /// Gives `path` to the server's user, with `mode`.
    fn own(&self, path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        if let Some((uid, gid)) = self.switch_to {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown");
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
}

/// Spawns `command` from a thread that never ends, so that `--pdeathsig` (which fires when
/// the thread that spawned the process ends) fires only when the whole test process does.
fn spawn_tied_to_this_process(command: Command) -> Child {
    type Request = (Command, mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: LazyLock<Mutex<mpsc::Sender<Request>>> = LazyLock::new(|| {
        let (send, receive) = mpsc::channel::<Request>();
        std::thread::spawn(move || {
            for (mut command, reply) in receive {
                let _ = reply.send(command.spawn());
            }
            // The sender lives in a static: this loop, and so this thread, never ends.
        });
        Mutex::new(send)
    });
    let (reply, answer) = mpsc::channel();
    SPAWNER
        .lock()
        .unwrap()
        .send((command, reply))
        .expect("the spawner thread runs");
    answer
        .recv()
        .expect("the spawner answers")
        .expect("spawn the PostgreSQL server (setpriv is in util-linux)")
}

/// Whether PostgreSQL's server binaries are installed (the benchmark skips its row without).
pub fn available() -> bool {
    find_bin_dir().is_some()
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

/// The directory holding `initdb`, `postgres` and `pg_ctl`.
fn bin_dir() -> PathBuf {
    static FOUND: LazyLock<Option<PathBuf>> = LazyLock::new(find_bin_dir);
    FOUND.clone().unwrap_or_else(|| {
        panic!(
            "PostgreSQL's initdb, postgres and pg_ctl were not found (PATH, `pg_config --bindir`, \
             /usr/lib/postgresql/*/bin): run tests/setup.sh, which installs Debian's postgresql"
        )
    })
}

fn find_bin_dir() -> Option<PathBuf> {
    let complete = |dir: &Path| {
        ["initdb", "postgres", "pg_ctl"]
            .iter()
            .all(|b| dir.join(b).is_file())
    };
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    let pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    debian.sort();
    on_path
        .into_iter()
        .chain(pg_config)
        .chain(debian.into_iter().rev().map(|(_, dir)| dir))
        .find(|dir| complete(dir))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn check(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes a CA and a certificate for 127.0.0.1 it signs (with `openssl`), installs the server's
/// in `data` with a `pg_hba.conf` that takes TLS connections only (but the tests' own, to the
/// `postgres` database), and returns the CA's path.
fn certificates(root: &Path, data: &Path, user: &ServerUser) -> PathBuf {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(root)
            .output()
            .expect("run openssl (tests/setup.sh installs it)");
        check(&out, &format!("openssl {args:?}"));
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &["-keyout", "ca.key", "-out", "ca.pem"],
        &["-days", "2", "-subj", "/CN=slugplan test CA"],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec,
        &["-keyout", "server.key", "-out", "server.csr"],
        &["-subj", "/CN=127.0.0.1"],
    ]
    .concat());
    std::fs::write(root.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
    for file in ["server.crt", "server.key"] {
        std::fs::copy(root.join(file), data.join(file)).unwrap();
        user.own(&data.join(file), 0o600);
    }
    std::fs::write(
        data.join("pg_hba.conf"),
        "local all all trust\n\
         host postgres postgres 127.0.0.1/32 scram-sha-256\n\
         hostssl all all 127.0.0.1/32 scram-sha-256\n",
    )
    .unwrap();
    root.join("ca.pem")
}
