//! `slugplan open APP [PATH]`: the app's web URL, opened in a browser like `heroku open`, or
//! printed where no browser can be started (`--print` always prints and opens nothing).
//!
//! The URL is the platform's own `web_url` for the app: `http://127.0.0.1:<port>/` on the local
//! platform (its router), `https://<app>.herokuapp.com/`-style on Heroku. It is always printed on
//! stdout, so `curl "$(slugplan open APP --print)"` works in scripts.
//!
//! Which browser: `$BROWSER` (a `:`-separated list tried in order, `%s` standing for the URL),
//! else `open` on macOS, else `xdg-open` when a graphical session is there (`DISPLAY` or
//! `WAYLAND_DISPLAY`): without one, `xdg-open` may start a terminal browser over the user's
//! terminal, which `open` never does on purpose.

use std::time::Duration;

use crate::cli::args::OpenArgs;
use crate::env_vars;
use crate::environment::Env;
use crate::exit_status::ExitStatus;
use crate::platform::PlatformError;

use super::Session;

/// How long a browser command may take to say it failed; one still running then is a browser
/// that opened and stays open.
const BROWSER_WAIT: Duration = Duration::from_secs(5);

/// Why `slugplan open` has no URL to open.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum OpenError {
    /// The app could not be read from the platform.
    #[error("cannot read app {app} from the platform")]
    Read {
        /// The app.
        app: String,
        /// The cause.
        #[source]
        source: PlatformError,
    },
    /// The platform gives the app no web URL.
    #[error("the platform gives app {app} no web URL")]
    #[diagnostic(help("a Fir app's URL is on its domains; see `heroku domains -a {app}`"))]
    NoUrl {
        /// The app.
        app: String,
    },
}

/// Opens (or prints) the app's URL.
pub async fn run(args: &OpenArgs, session: &Session) -> miette::Result<ExitStatus> {
    let printer = session.printer();
    let connected = session.connected()?;
    let app = connected
        .platform
        .app(&args.app)
        .await
        .map_err(|source| OpenError::Read {
            app: args.app.clone(),
            source,
        })?;
    let url = app.web_url.ok_or_else(|| OpenError::NoUrl {
        app: args.app.clone(),
    })?;
    let url = with_path(&url, args.path.as_deref());
    if !args.print {
        match start_browser(&url, session.settings().env()).await {
            Ok(browser) => printer.status("Opened", format!("{url} with {browser}")),
            Err(why) => printer.status("Not opened", format!("{url}: {why}")),
        }
    }
    printer.data(&url);
    Ok(ExitStatus::Success)
}

/// `url` with `path` (with or without its leading `/`) in place of its own path.
fn with_path(url: &str, path: Option<&str>) -> String {
    match path {
        Some(path) => format!(
            "{}/{}",
            url.trim_end_matches('/'),
            path.trim_start_matches('/')
        ),
        None => url.to_owned(),
    }
}

/// Starts a browser on `url` (see the module docs for which); says which one, or why none.
async fn start_browser(url: &str, env: &Env) -> Result<String, String> {
    let mut commands: Vec<String> = env
        .text(env_vars::BROWSER)
        .unwrap_or_default()
        .split(':')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            // The URL is the script's `$1`: never spliced into the command's text.
            if c.contains("%s") {
                c.replace("%s", "\"$1\"")
            } else {
                format!("{c} \"$1\"")
            }
        })
        .collect();
    if commands.is_empty() {
        if cfg!(target_os = "macos") {
            commands.push("open \"$1\"".to_owned());
        } else if env.non_empty(env_vars::DISPLAY).is_some()
            || env.non_empty(env_vars::WAYLAND_DISPLAY).is_some()
        {
            commands.push("xdg-open \"$1\"".to_owned());
        } else {
            return Err("no BROWSER set and no graphical session here".to_owned());
        }
    }
    let mut failures = Vec::new();
    for script in commands {
        let shown = script.replace("\"$1\"", "URL");
        match run_browser(&script, url).await {
            Ok(()) => return Ok(shown),
            Err(why) => failures.push(format!("{shown}: {why}")),
        }
    }
    Err(failures.join("; "))
}

/// Runs one browser command; Ok once it exits 0 or is still running after [`BROWSER_WAIT`].
async fn run_browser(script: &str, url: &str) -> Result<(), String> {
    let mut child = tokio::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(BROWSER_WAIT, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(match status.code() {
            Some(127) => "not found".to_owned(),
            _ => status.to_string(),
        }),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_replaces_the_urls_own() {
        assert_eq!(
            with_path("http://127.0.0.1:20001/", Some("/admin")),
            "http://127.0.0.1:20001/admin"
        );
        assert_eq!(
            with_path("http://127.0.0.1:20001/", Some("a?b=1")),
            "http://127.0.0.1:20001/a?b=1"
        );
        assert_eq!(
            with_path("http://127.0.0.1:20001/", None),
            "http://127.0.0.1:20001/"
        );
    }

    #[tokio::test]
    async fn browsers_are_tried_in_order_and_the_url_is_an_argument() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let seen = dir.path().join("seen");
        let record = dir.path().join("record");
        std::fs::write(
            &record,
            format!("#!/bin/sh\nprintf '%s\\n' \"$1\" > '{}'\n", seen.display()),
        )
        .unwrap();
        std::fs::set_permissions(&record, std::fs::Permissions::from_mode(0o755)).unwrap();
        let pwned = dir.path().join("pwned");
        let url = format!("http://127.0.0.1:20001/?a=1&b=$(touch {})", pwned.display());
        let browser = format!("false:{} %s", record.display());
        let env = Env::from_vars([(env_vars::BROWSER, browser)]);
        let used = start_browser(&url, &env).await.unwrap();
        assert_eq!(used, format!("{} URL", record.display()));
        assert_eq!(std::fs::read_to_string(&seen).unwrap(), format!("{url}\n"));
        assert!(!pwned.exists(), "the URL was run as shell code");

        if !cfg!(target_os = "macos") {
            let none = start_browser(&url, &Env::default()).await;
            assert_eq!(
                none.unwrap_err(),
                "no BROWSER set and no graphical session here"
            );
        }
        let failing = Env::from_vars([(env_vars::BROWSER, "false")]);
        let why = start_browser(&url, &failing).await.unwrap_err();
        assert_eq!(why, "false URL: exit status: 1");
    }
}
