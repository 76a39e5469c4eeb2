//! The `workhorse` binary: everything is in the library, see [`workhorse_cli::run_from`].

fn main() -> std::process::ExitCode {
    let status = workhorse_cli::run_from(std::env::args_os());
    std::process::ExitCode::from(u8::try_from(status).unwrap_or(1))
}
