//! `slugplan open`: an app's web URL, printed, or opened with the user's browser, or printed with
//! the reason when no browser can be started.

use std::os::unix::fs::PermissionsExt;

use crate::common::project::Project;
use crate::common::slugplan_snapshot;

/// `web-staging` deployed on the local platform.
fn deployed() -> Project {
    let p = Project::local();
    p.ctx.write("web/web.js", "console.log('v1')\n");
    p.ctx.write(
        "slug.toml",
        format!(
            "{}[slugs.web]\nsource = \"web\"\nprocess_types = {{ web = \"node web.js\" }}\n\n\
             [apps.web-staging]\nslug = \"web\"\ncreate = true\n",
            p.platform_table()
        ),
    );
    p.ok(&["apply", "--yes"], 0);
    p
}

#[test]
fn open_prints_or_opens_the_apps_web_url() {
    let p = deployed();
    slugplan_snapshot!(p.filters(), p.command(&["open", "web-staging", "--print"]), @"
    exit code: 0
    ----- stdout -----
    http://127.0.0.1:[PORT]/

    ----- stderr -----
    ");
    slugplan_snapshot!(p.filters(), p.command(&["open", "web-staging", "/admin"]), @"
    exit code: 0
    ----- stdout -----
    http://127.0.0.1:[PORT]/admin

    ----- stderr -----
      Not opened http://127.0.0.1:[PORT]/admin: no BROWSER set and no graphical session here
    ");

    // The user's browser gets the URL as its argument.
    let seen = p.ctx.dir.join("seen");
    let browser = p.ctx.dir.join("browser");
    std::fs::write(
        &browser,
        format!("#!/bin/sh\nprintf '%s\\n' \"$1\" > '{}'\n", seen.display()),
    )
    .unwrap();
    std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut command = p.command(&["open", "web-staging"]);
    command.env("BROWSER", &browser);
    let output = command.output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let url = String::from_utf8(output.stdout).unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(std::fs::read_to_string(&seen).unwrap(), url);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains(&format!("Opened {} with", url.trim())),
        "{stderr}"
    );

    slugplan_snapshot!(p.filters(), p.command(&["open", "web-nowhere", "--print"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
      × cannot read app web-nowhere from the platform
      ╰─▶ not found: Couldn't find that app: web-nowhere
    ");
}
