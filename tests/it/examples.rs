//! Integration tests: the apps under examples/, as a platform runs them. Each example is copied
//! as a fresh clone has it (without `.slugplan/` and `slug.lock`), locked and built by the
//! `slugplan` binary with the runtimes `examples/runtimes/prepare.sh` made (tests/setup.sh runs
//! it), unpacked by GNU tar, and its `web` process type run in `./app` with `$PORT` and nothing
//! of this machine's environment but `PATH`: it must answer. The Node slug must also be the one
//! whose checksum the README prints, from the archive the committed lock pins.
//!
//! An example whose runtime archive is not there (prepare.sh has not run, or could not reach
//! the npm registry and fell back to this machine's node) is skipped, saying so on stderr.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{TestContext, answer_on_port, expect_exit};

/// The repository's root.
const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// An example's slug, built and unpacked.
struct Unpacked {
    /// Keeps the directories alive.
    _ctx: TestContext,
    /// The unpacked `./app`.
    app: PathBuf,
    /// The `web` process type's command.
    web: String,
    /// The slug's checksum, `SHA256:…`.
    checksum: String,
    /// The `slug.lock` that `slugplan lock` wrote for the copy.
    lock: String,
}

/// The runtime archives `examples/<name>/slug.toml` names by `file:` URL that are not there.
fn missing_runtimes(name: &str) -> Vec<PathBuf> {
    let dir = Path::new(REPO).join("examples").join(name);
    let manifest: toml::Table = std::fs::read_to_string(dir.join("slug.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let runtimes = manifest.get("runtimes").and_then(|r| r.as_table());
    runtimes
        .into_iter()
        .flat_map(|table| table.values())
        .filter_map(|runtime| runtime.get("url")?.as_str()?.strip_prefix("file:"))
        .map(|rel| dir.join(rel))
        .filter(|archive| !archive.is_file())
        .collect()
}

/// Copies `from` into `to`, leaving out what a fresh clone does not have or a build writes.
fn copy_example(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == ".slugplan" || name == "slug.lock" {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_example(&entry.path(), &to.join(&name));
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

/// A copy of `examples/<name>` in a fresh context, as a fresh clone has it.
struct ExampleCopy {
    ctx: TestContext,
    /// The copy's `examples/<name>`.
    dir: PathBuf,
    /// This machine's Go build cache (the context's HOME is empty: the Go build would start
    /// from a cold one).
    go_cache: String,
}

impl ExampleCopy {
    /// The copy; `None` (said on stderr) when the example's runtimes are not prepared.
    fn new(name: &str) -> Option<ExampleCopy> {
        let missing = missing_runtimes(name);
        if !missing.is_empty() {
            // Straight to stderr, past the test harness's capture: a skip must show in the run.
            let _ = writeln!(
                std::io::stderr(),
                "skipping the {name} example: {missing:?} not there; run examples/runtimes/prepare.sh"
            );
            return None;
        }
        let ctx = TestContext::new();
        let examples = ctx.dir.join("examples");
        copy_example(
            &Path::new(REPO).join("examples").join(name),
            &examples.join(name),
        );
        // The runtimes are large: the copy names the prepared ones through a link.
        std::os::unix::fs::symlink(
            Path::new(REPO).join("examples/runtimes"),
            examples.join("runtimes"),
        )
        .unwrap();
        let go_cache = Command::new("go")
            .args(["env", "GOCACHE"])
            .output()
            .unwrap();
        let go_cache = String::from_utf8(go_cache.stdout)
            .unwrap()
            .trim()
            .to_owned();
        Some(ExampleCopy {
            ctx,
            dir: examples.join(name),
            go_cache,
        })
    }

    /// `slugplan ARGS` in the copy.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = self.ctx.command();
        command
            .current_dir(&self.dir)
            .env("GOCACHE", &self.go_cache)
            .args(args);
        command
    }

    /// Runs `slugplan ARGS` in the copy, asserts it exits 0, returns its stdout.
    fn run(&self, args: &[&str]) -> String {
        expect_exit(&self.command(args).output().unwrap(), args, 0)
    }
}

/// Locks, builds and unpacks `examples/<name>`; `None` (said on stderr) when its runtimes are
/// not prepared.
fn build_example(name: &str) -> Option<Unpacked> {
    let copy = ExampleCopy::new(name)?;
    let slugplan = |args: &[&str]| copy.run(args);
    slugplan(&["lock", "--quiet"]);
    let built: serde_json::Value =
        serde_json::from_str(&slugplan(&["build", "--json", "--quiet"])).unwrap();
    let slug = &built["slugs"][0];

    let unpacked = copy.ctx.temp.path().join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    let tar = Command::new("tar")
        .arg("-xzf")
        .arg(slug["path"].as_str().unwrap())
        .arg("-C")
        .arg(&unpacked)
        .output()
        .unwrap();
    assert!(tar.status.success(), "GNU tar: {tar:?}");
    let app = unpacked.join("app").canonicalize().unwrap();
    let lock = std::fs::read_to_string(copy.dir.join("slug.lock")).unwrap();
    Some(Unpacked {
        app,
        web: slug["process_types"]["web"].as_str().unwrap().to_owned(),
        checksum: slug["checksum"].as_str().unwrap().to_owned(),
        lock,
        _ctx: copy.ctx,
    })
}

/// A command run in the unpacked `./app` as a dyno would: only `PATH` of this machine's
/// environment, so no RUBYLIB or NODE_PATH from here can help it.
fn in_app(app: &Path, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new(program);
    command
        .current_dir(app)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin");
    command
}

/// Builds `examples/<name>`, checks its `web` process type is `web` and that, run as the
/// platform runs it (`sh -c` in `./app`), it answers `GET /` with `hello` (the seed's text for
/// that example). `None` when the example's runtimes are not prepared.
fn serve_example(name: &str, web: &str, hello: &str) -> Option<Unpacked> {
    let slug = build_example(name)?;
    assert_eq!(slug.web, web);
    let mut command = in_app(&slug.app, "sh");
    command.arg("-c").arg(format!("exec {web}"));
    let answer = answer_on_port(command);
    assert!(
        answer.starts_with("HTTP/1.") && answer.contains(" 200 ") && answer.ends_with(hello),
        "{name}: {answer}"
    );
    Some(slug)
}

/// The checksum the README's Examples section prints for the Node slug.
fn readme_node_checksum() -> String {
    let readme = std::fs::read_to_string(Path::new(REPO).join("README.md")).unwrap();
    readme
        .lines()
        .find_map(|line| line.trim_start().strip_prefix("node-example runs "))
        .expect("the README prints `node-example runs SHA256:…`")
        .to_owned()
}

#[test]
fn node_example_answers_and_is_the_slug_the_readme_prints() {
    let Some(slug) = serve_example("node", "node/bin/node web.js", "Hello World\n") else {
        return;
    };

    let committed = std::fs::read_to_string(Path::new(REPO).join("examples/node/slug.lock"))
        .expect("examples/node/slug.lock is committed");
    assert_eq!(
        slug.lock, committed,
        "the committed lock pins another archive than prepare.sh fetched"
    );
    assert_eq!(
        slug.checksum,
        readme_node_checksum(),
        "the Node slug changed: update the README's checksum (the demo prints the new one)"
    );
    // It answers its GREETING config var, as a release sets it.
    let mut command = in_app(&slug.app, "sh");
    command
        .arg("-c")
        .arg(format!("exec {}", slug.web))
        .env("GREETING", "Hello from the config");
    let answer = answer_on_port(command);
    assert!(answer.ends_with("Hello from the config\n"), "{answer}");
}

#[test]
fn ruby_example_answers_with_its_own_ruby_and_webrick() {
    let Some(slug) = serve_example("ruby", "ruby/bin/ruby server.rb", "Hello, world!\n") else {
        return;
    };

    // The slug's ruby loads webrick and libruby from the slug, not from this machine's ruby.
    let out = in_app(&slug.app, "ruby/bin/ruby")
        .args([
            "-rwebrick",
            "-e",
            r#"puts $LOADED_FEATURES.grep(%r{/webrick\.rb\z}).first
               puts File.readlines("/proc/self/maps").grep(/libruby/).first.split.last"#,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let paths: Vec<&str> = stdout.lines().collect();
    assert_eq!(paths.len(), 2, "{stdout}");
    for path in paths {
        assert!(
            Path::new(path).starts_with(&slug.app),
            "{path} is not in the slug"
        );
    }
}

#[test]
fn go_example_answers() {
    serve_example("go", "./bin/web", "hello, world\n")
        .expect("the Go example has no runtime archive to miss");
}

/// The body `GET /` on loopback `port` answers, if it answers 200.
fn get_on(port: u64) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", u16::try_from(port).ok()?)).ok()?;
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut stream, &mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.contains(" 200 ").then(|| body.to_owned())
}

/// The slugs the local platform unpacked for `copy`'s dynos share their runtime's (or Go
/// binary's) files with the build cache, hard links to its copies, and the app's own files are
/// their own: what keeps a new slug's first release quick (figure 6).
fn assert_runtime_linked_from_cache(copy: &ExampleCopy, name: &str) {
    use std::os::unix::fs::MetadataExt;
    let inodes = |root: &Path| -> Vec<(u64, u64, u64, PathBuf)> {
        walkdir::WalkDir::new(root)
            .into_iter()
            .map(Result::unwrap)
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                let meta = e.metadata().unwrap();
                (meta.dev(), meta.ino(), meta.len(), e.into_path())
            })
            .collect()
    };
    let cached: std::collections::HashSet<(u64, u64)> = inodes(&copy.ctx.cache)
        .into_iter()
        .map(|(dev, ino, ..)| (dev, ino))
        .collect();
    let unpacked = inodes(&copy.dir.join(".slugplan/platform/dynos"));
    let (linked, own): (Vec<_>, Vec<_>) = unpacked
        .iter()
        .partition(|(dev, ino, ..)| cached.contains(&(*dev, *ino)));
    let biggest = unpacked.iter().max_by_key(|(_, _, len, _)| *len).unwrap();
    assert!(
        cached.contains(&(biggest.0, biggest.1)),
        "{name}: the slug's biggest file, {}, is not linked from the cache",
        biggest.3.display()
    );
    // The app's code (`app/web.js`, `app/server.rb`; the Go source is not in its slug) is
    // not in the cache's immutable buckets: written, never linked.
    let is_code = |path: &Path| {
        path.parent().is_some_and(|dir| dir.ends_with("app"))
            && ["web.js", "server.rb"].iter().any(|c| path.ends_with(c))
    };
    assert!(
        !linked.iter().any(|(.., path)| is_code(path)),
        "{name}: the app's code was linked from the cache"
    );
    if name != "go" {
        assert!(
            own.iter().any(|(.., path)| is_code(path)),
            "{name}: the app's code is not among the {} files it has of its own",
            own.len()
        );
    }
    // `cache ls` says what the record of the slug's cache copies is.
    let listing = copy.run(&["cache", "ls"]);
    assert!(
        listing.contains(".sources  slug sources "),
        "{name}: {listing}"
    );
    if name == "node" {
        assert!(
            listing.contains(".sources  slug sources web for heroku-24"),
            "{listing}"
        );
        assert!(
            linked.len() > 2000,
            "{name}: only {} of the runtime's files are linked",
            linked.len()
        );
    }
}

#[test]
fn the_examples_run_as_dynos_of_the_local_platform() {
    for (name, hello) in [
        ("node", "Hello World\n"),
        ("ruby", "Hello, world!\n"),
        ("go", "hello, world\n"),
    ] {
        let Some(copy) = ExampleCopy::new(name) else {
            continue;
        };
        copy.run(&["lock", "--quiet"]);
        let mut up = copy
            .command(&["up", "--stop-timeout", "5"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        copy.run(&["apply", "--yes"]);
        // Every app the apply released runs its web dyno, which answers the seed's text.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let answers = loop {
            let ps: serde_json::Value = serde_json::from_str(&copy.run(&["ps", "--json"])).unwrap();
            let webs: Vec<&serde_json::Value> = ps["apps"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|app| app["dynos"].as_array().unwrap())
                .filter(|d| d["type"] == "web")
                .collect();
            let answers: Vec<Option<String>> = webs
                .iter()
                .map(|d| {
                    d["port"]
                        .as_u64()
                        .filter(|_| d["state"] == "up")
                        .and_then(get_on)
                })
                .collect();
            if !answers.is_empty() && answers.iter().all(Option::is_some) {
                break answers;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{name}: the web dynos did not all answer: {ps:#}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        for answer in answers {
            assert_eq!(answer.as_deref(), Some(hello), "{name}");
        }
        assert_runtime_linked_from_cache(&copy, name);
        let _ = up.kill();
        let _ = up.wait();
    }
}
