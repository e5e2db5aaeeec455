//! `slugplan show PLANFILE`, and plans as Markdown for pull requests (`--format markdown`):
//! the saved plan renders as `plan` printed it, as JSON it is the file, and the Markdown is
//! pinned here; `-q` prints only the summary.

use crate::common::project::Project;
use crate::common::{slugplan_snapshot, stdout};

/// A project with one app released directly and one promoted by hand.
fn project() -> Project {
    let p = Project::local();
    p.ctx
        .write("web/web.js", "console.log('Hello | <World>')\n");
    p.ctx.write(
        "slug.toml",
        r#"[slugs.web]
source = "web"
process_types = { web = "node web.js" }

[apps.shop-staging]
slug = "web"

[apps.shop-prod]
promote_from = "shop-staging"
"#,
    );
    p
}

#[test]
fn show_renders_a_saved_plan_as_plan_printed_it() {
    let p = project();
    let planned = p.ok(&["plan", "-out", "release.plan"], 0);
    assert_eq!(p.ok(&["show", "release.plan"], 0), planned);
    // As JSON, it is the saved document itself.
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.ctx.path().join("release.plan")).unwrap())
            .unwrap();
    let shown: serde_json::Value =
        serde_json::from_str(&p.ok(&["show", "release.plan", "--json"], 0)).unwrap();
    assert_eq!(shown, saved);
    assert_eq!(
        p.ok(&["show", "release.plan", "--format", "json"], 0),
        p.ok(&["show", "release.plan", "--json"], 0)
    );
    let markdown = p.ok(&["show", "release.plan", "--format", "markdown"], 0);
    insta::assert_snapshot!(p.ctx.redact(&markdown), @r#"
    <!-- slugplan plan -->
    ### slugplan plan

    **Plan: 2 to create, 1 to build, 1 to upload, 1 to release.**

    #### Found

    ```text
    Promotions waiting (promote = "manual"):
      - shop-prod will be behind shop-staging: after this apply, run `slugplan promote shop-staging`
          runs nothing yet, shop-staging gets SHA256:5eede37a59e3…
    ```

    #### Steps

    | | step | action | reason |
    | --- | --- | --- | --- |
    | `+` | `app.shop-prod` | create | app does not exist yet |
    | `+` | `app.shop-staging` | create | app does not exist yet |
    | `*` | `slug.web@heroku-24` | build | forces new slug: first build |
    | `↑` | `upload.web→shop-staging` | upload | not on the platform yet |
    | `~` | `release.shop-staging` | release | new app |

    <details><summary><code>app.shop-prod</code> will be created</summary>

    ```text
          reason:   app does not exist yet
    ```

    </details>
    <details><summary><code>app.shop-staging</code> will be created</summary>

    ```text
          reason:   app does not exist yet
    ```

    </details>
    <details><summary><code>slug.web@heroku-24</code> will be built</summary>

    ```text
          reason:   forces new slug: first build
          checksum: SHA256:5eede37a59e3…
    ```

    </details>
    <details><summary><code>upload.web→shop-staging</code> will be uploaded</summary>

    ```text
          reason:   not on the platform yet
          checksum: SHA256:5eede37a59e3…
    ```

    </details>
    <details><summary><code>release.shop-staging</code> will be released</summary>

    ```text
          reason:   new app
          checksum: SHA256:5eede37a59e3…
    ```

    </details>
    "#);
    // A plan printed as Markdown and saved is the comment `show` makes of the file.
    let printed = p.ok(&["plan", "--format", "markdown", "-out", "again.plan"], 0);
    assert_eq!(
        p.ok(&["show", "again.plan", "--format", "markdown"], 0),
        printed
    );
}

#[test]
fn markdown_shows_what_the_plan_found() {
    let p = project();
    p.ok(&["apply", "--yes"], 0);
    p.ctx.write("web/web.js", "console.log('v2')\n");
    slugplan_snapshot!(p.ctx.filters(), p.command(&["plan", "--format", "markdown", "--target", "shop-staging"]), @"
    exit code: 0
    ----- stdout -----
    <!-- slugplan plan -->
    ### slugplan plan

    **Plan: 1 to build, 1 to upload, 1 to release.**

    > [!WARNING]
    > targeting is in effect: this plan may not be everything slug.toml asks for
    >
    > ```text
    >   named:       release.shop-staging
    >   also needed: slug.web@heroku-24 (build)
    >                upload.web→shop-staging (upload)
    > ```

    #### Steps

    | | step | action | reason |
    | --- | --- | --- | --- |
    | `*` | `slug.web@heroku-24` | build | forces new slug: web.js changed |
    | `↑` | `upload.web→shop-staging` | upload | not on the platform yet |
    | `~` | `release.shop-staging` | release | runs SHA256:5eede37a59e3… (v1), declared SHA256:d184cd54bab1… |

    <details><summary><code>slug.web@heroku-24</code> will be built</summary>

    ```text
          reason:   forces new slug: web.js changed
          checksum: SHA256:d184cd54bab1…
    ```

    </details>
    <details><summary><code>upload.web→shop-staging</code> will be uploaded</summary>

    ```text
          reason:   not on the platform yet
          checksum: SHA256:d184cd54bab1…
    ```

    </details>
    <details><summary><code>release.shop-staging</code> will be released</summary>

    ```text
          reason:   runs SHA256:5eede37a59e3… (v1), declared SHA256:d184cd54bab1…
          checksum: SHA256:5eede37a59e3… → SHA256:d184cd54bab1…
    ```

    </details>

    ----- stderr -----
         Packing web (2.56 kB of tar)
    warning: targeting is in effect: this plan may not be everything slug.toml asks for
      named:       release.shop-staging
      also needed: slug.web@heroku-24 (build)
                   upload.web→shop-staging (upload)
    ");
}

#[test]
fn show_refuses_what_is_not_a_plan() {
    let p = project();
    p.ctx.write("notes.txt", "hello");
    slugplan_snapshot!(p.ctx.filters(), p.command(&["show", "notes.txt"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
      × notes.txt is not a slugplan plan (format version 1)
      ╰─▶ expected value at line 1 column 1
      help: make a new one with `slugplan plan -out FILE`
    ");
    slugplan_snapshot!(p.ctx.filters(), p.command(&["show", "missing.plan", "--json"]), @r#"
    exit code: 1
    ----- stdout -----
    {
      "error": {
        "causes": [
          "failed to open file `missing.plan`: No such file or directory (os error 2)"
        ],
        "code": null,
        "column": null,
        "file": null,
        "help": null,
        "labels": [],
        "line": null,
        "message": "cannot access plan file missing.plan",
        "related": []
      },
      "format_version": 1
    }

    ----- stderr -----
      × cannot access plan file missing.plan
      ╰─▶ failed to open file `missing.plan`: No such file or directory (os error 2)
    "#);
}

#[test]
fn quiet_prints_only_the_summary() {
    let p = project();
    slugplan_snapshot!(p.ctx.filters(), p.command(&["-q", "plan"]), @"
    exit code: 0
    ----- stdout -----
    Plan: 2 to create, 1 to build, 1 to upload, 1 to release.

    ----- stderr -----
    ");
    p.ok(&["apply", "--yes"], 0);
    slugplan_snapshot!(p.ctx.filters(), p.command(&["-q", "apply", "--yes"]), @"
    exit code: 0
    ----- stdout -----
    No changes to apply. Promotions wait for `slugplan promote`.

    ----- stderr -----
    ");
    assert_eq!(stdout(&p.run(&["-q", "plan"])).lines().count(), 1);
}
