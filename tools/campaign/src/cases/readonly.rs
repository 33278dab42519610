//! Case 3: the vault file (vault.db and its write-ahead log) made read-only in the middle of a
//! run, with `keygate serve` up and the CLI writing. We run as root, whom file modes do not
//! stop, so "read-only" is the immutable attribute (`chattr +i`), which the kernel enforces
//! for every process and every descriptor already open. Writes must fail with a clear error,
//! calls must be refused (their audit row cannot be written), reads may go on, nothing stored
//! may be lost, and both the server and the CLI must work again once the file is writable.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};

use super::chains_verify;
use super::lock::check_intact;
use crate::Ctx;
use crate::home::{KgHome, Ran};
use crate::http::Conn;
use crate::report::Outcome;

/// The case, as the table names it.
pub const NAME: &str = "3 vault made read-only mid-run";

pub fn run(ctx: &Ctx, rounds: u64) -> Result<Outcome> {
    let mut outcome = Outcome::new(NAME);
    let (home, token) = ctx.echo_home("sk-ro-0")?;
    let (serve, addr) = home.serve()?;
    let mut conn = Conn::new(&addr);
    let mut successes = u64::from(ctx.rt.block_on(conn.call(&token, "echo"))?.call_succeeded());
    let mut version = 1;
    let mut refusals = Vec::new();
    for round in 0..rounds {
        outcome.tries += 1;
        let files = vault_files(&home);
        set_immutable(&files, true)?;
        let result = while_read_only(ctx, &home, &mut conn, &token, &mut outcome, round);
        set_immutable(&files, false)?;
        let (served, message) = result?;
        successes += served;
        refusals.push(message);
        // Writable again: the same server serves without a restart, the CLI writes.
        if serves_again(ctx, &mut conn, &token) {
            successes += 1;
        } else {
            outcome.fail(format!("round {round}: the server did not serve again once the vault was writable"));
        }
        version += 1;
        let value = format!("sk-ro-{version}");
        home.ok_with_stdin(&["cred", "rotate", "echo_key"], value.as_bytes()).context("rotate once writable")?;
        home.ok(&["token", "create", "--tool", "echo"]).context("token create once writable")?;
        check_intact(&home, &mut outcome, version, &value)?;
    }
    if !serve.stop()? {
        outcome.fail("`keygate serve` did not stop cleanly");
    }
    chains_verify(&home, &mut outcome, "after the last round")?;
    check_calls_audited(&home, &mut outcome, successes)?;
    refusals.dedup();
    outcome.figure = format!("writes refused, calls refused ({}); recovered without a restart", refusals.join("; "));
    Ok(outcome)
}

/// Whether `conn` gets a successful call within five tries a fifth of a second apart: the same
/// server serving again, without a restart, once what stopped it is gone.
pub fn serves_again(ctx: &Ctx, conn: &mut Conn, token: &str) -> bool {
    (0..5).any(|_| {
        let ok = ctx.rt.block_on(conn.call(token, "echo")).is_ok_and(|a| a.call_succeeded());
        if !ok {
            std::thread::sleep(Duration::from_millis(200));
        }
        ok
    })
}

/// Every answered call has its allowed audit row.
pub fn check_calls_audited(home: &KgHome, outcome: &mut Outcome, successes: u64) -> Result<()> {
    let rows = home.json(&["audit", "--json"])?;
    let audited = rows
        .as_array()
        .context("audit rows")?
        .iter()
        .filter(|r| r["tool"] == "echo" && r["decision"] == "allowed" && r["status"] == "200")
        .count() as u64;
    if audited != successes {
        outcome.fail(format!("{successes} calls were answered but {audited} are audited as answered"));
    }
    Ok(())
}

/// vault.db and, if there is one, its write-ahead log.
fn vault_files(home: &KgHome) -> Vec<PathBuf> {
    let db = home.vault_path();
    let wal = PathBuf::from(format!("{}-wal", db.display()));
    [db, wal].into_iter().filter(|p| p.exists()).collect()
}

fn set_immutable(files: &[PathBuf], on: bool) -> Result<()> {
    let flag = if on { "+i" } else { "-i" };
    let status = std::process::Command::new("chattr").arg(flag).args(files).status().context("run chattr")?;
    anyhow::ensure!(status.success(), "chattr {flag} failed: this file system has no immutable attribute");
    Ok(())
}

/// The writes and the call while read-only; returns the calls answered (0 if refused, as they
/// should be) and what the refusal said.
fn while_read_only(
    ctx: &Ctx,
    home: &KgHome,
    conn: &mut Conn,
    token: &str,
    outcome: &mut Outcome,
    round: u64,
) -> Result<(u64, String)> {
    let writes: [(&[&str], &[u8]); 3] = [
        (&["cred", "rotate", "echo_key"], b"sk-ro-refused"),
        (&["token", "create", "--tool", "echo"], b""),
        (&["cred", "add", "added_read_only"], b"sk-ro-new"),
    ];
    for (args, stdin) in writes {
        let ran = home.run_with_stdin(args, stdin)?;
        expect_refused(&ran, outcome, &format!("round {round}: `keygate {}`", args.join(" ")));
    }
    let listed = home.run(&["cred", "list", "--json"])?;
    if !(listed.clear_error() || listed.ok() && listed.stdout.contains("\"echo_key\"")) {
        outcome.fail(format!("round {round}: `cred list` read-only: exit {:?} {}", listed.code, listed.error_line()));
    }
    let answer = ctx.rt.block_on(conn.call(token, "echo"));
    match answer {
        Ok(a) if a.call_succeeded() => {
            outcome.fail(format!("round {round}: a call was answered while the vault was read-only"));
            Ok((1, String::new()))
        }
        Ok(a) => Ok((0, refusal_words(&a.body))),
        Err(e) => {
            outcome.fail(format!("round {round}: the call got no answer: {e}"));
            Ok((0, String::new()))
        }
    }
}

fn expect_refused(ran: &Ran, outcome: &mut Outcome, what: &str) {
    if ran.ok() {
        outcome.fail(format!("{what} succeeded on a read-only vault"));
    } else if !ran.clear_error() {
        outcome.fail(format!("{what}: exit {:?}, unclear error {:?}", ran.code, ran.stderr));
    }
}

/// The message of a refused call, shortened for the table.
pub fn refusal_words(body: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let text = value["error"]["message"]
        .as_str()
        .or_else(|| value["result"]["content"][0]["text"].as_str())
        .unwrap_or(body)
        .to_string();
    text.chars().take(90).collect()
}
