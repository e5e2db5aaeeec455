//! The `slugplan` binary: parse arguments, run the library, map the outcome to an exit code.
//! `slugplan __dyno` is the supervisor's own entry point for each dyno it starts (see
//! `slugplan::dynos::launcher`), never a command users type.

fn main() -> std::process::ExitCode {
    let mut args = std::env::args_os();
    if std::env::args_os().nth(1).as_deref()
        == Some(std::ffi::OsStr::new(
            slugplan::dynos::launcher::LAUNCHER_ARG,
        ))
    {
        return slugplan::dynos::launcher::main(args.by_ref().skip(2));
    }
    match slugplan::cli::args::Cli::parse_args(args) {
        Ok(cli) => slugplan::run(cli).into(),
        Err(status) => status.into(),
    }
}
