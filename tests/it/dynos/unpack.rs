//! Integration tests: how a release's slug is unpacked for its dynos. Unpacking runs off the
//! supervisor's loop, so other apps are supervised while a slug unpacks (the slug here is read
//! through a named pipe the test holds, so it unpacks exactly as slowly as the test wants); a
//! release whose slug cannot be unpacked is `crashed` with the reason, and the release before
//! it goes on serving.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{WEB_PY, answering_web_1, dynos, dynos_of, eventually, get, write_project};
use crate::common::TestContext;
use crate::common::project::{Project, TOKEN};
use crate::common::server::{Api, Server, block_on};

/// A slug (gzip'd GNU tar of `./app`) whose `./web` runs the test's web server; `marker`
/// makes its bytes (its checksum) its own, and `filler` random bytes its size.
fn web_slug(marker: &str, filler: u64) -> &'static [u8] {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    std::fs::create_dir(&app).unwrap();
    std::fs::write(app.join("web.py"), WEB_PY).unwrap();
    std::fs::write(app.join("marker"), marker).unwrap();
    let mut random = std::fs::File::open("/dev/urandom").unwrap().take(filler);
    let mut file = std::fs::File::create(app.join("filler")).unwrap();
    std::io::copy(&mut random, &mut file).unwrap();
    std::fs::write(app.join("web"), "#!/bin/sh\nexec python3 web.py\n").unwrap();
    crate::common::run_ok(Command::new("chmod").arg("+x").arg(app.join("web")));
    let archive = dir.path().join("slug.tgz");
    crate::common::run_ok(
        Command::new("tar")
            .arg("-czf")
            .arg(&archive)
            .arg("-C")
            .arg(dir.path())
            .arg("./app"),
    );
    Vec::leak(std::fs::read(&archive).unwrap())
}

/// The states of `app`'s dynos by name (sorted), as the server's API lists them.
fn states(api: &Api, app: &str) -> Vec<(String, String)> {
    let answer = block_on(api.get(&format!("/apps/{app}/dynos")));
    let mut states: Vec<(String, String)> = answer
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (text(&d["name"]), text(&d["state"])))
        .collect();
    states.sort();
    states
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

fn up(names: &[&str]) -> Vec<(String, String)> {
    names
        .iter()
        .map(|name| ((*name).to_owned(), "up".to_owned()))
        .collect()
}

/// Where the server on `data` keeps the archive `bytes`.
fn blob_path(data: &Path, bytes: &[u8]) -> std::path::PathBuf {
    data.join("blobs/sha256")
        .join(hex::encode(Sha256::digest(bytes)))
}

#[test]
fn other_apps_are_supervised_while_a_slug_unpacks() {
    let data = tempfile::tempdir().unwrap();
    let data = data.path().join("platform");
    let args = ["--token", TOKEN, "--stop-timeout", "5"];
    // More than a pipe holds (64 KiB), so writing it ends only once the extractor reads it.
    let (hello, slow) = (web_slug("hello", 0), web_slug("slow", 1 << 20));
    let server = Server::start_on(TestContext::new(), data.clone(), &args);
    let api = server.api().with_token(TOKEN);
    block_on(async {
        for (app, slug) in [("hello", hello), ("slow", slow)] {
            api.create("/apps", json!({ "name": app }), "app").await;
            api.release_by_hand(app, slug, None).await;
        }
    });
    drop(server);

    // The next supervisor reads `slow`'s archive through a pipe: its unpacking lasts until
    // the test writes the archive.
    let pipe = blob_path(&data, slow);
    std::fs::remove_file(&pipe).unwrap();
    crate::common::run_ok(Command::new("mkfifo").arg(&pipe));
    let server = Server::start_on(TestContext::new(), data.clone(), &args);
    let api = server.api().with_token(TOKEN);
    eventually("hello's web.1 up while slow's slug unpacks", || {
        (states(&api, "hello") == up(&["web.1"])).then_some(())
    });
    let scaled = block_on(api.call(
        Method::PATCH,
        "/apps/hello/formation/web",
        Some(json!({ "quantity": 2 })),
        None,
    ));
    assert!(scaled.status.is_success(), "{}", scaled.body);
    eventually("hello scaled to 2 while slow's slug unpacks", || {
        (states(&api, "hello") == up(&["web.1", "web.2"])).then_some(())
    });
    assert_eq!(
        states(&api, "slow"),
        [("web.1".to_owned(), "starting".to_owned())],
        "slow's slug is still unpacking"
    );

    // The extractor opens the archive twice: once for its format, once to unpack it (which
    // the writer waits for: the rest does not fit in the pipe).
    let mut writer = std::fs::OpenOptions::new().write(true).open(&pipe).unwrap();
    writer.write_all(&slow[..6]).unwrap();
    writer.write_all(slow).unwrap();
    drop(writer);
    eventually("slow's web.1 up once its slug is unpacked", || {
        (states(&api, "slow") == up(&["web.1"])).then_some(())
    });
}

/// A gzip'd tar whose entry climbs out of the directory it is unpacked into.
fn hostile_slug() -> &'static [u8] {
    let script = "import io, sys, tarfile\n\
        out = io.BytesIO()\n\
        with tarfile.open(fileobj=out, mode='w:gz') as tar:\n\
        \x20   entry = tarfile.TarInfo('./app/../../escaped')\n\
        \x20   entry.size = 1\n\
        \x20   tar.addfile(entry, io.BytesIO(b'x'))\n\
        sys.stdout.buffer.write(out.getvalue())\n";
    let out = Command::new("python3")
        .args(["-c", script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    Vec::leak(out.stdout)
}

#[test]
fn a_release_whose_slug_cannot_be_unpacked_is_crashed_and_the_previous_one_serves() {
    let p = Project::served(&["--stop-timeout", "5"]);
    write_project(&p, "python3 web.py", "hello", 1);
    p.ok(&["apply", "--yes"], 0);
    let port = answering_web_1(&p);
    for (version, slug) in [
        (3, b"not a gzip'd tar" as &'static [u8]),
        (4, hostile_slug()),
    ] {
        p.release_by_hand("hello", slug, None);
        let crashed = eventually("the new release's web.1 crashed", || {
            dynos(&p).into_iter().find(|d| {
                d["name"] == "web.1" && d["release_version"] == version && d["state"] == "crashed"
            })
        });
        assert_eq!(crashed["previous_release"], false);
        let listed = dynos_of(&p);
        let current = listed
            .iter()
            .find(|d| d["release"]["version"] == version)
            .unwrap_or_else(|| panic!("v{version} not in {listed:#?}"));
        assert_eq!(current["state"], "crashed", "{listed:#?}");
        assert_eq!(
            get(port).as_deref(),
            Some("hello from web.1"),
            "still serving"
        );
        let serving = listed
            .iter()
            .filter(|d| d["release"]["version"] == 2 && d["state"] == "up")
            .count();
        assert_eq!(serving, 1, "the previous release serving: {listed:#?}");
    }
    // The reason is in the log (Heroku's dyno schema has no field for it).
    let logs = p.ok(&["logs", "hello", "-n", "200"], 0);
    for (version, why) in [(3, "not a .tar.gz"), (4, "escaped")] {
        let line = logs
            .lines()
            .find(|l| {
                l.contains(&format!(
                    "Release v{version} cannot run: cannot unpack the slug "
                ))
            })
            .unwrap_or_else(|| panic!("no line for v{version} in:\n{logs}"));
        assert!(line.contains(why), "{why:?} not in {line:?}");
    }
    assert!(
        logs.contains("heroku[web.1]: State changed from starting to crashed"),
        "{logs}"
    );
}

/// The archives of the local platform under `dir`.
fn blobs_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(blobs_under(&path));
        } else if path.parent().is_some_and(|p| p.ends_with("blobs/sha256")) {
            found.push(path);
        }
    }
    found
}

#[test]
fn ps_says_why_a_corrupt_slug_cannot_run() {
    let p = Project::local();
    write_project(&p, "python3 web.py", "hello", 1);
    p.ok(&["apply", "--yes"], 0);
    let blobs = blobs_under(p.ctx.temp.path());
    assert_eq!(blobs.len(), 1, "{blobs:?}");
    // The archive cut in half on disk: its gzip stream ends early.
    let bytes = std::fs::read(&blobs[0]).unwrap();
    std::fs::write(&blobs[0], &bytes[..bytes.len() / 2]).unwrap();
    let _up = super::Up::start(&p);
    let crashed = eventually("web.1 crashed", || {
        dynos(&p).into_iter().find(|d| d["state"] == "crashed")
    });
    let detail = text(&crashed["detail"]);
    assert!(detail.starts_with("cannot unpack the slug "), "{detail}");
    let ps = p.ok(&["ps", "hello"], 0);
    assert!(ps.contains(&format!("({detail})")), "{ps}");
}
