//! The `slugplan` binary: parse arguments, run the library, map the outcome to an exit code.

fn main() -> std::process::ExitCode {
    slugplan::cli::main()
}
