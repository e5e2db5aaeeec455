//! The `slugplan` binary: parse arguments, run the library, map the outcome to an exit code.

fn main() -> std::process::ExitCode {
    match slugplan::cli::args::Cli::parse_args(std::env::args_os()) {
        Ok(cli) => slugplan::run(cli).into(),
        Err(status) => status.into(),
    }
}
