//! TLS to the PostgreSQL state as the URL's `sslmode` says, against a server that takes TLS
//! connections only, with a certificate for 127.0.0.1 from a CA of the test's own.

use crate::common::TestContext;
use crate::common::postgres::PgCluster;
use crate::common::slugplan_snapshot;

#[test]
fn sslmode_decides_what_is_verified() {
    let cluster = PgCluster::start(true);
    let database = cluster.database();
    let ca = cluster.ca.clone().unwrap();
    let ctx = TestContext::new();
    ctx.write(
        "slug.toml",
        "[state]\nbackend = \"postgres\"\nworkspace = \"tls\"\n",
    );
    let mut filtered = ctx.filters();
    filtered.insert(0, (r"\bt\d+_\d+\b", "[DB]"));
    let show = |options: &str| {
        let mut cmd = ctx.slugplan(&["state", "show"]);
        cmd.env("SLUGPLAN_STATE_URL", cluster.url(&database, options));
        cmd
    };
    let root = format!("sslrootcert={}", ca.display());
    // Verified: the chain to the given CA and the address in the certificate.
    for options in [
        format!("sslmode=verify-full&{root}"),
        format!("sslmode=verify-ca&{root}"),
        format!("sslmode=require&{root}"),
        // Encrypted, not verified (libpq's meaning).
        "sslmode=require".to_owned(),
        "sslmode=prefer".to_owned(),
    ] {
        let out = show(&options).output().unwrap();
        super::assert_output_clean(&out, &options);
        assert!(
            out.status.success(),
            "{options}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The server's certificate is not from a CA the system trusts.
    slugplan_snapshot!(filtered.clone(), show("sslmode=verify-full"), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
    slugplan::state::connect

      × cannot connect to the PostgreSQL state postgres://postgres:****@127.0.0.1:[PORT]/[DB]?sslmode=verify-full
      ├─▶ error performing TLS handshake
      ╰─▶ invalid peer certificate: UnknownIssuer
      help: check the URL (SLUGPLAN_STATE_URL or [state] url), that the database is up, and its sslmode; nothing was done
    ");
    // Without TLS, this server lets nobody in.
    slugplan_snapshot!(filtered.clone(), show("sslmode=disable"), @r#"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
    slugplan::state::connect

      × cannot connect to the PostgreSQL state postgres://postgres:****@127.0.0.1:[PORT]/[DB]?sslmode=disable
      ├─▶ db error
      ╰─▶ FATAL: no pg_hba.conf entry for host "127.0.0.1", user "postgres", database "[DB]", no encryption
      help: check the URL (SLUGPLAN_STATE_URL or [state] url), that the database is up, and its sslmode; nothing was done
    "#);
    slugplan_snapshot!(filtered, show("sslmode=verify-full&sslrootcert=no-such-ca.pem"), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
    slugplan::state::sslrootcert

      × cannot read the CA certificate no-such-ca.pem named by the state URL's sslrootcert
      ╰─▶ No such file or directory (os error 2)
    ");
}
