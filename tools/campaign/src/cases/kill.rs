//! Case 1: `kill -9` of `keygate cred rotate` and `keygate token create` at a random moment
//! of their run. After each: the credential opens to the old value at the old version or the
//! new value at the new one, never anything else; the rotation log ends at the current
//! version; a token is stored whole or not at all (and one that was printed is stored); every
//! row and both chains verify.

use std::time::{Duration, Instant};

use anyhow::Result;
use keygate_vault::{TokenDecision, Vault};
use secrecy::ExposeSecret;

use super::chains_verify;
use crate::home::{Binaries, KgHome, Ran, finish, random_below};
use crate::report::Outcome;

/// The case, as the table names it.
pub const NAME: &str = "1 kill -9 during rotation / token issue";

const CRED: &str = "target";

/// What the vault is known to hold.
struct Known {
    version: i64,
    value: String,
    tokens: usize,
}

#[derive(Default)]
struct Tally {
    rotation_old: u64,
    rotation_new: u64,
    token_absent: u64,
    token_stored: u64,
}

pub fn run(bins: &Binaries, tries: u64) -> Result<Outcome> {
    let mut outcome = Outcome::new(NAME);
    let home = KgHome::new(bins)?;
    home.ok_with_stdin(&["cred", "add", CRED], b"sk-camp-0")?;
    let mut known = Known { version: 1, value: "sk-camp-0".into(), tokens: 0 };
    // Kill anywhere from before main() to just after the commit: up to 1.3x a full run.
    let rotate_us = median_run_us(&home, &["cred", "rotate", CRED], &mut known)?;
    let token_us = median_run_us(&home, &["token", "create", "--tool", "echo", "--json"], &mut known)?;
    let mut tally = Tally::default();
    for i in 0..tries {
        outcome.tries += 1;
        if i % 2 == 0 {
            let delay = Duration::from_micros(random_below(rotate_us * 13 / 10));
            kill_rotation(&home, &mut known, &mut tally, &mut outcome, i, delay)?;
        } else {
            let delay = Duration::from_micros(random_below(token_us * 13 / 10));
            kill_token(&home, &mut known, &mut tally, &mut outcome, delay)?;
        }
        if !chains_verify(&home, &mut outcome, &format!("after kill {i}"))? {
            break;
        }
    }
    outcome.figure = format!(
        "rotations: {} old, {} new, 0 neither; tokens: {} absent, {} stored whole (kill within 0-{} / 0-{} ms)",
        tally.rotation_old,
        tally.rotation_new,
        tally.token_absent,
        tally.token_stored,
        rotate_us * 13 / 10_000,
        token_us * 13 / 10_000
    );
    Ok(outcome)
}

/// The median time of five complete runs of `args`, in microseconds; keeps `known` up to date.
fn median_run_us(home: &KgHome, args: &[&str], known: &mut Known) -> Result<u64> {
    let mut times = Vec::new();
    for i in 0..5 {
        let value = format!("sk-camp-calibrate-{i}");
        let started = Instant::now();
        home.ok_with_stdin(args, value.as_bytes())?;
        times.push(started.elapsed().as_micros() as u64);
        if args[1] == "rotate" {
            known.version += 1;
            known.value = value;
        } else {
            known.tokens += 1;
        }
    }
    times.sort_unstable();
    Ok(times[2].max(1))
}

fn kill_rotation(
    home: &KgHome,
    known: &mut Known,
    tally: &mut Tally,
    outcome: &mut Outcome,
    i: u64,
    delay: Duration,
) -> Result<()> {
    let value = format!("sk-camp-{}", i + 1);
    let Some((ran, vault)) = kill_after(home, &["cred", "rotate", CRED], value.as_bytes(), delay, outcome, i)? else {
        return Ok(());
    };
    match vault.open_credential(CRED) {
        Ok(c) if c.version == known.version && c.value.expose_secret() == known.value => {
            tally.rotation_old += 1;
            if ran.ok() {
                outcome.fail(format!("kill {i}: `cred rotate` reported success but the old value is current"));
            }
        }
        Ok(c) if c.version == known.version + 1 && c.value.expose_secret() == value => {
            tally.rotation_new += 1;
            known.version += 1;
            known.value = value;
        }
        Ok(c) => outcome.fail(format!(
            "kill {i}: neither old nor new: version {} (expected {} or {}) or its value differs",
            c.version,
            known.version,
            known.version + 1
        )),
        Err(e) => outcome.fail(format!("kill {i}: the credential does not open: {e}")),
    }
    check_log_agrees(&vault, known, outcome, i)?;
    check_rows(&vault, outcome, i)
}

/// Run `keygate args` with `stdin`, kill -9 it after `delay`, and open the vault it left; `None`
/// (and a failure noted) if the vault no longer opens.
fn kill_after(
    home: &KgHome,
    args: &[&str],
    stdin: &[u8],
    delay: Duration,
    outcome: &mut Outcome,
    i: u64,
) -> Result<Option<(Ran, Vault)>> {
    let mut child = home.spawn(args, stdin)?;
    std::thread::sleep(delay);
    let _ = child.kill();
    let ran = finish(child)?;
    match home.open() {
        Ok(vault) => Ok(Some((ran, vault))),
        Err(e) => {
            outcome.fail(format!("kill {i}: the vault no longer opens: {e}"));
            Ok(None)
        }
    }
}

/// The rotation log has one `rotated` row per version after the first, ending at the current one.
fn check_log_agrees(vault: &Vault, known: &Known, outcome: &mut Outcome, i: u64) -> Result<()> {
    let log = match vault.rotation_log() {
        Ok(log) => log,
        Err(e) => {
            outcome.fail(format!("kill {i}: the rotation log does not read: {e}"));
            return Ok(());
        }
    };
    let rotations: Vec<_> = log.iter().filter(|e| e.credential == CRED && e.action == "rotated").collect();
    let last = rotations.last().and_then(|e| e.to_version).unwrap_or(1);
    if rotations.len() as i64 != known.version - 1 || last != known.version {
        outcome.fail(format!(
            "kill {i}: log and vault disagree: {} rotations logged ending at {last}, vault at version {}",
            rotations.len(),
            known.version
        ));
    }
    Ok(())
}

fn check_rows(vault: &Vault, outcome: &mut Outcome, i: u64) -> Result<()> {
    match vault.verify_rows() {
        Ok(findings) if findings.is_empty() => {}
        Ok(findings) => outcome.fail(format!("kill {i}: {} rows no longer verify: {:?}", findings.len(), findings[0])),
        Err(e) => outcome.fail(format!("kill {i}: rows cannot be checked: {e}")),
    }
    Ok(())
}

fn kill_token(
    home: &KgHome,
    known: &mut Known,
    tally: &mut Tally,
    outcome: &mut Outcome,
    delay: Duration,
) -> Result<()> {
    let i = outcome.tries - 1;
    let Some((ran, vault)) =
        kill_after(home, &["token", "create", "--tool", "echo", "--json"], b"", delay, outcome, i)?
    else {
        return Ok(());
    };
    let listed = match vault.list_tokens() {
        Ok(tokens) => tokens.len(),
        Err(e) => {
            outcome.fail(format!("kill {i}: tokens do not list: {e}"));
            return Ok(());
        }
    };
    if listed == known.tokens {
        tally.token_absent += 1;
    } else if listed == known.tokens + 1 {
        tally.token_stored += 1;
        known.tokens += 1;
    } else {
        outcome.fail(format!("kill {i}: {listed} tokens listed, expected {} or {}", known.tokens, known.tokens + 1));
        known.tokens = listed;
    }
    if ran.ok() {
        // Printed means stored: the token the person copied must work.
        let printed: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap_or_default();
        let token = printed["token"].as_str().unwrap_or_default();
        if !matches!(vault.check_token(token, Some("echo")), Ok(TokenDecision::Allowed(_))) {
            outcome.fail(format!("kill {i}: a token printed as issued does not check out"));
        }
    }
    check_rows(&vault, outcome, i)
}
