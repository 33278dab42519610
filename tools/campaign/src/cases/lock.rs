//! Case 4: another process holds the vault's write lock (`BEGIN IMMEDIATE`) for longer than
//! Keygate's busy timeout (5 s) while the CLI rotates and issues a token and `keygate serve`
//! answers a call. Each must give up with a clear error (the CLI: exit 75, "busy"; the call:
//! refused, since its audit row cannot be written), none may hang, and once the lock is let
//! go everything works again with nothing lost.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use secrecy::ExposeSecret;

use super::chains_verify;
use super::readonly::check_calls_audited;
use crate::Ctx;
use crate::home::{KgHome, finish_within};
use crate::http::Conn;
use crate::report::Outcome;

/// The case, as the table names it.
pub const NAME: &str = "4 write lock held past the busy timeout";

/// Longer than the vault's 5 s busy timeout.
const HOLD: Duration = Duration::from_secs(8);
/// An answer later than this is a hang.
const HANG: Duration = Duration::from_secs(30);

pub fn run(ctx: &Ctx, holds: u64) -> Result<Outcome> {
    let mut outcome = Outcome::new(NAME);
    let (home, token) = ctx.echo_home("sk-lock-0")?;
    let (serve, addr) = home.serve()?;
    let mut conn = Conn::new(&addr);
    anyhow::ensure!(ctx.rt.block_on(conn.call(&token, "echo"))?.call_succeeded(), "the first call failed");
    let mut successes = 1;
    let mut version = 1;
    let mut slowest = Duration::ZERO;
    let (mut refused, mut waited) = (0, 0);
    for hold in 0..holds {
        outcome.tries += 1;
        let holder = hold_lock(&home, HOLD)?;
        let started = Instant::now();
        let rotate = home.spawn(&["cred", "rotate", "echo_key"], format!("sk-lock-refused-{hold}").as_bytes())?;
        let issue = home.spawn(&["token", "create", "--tool", "echo", "--json"], b"")?;
        let call = ctx.rt.spawn({
            let (addr, token) = (addr.clone(), token.clone());
            async move { (Conn::new(&addr).call(&token, "echo").await, Instant::now()) }
        });
        for (what, child) in [("cred rotate", rotate), ("token create", issue)] {
            match finish_within(child, HANG)? {
                None => outcome.fail(format!("hold {hold}: `keygate {what}` hung past {} s", HANG.as_secs())),
                Some(ran) if ran.code == Some(75) && ran.clear_error() && ran.stderr.contains("busy") => {}
                Some(ran) => outcome.fail(format!(
                    "hold {hold}: `keygate {what}` under the lock: exit {:?}, {:?}",
                    ran.code,
                    ran.error_line()
                )),
            }
        }
        slowest = slowest.max(started.elapsed());
        let (answer, answered_at) = ctx.rt.block_on(call)?;
        let released = holder.join().map_err(|_| anyhow::anyhow!("the lock holder panicked"))??;
        slowest = slowest.max(answered_at - started);
        match answer {
            // Answered once the lock was gone: its audit row was written first, as ever.
            Ok(answer) if answer.call_succeeded() && answered_at > released => {
                successes += 1;
                waited += 1;
            }
            Ok(answer) if answer.call_succeeded() => {
                outcome.fail(format!("hold {hold}: a call was answered while its audit row could not be written"))
            }
            Ok(answer) if answer.body.contains("busy") => refused += 1,
            Ok(answer) => outcome.fail(format!("hold {hold}: the refused call does not say why: {}", answer.body)),
            Err(e) => outcome.fail(format!("hold {hold}: the call got no answer: {e}")),
        }
        version += 1;
        let value = format!("sk-lock-{version}");
        home.ok_with_stdin(&["cred", "rotate", "echo_key"], value.as_bytes()).context("rotate after the lock")?;
        if ctx.rt.block_on(conn.call(&token, "echo"))?.call_succeeded() {
            successes += 1;
        } else {
            outcome.fail(format!("hold {hold}: the server did not serve again once the lock was let go"));
        }
        check_intact(&home, &mut outcome, version, &value)?;
    }
    if !serve.stop()? {
        outcome.fail("`keygate serve` did not stop cleanly");
    }
    chains_verify(&home, &mut outcome, "after the last hold")?;
    check_calls_audited(&home, &mut outcome, successes)?;
    outcome.figure = format!(
        "lock held {} s (busy timeout 5 s): CLI exit 75 \"busy\"; calls {refused} refused \"busy\", {waited} \
         answered after the lock went; all within {:.1} s",
        HOLD.as_secs(),
        slowest.as_secs_f64()
    );
    Ok(outcome)
}

/// Another process's connection holding the write lock for `hold`; returns once it holds it.
/// The thread returns when it let go.
fn hold_lock(home: &KgHome, hold: Duration) -> Result<std::thread::JoinHandle<Result<Instant>>> {
    let path = home.vault_path();
    let (held, is_held) = mpsc::channel();
    let holder = std::thread::spawn(move || -> Result<Instant> {
        let conn = rusqlite::Connection::open(&path)?;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let _ = held.send(());
        std::thread::sleep(hold);
        conn.execute_batch("ROLLBACK")?;
        Ok(Instant::now())
    });
    is_held.recv_timeout(Duration::from_secs(10)).context("could not take the write lock")?;
    Ok(holder)
}

/// The credential opens to `value` at `version`, every row verifies, and the chains hold.
pub fn check_intact(home: &KgHome, outcome: &mut Outcome, version: i64, value: &str) -> Result<()> {
    let vault = home.open()?;
    match vault.open_credential("echo_key") {
        Ok(c) if c.version == version && c.value.expose_secret() == value => {}
        Ok(c) => {
            outcome.fail(format!("echo_key is at version {} (expected {version}) or its value differs", c.version))
        }
        Err(e) => outcome.fail(format!("echo_key does not open: {e}")),
    }
    match vault.verify_rows() {
        Ok(findings) if findings.is_empty() => {}
        Ok(findings) => outcome.fail(format!("{} rows no longer verify", findings.len())),
        Err(e) => outcome.fail(format!("rows cannot be checked: {e}")),
    }
    Ok(())
}
