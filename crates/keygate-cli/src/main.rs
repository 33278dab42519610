//! `keygate`: the headless front to the vault. Parse, call the vault, print.

mod approvals_cli;
mod audit_cli;
mod cli;
mod client_cli;
mod client_commands;
mod commands;
mod confirm;
mod cred_commands;
mod doctor;
mod grant_cli;
mod grant_commands;
mod import_commands;
mod output;
mod rekey;
mod reload;
mod scheduled;
mod secret_input;
mod serve;
mod server_cli;
mod server_commands;
mod server_state;
mod status;
mod status_view;
mod team_commands;
mod tools_cli;

use std::io::{ErrorKind, Write};
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind as ClapErrorKind;
use keygate_vault::VaultError;

/// Every heap block is zeroed when freed. What Keygate cannot zeroize itself (the copies of a
/// key or token that reqwest, hyper and serde make in buffers they free) would otherwise stay
/// in freed memory for as long as nothing reuses it: tests/memory.rs measures that a core of
/// `keygate serve` taken after calls holds neither the upstream key nor the token.
/// Underneath is mimalloc rather than glibc's malloc: blocks allocated on one tokio worker
/// and freed on the other are the norm here, and with glibc they cost a quarter of the
/// server's CPU per call under load (BENCHMARKS.md, "Load from outside").
#[global_allocator]
static ALLOCATOR: zeroizing_alloc::ZeroAlloc<mimalloc::MiMalloc> = zeroizing_alloc::ZeroAlloc(mimalloc::MiMalloc);

/// Exit codes: 0 success, 1 error, 2 bad usage, 75 vault busy (retry).
const EXIT_ERROR: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_BUSY: u8 = 75;

/// A mistake in how the command was called (exit 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn main() -> ExitCode {
    // Every keygate process may hold a key, a token or the master key: no core dumps, no ptrace.
    keygate_mcp::harden_process();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if matches!(err.kind(), ClapErrorKind::DisplayHelp | ClapErrorKind::DisplayVersion) => {
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err)
            if matches!(
                err.kind(),
                ClapErrorKind::MissingSubcommand | ClapErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) =>
        {
            // `keygate` or `keygate cred` alone: show that command's help, not a one-liner.
            print_help_for(std::env::args().skip(1));
            return ExitCode::from(EXIT_USAGE);
        }
        Err(err) => {
            return fail(EXIT_USAGE, &format!("{} (see `keygate --help`)", clap_problem(&err)));
        }
    };
    match commands::run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => report(&err),
    }
}

/// clap's lines before the usage block name the problem, and a `tip:` line may suggest the
/// spelling meant (`--jsn`: "a similar argument exists: '--json'"); fold them into one line.
fn clap_problem(err: &clap::Error) -> String {
    let rendered = err.render().to_string();
    let problem: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|line| !line.starts_with("Usage:"))
        .filter(|line| !line.is_empty())
        .collect();
    problem.join(" ").trim_start_matches("error: ").to_string()
}

/// Print the help of the command `args` name (as many of them as are subcommands).
pub(crate) fn print_help_for(args: impl Iterator<Item = String>) {
    let mut command = <cli::Cli as clap::CommandFactory>::command();
    let mut names = vec![command.get_name().to_string()];
    for arg in args {
        match command.find_subcommand(&arg) {
            Some(sub) => {
                names.push(arg);
                command = sub.clone();
            }
            None => break,
        }
    }
    let mut help = command.bin_name(names.join(" "));
    let _ = help.print_help();
}

fn report(err: &anyhow::Error) -> ExitCode {
    if let Some(io) = err.downcast_ref::<std::io::Error>()
        && io.kind() == ErrorKind::BrokenPipe
    {
        return ExitCode::SUCCESS;
    }
    let code = if err.is::<UsageError>() {
        EXIT_USAGE
    } else if matches!(err.downcast_ref::<VaultError>(), Some(VaultError::Busy)) {
        EXIT_BUSY
    } else {
        EXIT_ERROR
    };
    let message = err.chain().map(ToString::to_string).collect::<Vec<_>>().join(": ");
    fail(code, &message)
}

fn fail(code: u8, message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "keygate: {message}");
    ExitCode::from(code)
}
