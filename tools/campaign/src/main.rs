//! `keygate-campaign`: the failure campaign of issue 11. Drives the built `keygate` binary
//! from outside through failures and attacks, prints a table (case, tries, held, figure) and
//! exits 1 if any case did not hold. `tests/campaign` builds and runs it; RELIABILITY.md keeps
//! the figures of a full run.

mod cases;
mod home;
mod http;
mod report;
mod upstream;

use std::path::PathBuf;
use std::process::ExitCode;

use std::io::Write as _;

use anyhow::{Context, Result};
use clap::Parser;

use crate::home::{Binaries, KgHome};
use crate::report::Outcome;

/// Counts and durations; `--short` picks the reduced form CI runs.
#[derive(Debug, Parser)]
#[command(name = "keygate-campaign", about = "Keygate's failure campaign (see RELIABILITY.md)")]
struct Args {
    /// The reduced form: every case, small counts, well under two minutes
    #[arg(long)]
    short: bool,
    /// The keygate binary to drive (default: the one beside this program)
    #[arg(long, value_name = "PATH")]
    keygate: Option<PathBuf>,
    /// Run only these cases (1-7; repeatable)
    #[arg(long = "case", value_name = "N")]
    cases: Vec<u8>,
    /// Case 1: kills (half during rotations, half during token issue)
    #[arg(long)]
    kills: Option<u64>,
    /// Case 2: write attempts while the disk is full
    #[arg(long)]
    disk_writes: Option<u64>,
    /// Case 3: rounds of making the vault read-only and writable again
    #[arg(long)]
    readonly_rounds: Option<u64>,
    /// Case 4: times another process holds the write lock past the busy timeout
    #[arg(long)]
    lock_holds: Option<u64>,
    /// Case 5: single-byte corruptions of a copy of vault.db
    #[arg(long)]
    flips: Option<u64>,
    /// Case 6: seconds of concurrent CLI, app and server writers
    #[arg(long)]
    writers_secs: Option<u64>,
    /// Case 7: seconds of bad-token flood
    #[arg(long)]
    flood_secs: Option<u64>,
    /// Case 7: bad tokens per second
    #[arg(long)]
    flood_rate: Option<u64>,
    /// Case 7: seconds of idle measurement before the flood
    #[arg(long)]
    idle_secs: Option<u64>,
}

impl Args {
    /// `full` for the full run, `short` for `--short`, unless a flag says otherwise.
    fn pick(&self, flag: Option<u64>, full: u64, short: u64) -> u64 {
        flag.unwrap_or(if self.short { short } else { full })
    }

    fn wants(&self, case: u8) -> bool {
        self.cases.is_empty() || self.cases.contains(&case)
    }
}

/// One case, run on demand.
type CaseFn<'a> = Box<dyn Fn() -> Result<Outcome> + 'a>;

/// What every case shares: the binaries, an async runtime, and the upstream the `echo` tool calls.
#[derive(Debug)]
pub struct Ctx {
    pub bins: Binaries,
    pub rt: tokio::runtime::Runtime,
    pub upstream: String,
    pub received: upstream::Received,
    /// Whether the timing promise of case 7 is judged (the full run), or only reported.
    pub judge_timing: bool,
}

impl Ctx {
    /// A home whose `echo` tool calls this campaign's upstream with credential `echo_key`
    /// (holding `value`), and a token for it.
    pub fn echo_home(&self, value: &str) -> Result<(KgHome, String)> {
        let home = KgHome::new(&self.bins)?;
        home.configure_echo_tool(&self.upstream, "echo_key")?;
        home.ok_with_stdin(&["cred", "add", "echo_key"], value.as_bytes())?;
        let token = home.echo_token()?;
        Ok((home, token))
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "keygate-campaign: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<bool> {
    let keygate = match &args.keygate {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.parent().context("no directory")?.join("keygate"),
    };
    anyhow::ensure!(
        keygate.is_file(),
        "no keygate binary at {}: build it first (or pass --keygate)",
        keygate.display()
    );
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let (upstream, received) = upstream::start(&rt)?;
    let ctx = Ctx { bins: Binaries { keygate }, rt, upstream, received, judge_timing: !args.short };
    let flood = cases::flood::Settings {
        secs: args.pick(args.flood_secs, 60, 5),
        rate: args.pick(args.flood_rate, 10_000, 2_000),
        idle_secs: args.pick(args.idle_secs, 15, 3),
    };
    let (kills, disk, rounds) =
        (args.pick(args.kills, 1000, 40), args.pick(args.disk_writes, 200, 40), args.pick(args.readonly_rounds, 3, 1));
    let (holds, flips, writers) =
        (args.pick(args.lock_holds, 3, 1), args.pick(args.flips, 1000, 60), args.pick(args.writers_secs, 60, 8));
    let all: Vec<(u8, &str, CaseFn<'_>)> = vec![
        (1, cases::kill::NAME, Box::new(|| cases::kill::run(&ctx.bins, kills))),
        (2, cases::disk::NAME, Box::new(|| cases::disk::run(&ctx, disk))),
        (3, cases::readonly::NAME, Box::new(|| cases::readonly::run(&ctx, rounds))),
        (4, cases::lock::NAME, Box::new(|| cases::lock::run(&ctx, holds))),
        (5, cases::corrupt::NAME, Box::new(|| cases::corrupt::run(&ctx, flips))),
        (6, cases::writers::NAME, Box::new(|| cases::writers::run(&ctx, writers))),
        (7, cases::flood::NAME, Box::new(|| cases::flood::run(&ctx, &flood))),
    ];
    let mut outcomes = Vec::new();
    for (number, name, case) in all.into_iter().filter(|(n, _, _)| args.wants(*n)) {
        let started = std::time::Instant::now();
        let outcome = case().unwrap_or_else(|e| {
            let mut failed = Outcome::new(name);
            failed.fail(format!("the case could not run: {e:#}"));
            failed
        });
        let held = if outcome.held { "held" } else { "DID NOT HOLD" };
        let _ = writeln!(std::io::stderr(), "case {number} {held} ({:.1} s)", started.elapsed().as_secs_f64());
        outcomes.push(outcome);
    }
    report::print(&outcomes)?;
    Ok(outcomes.iter().all(|o| o.held))
}
