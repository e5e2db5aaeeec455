//! Running `slugplan` on a pseudo-terminal (util-linux `script`), for what only a terminal gets:
//! prompts and progress bars.

use std::io::Write;
use std::process::{Command, Stdio};

use super::{TestContext, slugplan_bin};

/// What a terminal showed: the exit code and everything written to it (both streams, mixed).
pub struct Screen {
    /// The exit code.
    pub code: Option<i32>,
    /// Everything the terminal showed.
    pub text: String,
}

impl Screen {
    /// Asserts the run exited with `code` and the screen shows each of `lines`.
    pub fn assert_shows(&self, code: i32, lines: &[&str]) {
        assert_eq!(self.code, Some(code), "{}", self.text);
        for line in lines {
            assert!(self.text.contains(line), "no `{line}` on:\n{}", self.text);
        }
    }
}

/// Runs `slugplan ARGS` (one shell word each, none needing quotes) in `ctx` on a pseudo-terminal,
/// with `ctx`'s environment, typing `input`.
pub fn on_a_terminal(ctx: &TestContext, args: &[&str], input: &str) -> Screen {
    let mut script = Command::new("script");
    script
        .arg("-qefc")
        .arg(format!("{} {}", slugplan_bin().display(), args.join(" ")))
        .arg("/dev/null")
        .current_dir(&ctx.dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    ctx.apply_env(&mut script);
    let mut child = script.spawn().expect("spawn script (util-linux)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Screen {
        code: out.status.code(),
        text: String::from_utf8_lossy(&out.stdout).into_owned(),
    }
}
