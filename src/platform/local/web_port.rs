//! Each app's web port: the port on 127.0.0.1 where the router answers for the app, and so its
//! `web_url` (`http://127.0.0.1:<port>/`).
//!
//! Why a port per app, on 127.0.0.1, and not `http://<app>.localhost:<port>/` routed by `Host`:
//! that URL answers in a browser and in curl, which map `*.localhost` to loopback themselves, but
//! not in a client that asks the system resolver (glibc, so Python's `urllib`, Ruby's `Net::HTTP`,
//! Go's cgo resolver, `wget`): they fail to resolve it. `127.0.0.1` needs no resolver at all, and a
//! port needs no `Host` header to route by, so the URL works in every client, behind any proxy,
//! and the app sees the `Host` its client sent.
//!
//! Guarantees:
//! - Every app has a port, unique in the data directory (a unique index), given when the app is
//!   created (apps made before ports existed get one when the store opens), kept across renames,
//!   restarts and releases, and freed with the app.
//! - The port is a stable function of the data directory and the app's name: the first of
//!   [`WEB_PORTS`], from a hash of both, that no other app of the directory has and that can be
//!   bound now. So recreating a data directory gives the apps their old URLs, and two projects'
//!   apps seldom meet on one port. The range lies below Linux's ephemeral ports (32768 and up),
//!   so a port is never taken by an outgoing connection's local end.
//! - A port that something else holds when the router starts is moved ([`Store::move_web_port`])
//!   by the same rule, so the app answers somewhere rather than nowhere; the router says so.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::ops::RangeInclusive;

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::apps::app_in;
use super::store::Store;
use crate::platform::PlatformError;

/// The ports apps are given.
pub const WEB_PORTS: RangeInclusive<u16> = 20000..=31999;

/// The address the router listens on for an app whose port is `port`.
pub fn web_addr(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// An app's `web_url`, from its port: the one place the URL's form is written.
pub fn web_url(port: u16) -> String {
    format!("http://{}/", web_addr(port))
}

/// What the router needs to know about an app: where it answers and whether it is in
/// maintenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRoute {
    /// The app's id (stable across renames).
    pub id: String,
    /// Its name now.
    pub name: String,
    /// Its web port.
    pub port: u16,
    /// Whether it is in maintenance mode (the router answers Heroku's maintenance page).
    pub maintenance: bool,
}

impl Store {
    /// Every app's route, by name.
    pub fn app_routes(&self) -> Result<Vec<AppRoute>, PlatformError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT id, name, web_port, maintenance FROM apps ORDER BY name")
            .map_err(self.err("cannot list the apps' web ports"))?;
        stmt.query_map([], |row| {
            Ok(AppRoute {
                id: row.get(0)?,
                name: row.get(1)?,
                port: row.get(2)?,
                maintenance: row.get(3)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(self.err("cannot list the apps' web ports"))
    }

    /// Gives `app` (by id or name) another port because `taken` (its port) is held by another
    /// process; returns the new one. Does nothing when the app's port is no longer `taken`
    /// (another call moved it already).
    pub fn move_web_port(&self, app: &str, taken: u16) -> Result<u16, PlatformError> {
        self.write(|tx| {
            let record = app_in(tx, app, self)?;
            if record.web_port != taken {
                return Ok(record.web_port);
            }
            let port = choose(tx, self, &record.name, Some(taken))?;
            tx.execute(
                "UPDATE apps SET web_port = ?2 WHERE id = ?1",
                params![record.id, port],
            )
            .map_err(self.err("cannot record the app's web port"))?;
            Ok(port)
        })
    }

    /// Gives every app that has no port one (apps created before ports existed).
    pub(crate) fn assign_missing_web_ports(&self) -> Result<(), PlatformError> {
        let missing: i64 = self
            .conn()
            .query_row(
                "SELECT count(*) FROM apps WHERE web_port IS NULL",
                [],
                |row| row.get(0),
            )
            .map_err(self.err("cannot read the apps' web ports"))?;
        if missing == 0 {
            return Ok(());
        }
        self.write(|tx| {
            let apps: Vec<(String, String)> = {
                let mut stmt = tx
                    .prepare("SELECT id, name FROM apps WHERE web_port IS NULL ORDER BY created_at, name")
                    .map_err(self.err("cannot read the apps' web ports"))?;
                stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
                    .and_then(|rows| rows.collect())
                    .map_err(self.err("cannot read the apps' web ports"))?
            };
            for (id, name) in apps {
                assign_web_port(tx, self, &id, &name)?;
            }
            Ok(())
        })
    }
}

/// Gives the app `id` (named `name`) its port, inside the transaction that creates it.
pub(crate) fn assign_web_port(
    tx: &Connection,
    store: &Store,
    id: &str,
    name: &str,
) -> Result<u16, PlatformError> {
    let port = choose(tx, store, name, None)?;
    tx.execute(
        "UPDATE apps SET web_port = ?2 WHERE id = ?1",
        params![id, port],
    )
    .map_err(store.err("cannot record the app's web port"))?;
    Ok(port)
}

/// The port for an app named `name`: see the module docs. `avoid` is a port known to be held.
fn choose(
    conn: &Connection,
    store: &Store,
    name: &str,
    avoid: Option<u16>,
) -> Result<u16, PlatformError> {
    let first = *WEB_PORTS.start();
    let count = u32::from(*WEB_PORTS.end() - first) + 1;
    let start = preferred_offset(store, name, count);
    let mut held = conn
        .prepare_cached("SELECT 1 FROM apps WHERE web_port = ?1")
        .map_err(store.err("cannot read the apps' web ports"))?;
    for step in 0..count {
        let port = first + u16::try_from((start + step) % count).expect("within the range");
        if Some(port) == avoid {
            continue;
        }
        let used = held
            .query_row([port], |_| Ok(()))
            .optional()
            .map_err(store.err("cannot read the apps' web ports"))?
            .is_some();
        if !used && TcpListener::bind(web_addr(port)).is_ok() {
            return Ok(port);
        }
    }
    Err(PlatformError::Storage {
        message: format!(
            "no free web port for app {name} in {}-{} on 127.0.0.1",
            WEB_PORTS.start(),
            WEB_PORTS.end()
        ),
        source: None,
    })
}

/// Where in the range `name`'s search starts: a hash of the data directory and the name.
fn preferred_offset(store: &Store, name: &str, count: u32) -> u32 {
    let dir = store.dir();
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    let mut hasher = Sha256::new();
    hasher.update(dir.as_os_str().as_encoded_bytes());
    hasher.update([0]);
    hasher.update(name.as_bytes());
    let digest = hasher.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) % count
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Generation;

    #[test]
    fn apps_get_distinct_stable_ports_in_the_range() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = store
            .create_app("alpha", "heroku-24", Generation::Cedar)
            .unwrap();
        let b = store
            .create_app("beta", "heroku-24", Generation::Cedar)
            .unwrap();
        assert_ne!(a.web_port, b.web_port);
        assert!(WEB_PORTS.contains(&a.web_port) && WEB_PORTS.contains(&b.web_port));
        // A rename keeps the port; so does opening the store again.
        let renamed = store
            .update_app(
                "alpha",
                &super::super::AppChanges {
                    name: Some("gamma".to_owned()),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(renamed.web_port, a.web_port);
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.app("gamma").unwrap().web_port, a.web_port);
        let routes = store.app_routes().unwrap();
        assert_eq!(
            routes
                .iter()
                .map(|r| (&*r.name, r.port))
                .collect::<Vec<_>>(),
            [("beta", b.web_port), ("gamma", a.web_port)]
        );
    }

    #[test]
    fn the_same_directory_and_name_give_the_same_port() {
        let dir = tempfile::tempdir().unwrap();
        let port = {
            let store = Store::open(dir.path()).unwrap();
            store
                .create_app("alpha", "heroku-24", Generation::Cedar)
                .unwrap()
                .web_port
        };
        std::fs::remove_dir_all(dir.path()).unwrap();
        let store = Store::open(dir.path()).unwrap();
        let again = store
            .create_app("alpha", "heroku-24", Generation::Cedar)
            .unwrap();
        assert_eq!(again.web_port, port);
    }

    #[test]
    fn a_port_held_elsewhere_is_skipped_and_moved() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let app = store
            .create_app("alpha", "heroku-24", Generation::Cedar)
            .unwrap();
        let port = app.web_port;
        // Something else holds the app's port: moving it finds another one.
        let _held = TcpListener::bind(web_addr(port)).unwrap();
        let moved = store.move_web_port("alpha", port).unwrap();
        assert_ne!(moved, port);
        assert_eq!(store.app("alpha").unwrap().web_port, moved);
        // A second mover sees the port has moved already and leaves it.
        assert_eq!(store.move_web_port("alpha", port).unwrap(), moved);
        // A new app whose preferred port is held does not get it.
        store.delete_app("alpha").unwrap();
        let again = store
            .create_app("alpha", "heroku-24", Generation::Cedar)
            .unwrap();
        assert_ne!(again.web_port, port);
    }

    #[test]
    fn apps_made_before_ports_existed_get_one_on_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store
                .create_app("alpha", "heroku-24", Generation::Cedar)
                .unwrap();
            store
                .conn()
                .execute("UPDATE apps SET web_port = NULL", [])
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert!(WEB_PORTS.contains(&store.app("alpha").unwrap().web_port));
    }

    #[test]
    fn the_url_is_on_loopback() {
        assert_eq!(web_url(20001), "http://127.0.0.1:20001/");
    }
}
