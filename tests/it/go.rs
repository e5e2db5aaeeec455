//! Integration tests: Go builds (real `go`), their cache, and the stack's ELF checks on real
//! binaries (the Go output, this machine's /usr/bin/bash, a patched non-x86 copy).

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use slugplan::build::go::{self, GoError};
use slugplan::cache::Cache;
use slugplan::manifest::GoBuild;
use slugplan::stack::{self, StackError};

use crate::common::render;

/// The seed's web.go (examples/go): "hello, world" on $PORT.
const WEB_GO: &str = include_str!("../../examples/go/web.go");

fn module(dir: &Path, source: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("go.mod"), include_str!("../../examples/go/go.mod")).unwrap();
    std::fs::write(dir.join("web.go"), source).unwrap();
    dir.to_owned()
}

fn spec() -> GoBuild {
    GoBuild {
        module: ".".into(),
        package: ".".into(),
        output: "bin/web".into(),
        goos: "linux".into(),
        goarch: "amd64".into(),
    }
}

fn build(module: &Path, cache: &Path, go: &str) -> Result<PathBuf, GoError> {
    go::build_module(module, "web", &spec(), &Cache::new(cache), OsStr::new(go))
}

/// Runs the binary on a free port and returns its answer to `GET /`.
fn hello(binary: &Path) -> String {
    crate::common::answer_on_port(Command::new(binary))
}

#[test]
fn web_go_builds_static_x86_64_and_reproducibly_from_two_directories() {
    let temp = tempfile::tempdir().unwrap();
    let a = module(&temp.path().join("one/src"), WEB_GO);
    let b = module(&temp.path().join("elsewhere/deeper/copy"), WEB_GO);
    let first = build(&a, &temp.path().join("cache-a"), "go").unwrap();
    let second = build(&b, &temp.path().join("cache-b"), "go").unwrap();
    assert_eq!(
        std::fs::read(&first).unwrap(),
        std::fs::read(&second).unwrap(),
        "same bytes"
    );

    let info = stack::inspect(&first).unwrap().expect("an ELF file");
    assert_eq!(
        (info.machine, info.dynamic, info.max_glibc),
        (62, false, None)
    );
    stack::check_file(&first, "heroku-22").unwrap();
    assert!(hello(&first).ends_with("hello, world\n"));
}

#[test]
fn unchanged_input_skips_go_build_and_works_without_go() {
    let temp = tempfile::tempdir().unwrap();
    let src = module(&temp.path().join("src"), WEB_GO);
    let cache = temp.path().join("cache");
    // A `go` that logs each invocation, then runs the real one.
    let log = temp.path().join("go.log");
    let wrapper = temp.path().join("go-wrapper");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$1\" >> {}\nexec go \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let wrapper = wrapper.to_str().unwrap();

    let first = build(&src, &cache, wrapper).unwrap();
    let second = build(&src, &cache, wrapper).unwrap();
    assert_eq!(first, second);
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "version\nbuild\nversion\n"
    );
    // No toolchain at all: the cached build of these exact inputs is used.
    assert_eq!(build(&src, &cache, "/nonexistent/go").unwrap(), first);

    // A changed source is a new key: go builds again, and without go it is an error.
    std::fs::write(
        src.join("web.go"),
        WEB_GO.replace("hello, world", "Hello Again"),
    )
    .unwrap();
    let err = build(&src, &cache, "/nonexistent/go").unwrap_err();
    assert!(matches!(err, GoError::GoMissing { .. }), "{err}");
    insta::assert_snapshot!(render(&err), @"
    × slug `web`: the Go toolchain (`go`) is not installed or not on PATH
    help: install Go: `apt-get install golang-go` on Debian/Ubuntu, or see https://go.dev/dl/
    ");
    let third = build(&src, &cache, wrapper).unwrap();
    assert_ne!(third, first);
    assert!(hello(&third).ends_with("Hello Again\n"));
}

#[test]
fn compile_errors_show_gos_output() {
    let temp = tempfile::tempdir().unwrap();
    let src = module(
        &temp.path().join("src"),
        "package main\n\nfunc main() { nope() }\n",
    );
    let err = build(&src, &temp.path().join("cache"), "go").unwrap_err();
    assert!(matches!(err, GoError::BuildFailed { .. }), "{err}");
    assert!(err.to_string().contains("undefined: nope"), "{err}");
}

/// The highest GLIBC_x.y `objdump -T` lists for `path`.
fn objdump_max_glibc(path: &Path) -> (u32, u32) {
    let out = Command::new("objdump")
        .arg("-T")
        .arg(path)
        .output()
        .expect("objdump runs");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter_map(|word| word.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let mut parts = v.split('.');
            Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
        })
        .max()
        .expect("bash needs glibc")
}

#[test]
fn dynamic_binary_needing_newer_glibc_fails_the_older_stack() {
    let bash = Path::new("/usr/bin/bash");
    let info = stack::inspect(bash).unwrap().unwrap();
    let needed = objdump_max_glibc(bash);
    assert_eq!(
        (info.machine, info.dynamic, info.max_glibc),
        (62, true, Some(needed))
    );
    // Debian 12's bash needs GLIBC_2.36: newer than heroku-22's 2.35, older than heroku-24's 2.39.
    assert!(
        needed > (2, 35) && needed <= (2, 39),
        "this test expects a glibc 2.36-2.39 host: {needed:?}"
    );
    stack::check_file(bash, "heroku-24").unwrap();
    let err = stack::check_file(bash, "heroku-22").unwrap_err();
    assert!(matches!(err, StackError::GlibcTooNew { .. }), "{err}");
    let expected = format!(
        "/usr/bin/bash needs GLIBC_{}.{}, but stack heroku-22 has glibc 2.35",
        needed.0, needed.1
    );
    assert_eq!(err.to_string(), expected);
}

#[test]
fn non_x86_elf_in_a_tree_is_refused_and_unknown_stacks_too() {
    let temp = tempfile::tempdir().unwrap();
    let tree = temp.path().join("tree");
    std::fs::create_dir_all(tree.join("bin")).unwrap();
    std::fs::write(tree.join("README"), "not an ELF file\n").unwrap();
    std::fs::copy("/usr/bin/bash", tree.join("bin/bash")).unwrap();
    stack::check_tree(&tree, "heroku-24").unwrap();

    // e_machine is the little-endian u16 at offset 18: make it AArch64 (183).
    let mut bytes = std::fs::read("/usr/bin/bash").unwrap();
    bytes[18..20].copy_from_slice(&183u16.to_le_bytes());
    std::fs::write(tree.join("bin/arm"), bytes).unwrap();
    let err = stack::check_tree(&tree, "heroku-24").unwrap_err();
    assert!(matches!(err, StackError::WrongMachine { .. }), "{err}");
    let shown = render(&err).replace(&temp.path().display().to_string(), "[TEMP]");
    insta::assert_snapshot!(shown, @"
    × [TEMP]/tree/bin/arm is built for AArch64 (e_machine 183), but stack heroku-24 runs x86-64 only
    help: use the linux x64 (amd64) build of this runtime or program
    ");

    let err = stack::check_tree(&tree, "cedar-14").unwrap_err();
    assert!(matches!(err, StackError::UnknownStack { .. }), "{err}");
}

#[test]
fn manifest_go_build_resolves_the_module_under_the_slug_source() {
    let ctx = crate::common::TestContext::new();
    module(&ctx.dir.join("apps/api/server"), WEB_GO);
    let loaded = ctx.manifest(
        "[slugs.api]\nsource = \"apps/api\"\nprocess_types = { web = \"bin/web\" }\n\
         [slugs.api.go]\nmodule = \"server\"\noutput = \"bin/web\"\n",
    );
    let spec = loaded.manifest.slugs["api"].go.clone().unwrap();
    let cache = Cache::new(&ctx.cache);
    let binary = go::build(&loaded, "api", &spec, &cache).unwrap();
    assert!(
        binary.starts_with(&ctx.cache),
        "the binary lives in the cache"
    );
    stack::check_file(&binary, "heroku-24").unwrap();

    std::fs::remove_file(ctx.dir.join("apps/api/server/go.mod")).unwrap();
    let err = go::build(&loaded, "api", &spec, &cache).unwrap_err();
    insta::assert_snapshot!(ctx.redact(&render(&err)), @"
    × slug `api`: [PROJECT]/apps/api/server has no go.mod
    help: set `module` in [slugs.api.go] to the directory holding go.mod
    ");
}
