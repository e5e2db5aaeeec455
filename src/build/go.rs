//! Go builds: reproducible cross-compiles for linux/amd64, cached by an input key.
//!
//! The same source must give the same binary bytes on any machine and in any directory, because
//! the binary's bytes end up in the slug's checksum. So `go build` runs with `CGO_ENABLED=0`,
//! `-trimpath`, `-buildvcs=false` and an empty build id, `GOTOOLCHAIN=local` (never a downloaded
//! toolchain), a fixed `GOAMD64=v1`, and `GOFLAGS` set by slugplan rather than inherited
//! (`-mod=mod` only for a module with requirements but no go.sum; `-mod=vendor` with a vendor
//! directory). `GOCACHE`, `GOPATH` and `GOPROXY` stay the user's: they change speed, not bytes.
//!
//! The input key hashes go.mod, go.sum, every `.go` file under the module (path and content),
//! vendor/modules.txt, `go version`, the flags and the target. An unchanged key reuses the
//! binary in [`Bucket::GoBuilds`] without running `go build`. On a machine without `go`, the
//! last binary built from the same sources, flags and target is reused (the key without the
//! toolchain version points to it), so a cached build needs no toolchain at all.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::cache::{Bucket, Cache, CacheError, CacheKey};
use crate::manifest::{GoBuild, LoadedManifest};

/// Bumped when the build recipe changes, so old binaries are never reused.
pub const GO_BUILD_VERSION: u32 = 1;

/// The flags every build passes to `go build`.
pub const BUILD_FLAGS: &[&str] = &["-trimpath", "-buildvcs=false", "-ldflags=-buildid="];

/// Errors from a Go build.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum GoError {
    /// `go` is not on PATH and there is no cached build.
    #[error("slug `{slug}`: the Go toolchain (`go`) is not installed or not on PATH")]
    #[diagnostic(help(
        "install Go: `apt-get install golang-go` on Debian/Ubuntu, or see https://go.dev/dl/"
    ))]
    GoMissing {
        /// The slug's name.
        slug: String,
    },
    /// The module directory has no go.mod.
    #[error("slug `{slug}`: {} has no go.mod", module.display())]
    #[diagnostic(help("set `module` in [slugs.{slug}.go] to the directory holding go.mod"))]
    NoModule {
        /// The slug's name.
        slug: String,
        /// The module directory.
        module: PathBuf,
    },
    /// `go build` failed; its output is included.
    #[error("slug `{slug}`: `go build {package}` failed in {}:\n{output}", module.display())]
    BuildFailed {
        /// The slug's name.
        slug: String,
        /// The package.
        package: String,
        /// The module directory.
        module: PathBuf,
        /// go's stderr and stdout.
        output: String,
    },
    /// Running `go` failed for another reason than not being installed.
    #[error("slug `{slug}`: cannot run `go`")]
    Spawn {
        /// The slug's name.
        slug: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The cache could not be used.
    #[error("slug `{slug}`: cache error")]
    Cache {
        /// The slug's name.
        slug: String,
        /// The cache error.
        #[source]
        #[diagnostic_source]
        source: CacheError,
    },
    /// Reading the sources or storing the binary failed.
    #[error("slug `{slug}`: I/O error at {}", path.display())]
    Io {
        /// The slug's name.
        slug: String,
        /// The path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Builds slug `slug`'s Go program (or reuses the cached binary) and returns the binary's path
/// in the cache. The file is read-only; its place inside `./app` is `spec.output`.
pub fn build(
    loaded: &LoadedManifest,
    slug: &str,
    spec: &GoBuild,
    cache: &Cache,
) -> Result<PathBuf, GoError> {
    let source = &loaded.manifest.slugs[slug].source;
    let module = loaded.resolve(source).join(&spec.module);
    build_module(&module, slug, spec, cache, OsStr::new("go"))
}

/// [`build`] for a module directory given directly, running `go` (a name looked up on PATH,
/// or a path) as the toolchain.
pub fn build_module(
    module: &Path,
    slug: &str,
    spec: &GoBuild,
    cache: &Cache,
    go: &OsStr,
) -> Result<PathBuf, GoError> {
    let io = |path: &Path| {
        let (slug, path) = (slug.to_owned(), path.to_owned());
        move |source| GoError::Io { slug, path, source }
    };
    if !module.join("go.mod").is_file() {
        return Err(GoError::NoModule {
            slug: slug.to_owned(),
            module: module.to_owned(),
        });
    }
    let bucket = cache
        .bucket(Bucket::GoBuilds)
        .map_err(|source| GoError::Cache {
            slug: slug.to_owned(),
            source,
        })?;
    let goflags = goflags(module).map_err(io(module))?;
    let source_key = source_key(module, spec, &goflags).map_err(io(module))?;
    let pointer = cache.entry(CacheKey::GoLastBuild(&source_key)).into_path();
    let version = match go_version(go, slug)? {
        Some(version) => version,
        None => {
            // No toolchain: the last build of exactly these inputs is as good as a new one.
            let last = fs_err::read_to_string(&pointer).ok();
            let binary = last.map(|key| cache.entry(CacheKey::GoBinary(key.trim())).into_path());
            return match binary {
                Some(binary) if binary.is_file() => Ok(binary),
                _ => Err(GoError::GoMissing {
                    slug: slug.to_owned(),
                }),
            };
        }
    };
    let key = hex::encode(Sha256::digest(format!("{source_key}\n{version}")));
    let binary = cache.entry(CacheKey::GoBinary(&key)).into_path();
    if !binary.is_file() {
        run_go_build(go, module, slug, spec, &goflags, &bucket, &binary)?;
    }
    write_pointer(&bucket, &pointer, &key).map_err(io(&pointer))?;
    Ok(binary)
}

/// `go version`'s output, or `None` when `go` is not installed.
fn go_version(go: &OsStr, slug: &str) -> Result<Option<String>, GoError> {
    match Command::new(go)
        .arg("version")
        .env("GOTOOLCHAIN", "local")
        .output()
    {
        Ok(out) if out.status.success() => {
            Ok(Some(String::from_utf8_lossy(&out.stdout).trim().to_owned()))
        }
        Ok(out) => Err(GoError::Spawn {
            slug: slug.to_owned(),
            source: std::io::Error::other(String::from_utf8_lossy(&out.stderr).into_owned()),
        }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(GoError::Spawn {
            slug: slug.to_owned(),
            source,
        }),
    }
}

/// The `GOFLAGS` a module needs: vendored modules build from vendor/, a module with
/// requirements but no go.sum may record sums, everything else builds read-only.
fn goflags(module: &Path) -> std::io::Result<String> {
    if module.join("vendor").join("modules.txt").is_file() {
        return Ok("-mod=vendor".to_owned());
    }
    let go_mod = fs_err::read_to_string(module.join("go.mod"))?;
    let requires = go_mod
        .lines()
        .any(|line| line.trim_start().starts_with("require"));
    if requires && !module.join("go.sum").is_file() {
        return Ok("-mod=mod".to_owned());
    }
    Ok(String::new())
}

/// Hashes everything but the toolchain version: the recipe, the target, the flags and every
/// input file (by relative path, so the module's location does not matter).
fn source_key(module: &Path, spec: &GoBuild, goflags: &str) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let recipe = format!(
        "go-build-v{GO_BUILD_VERSION}\n{}\n{}\n{}\n{}\n{goflags}\n",
        spec.package,
        spec.goos,
        spec.goarch,
        BUILD_FLAGS.join(" ")
    );
    hasher.update(recipe.as_bytes());
    let mut files = Vec::new();
    // Skip what the go command itself ignores: `.`/`_` directories and testdata.
    let walk = walkdir::WalkDir::new(module)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            let name = e.file_name().to_string_lossy();
            e.depth() == 0
                || !e.file_type().is_dir()
                || !(name.starts_with('.') || name.starts_with('_') || name == "testdata")
        });
    for entry in walk {
        let entry = entry.map_err(std::io::Error::other)?;
        let name = entry.file_name().to_string_lossy();
        let input =
            matches!(name.as_ref(), "go.mod" | "go.sum" | "modules.txt") || name.ends_with(".go");
        if entry.file_type().is_file() && input {
            files.push(entry.into_path());
        }
    }
    for path in files {
        let rel = path.strip_prefix(module).unwrap_or(&path);
        let data = fs_err::read(&path)?;
        hasher.update(rel.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update((data.len() as u64).to_le_bytes());
        hasher.update(&data);
    }
    Ok(hex::encode(hasher.finalize()))
}

fn run_go_build(
    go: &OsStr,
    module: &Path,
    slug: &str,
    spec: &GoBuild,
    goflags: &str,
    bucket: &Path,
    binary: &Path,
) -> Result<(), GoError> {
    let io = |path: &Path| {
        let (slug, path) = (slug.to_owned(), path.to_owned());
        move |source| GoError::Io { slug, path, source }
    };
    let temp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempdir_in(bucket)
        .map_err(io(bucket))?;
    let out = temp.path().join("out");
    let package = if spec.package.starts_with('.') {
        spec.package.clone()
    } else {
        format!("./{}", spec.package)
    };
    let mut command = Command::new(go);
    command
        .arg("build")
        .args(BUILD_FLAGS)
        .arg("-o")
        .arg(&out)
        .arg(&package)
        .current_dir(module)
        .env("CGO_ENABLED", "0")
        .env("GOOS", &spec.goos)
        .env("GOARCH", &spec.goarch)
        .env("GOAMD64", "v1")
        .env("GOTOOLCHAIN", "local")
        .env("GO111MODULE", "on")
        .env("GOFLAGS", goflags);
    let output = command.output().map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => GoError::GoMissing {
            slug: slug.to_owned(),
        },
        _ => GoError::Spawn {
            slug: slug.to_owned(),
            source,
        },
    })?;
    if !output.status.success() {
        let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stdout));
        return Err(GoError::BuildFailed {
            slug: slug.to_owned(),
            package,
            module: module.to_owned(),
            output: text.trim_end().to_owned(),
        });
    }
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(&out, std::fs::Permissions::from_mode(0o555)).map_err(io(&out))?;
    match std::fs::rename(&out, binary) {
        Ok(()) => Ok(()),
        Err(_) if binary.is_file() => Ok(()),
        Err(source) => Err(GoError::Io {
            slug: slug.to_owned(),
            path: binary.to_owned(),
            source,
        }),
    }
}

fn write_pointer(bucket: &Path, pointer: &Path, key: &str) -> std::io::Result<()> {
    if fs_err::read_to_string(pointer).is_ok_and(|old| old == key) {
        return Ok(());
    }
    let mut temp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(bucket)?;
    std::io::Write::write_all(&mut temp, key.as_bytes())?;
    temp.persist(pointer).map_err(|err| err.error)?;
    Ok(())
}
