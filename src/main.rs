//! The `slugplan` binary: parse arguments, run the library, map the outcome to an exit code.

fn main() -> std::process::ExitCode {
    let cli = slugplan::cli::args::Cli::parse_args(std::env::args_os());
    slugplan::run(cli).into()
}
