//! Case 6: three kinds of writer on one vault at once: the CLI in a loop (rotations, tokens,
//! revocations), an app-equivalent front (the vault API opened in this process, as the app's
//! agent opens it) and `keygate serve` answering calls that are audited and use the credential
//! being rotated. Afterwards: doctor is clean, both chains verify, and every count agrees:
//! versions with logged rotations, listed tokens with issued ones, audited calls with
//! answered ones, and every key the upstream saw is a value that was really stored.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use keygate_vault::{TokenRequest, VaultError};
use secrecy::{ExposeSecret, SecretString};

use super::chains_verify;
use super::readonly::check_calls_audited;
use crate::Ctx;
use crate::home::KgHome;
use crate::http::Conn;
use crate::report::Outcome;
use crate::upstream;

/// The case, as the table names it.
pub const NAME: &str = "6 concurrent CLI, app and server writers";

const CALLERS: usize = 4;

/// What one writer got done.
#[derive(Debug, Default)]
struct Done {
    rotations: u64,
    tokens: u64,
    revokes: u64,
    busy: u64,
    /// Values committed by rotations.
    values: Vec<String>,
    problems: Vec<String>,
}

pub fn run(ctx: &Ctx, secs: u64) -> Result<Outcome> {
    let mut outcome = Outcome::new(NAME);
    let (home, token) = ctx.echo_home("sk-w-0")?;
    let (serve, addr) = home.serve()?;
    let until = Instant::now() + Duration::from_secs(secs);
    let stop = Arc::new(AtomicBool::new(false));
    let (answered, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (addr, token, stop) = (addr.clone(), token.clone(), stop.clone());
            let (answered, refused) = (answered.clone(), refused.clone());
            ctx.rt.spawn(async move {
                let mut conn = Conn::new(&addr);
                while !stop.load(Ordering::Relaxed) {
                    let answer = conn.call(&token, "echo").await?;
                    let counter = if answer.call_succeeded() { &answered } else { &refused };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                anyhow::Ok(())
            })
        })
        .collect();
    let (cli, app) = std::thread::scope(|scope| {
        let cli = scope.spawn(|| cli_writer(&home, until));
        let app = scope.spawn(|| app_writer(&home, until));
        (cli.join(), app.join())
    });
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        if let Err(e) = ctx.rt.block_on(caller)? {
            outcome.fail(format!("a server call got no answer: {e:#}"));
        }
    }
    let cli = cli.map_err(|_| anyhow::anyhow!("the CLI writer panicked"))??;
    let app = app.map_err(|_| anyhow::anyhow!("the app writer panicked"))??;
    for problem in cli.problems.iter().chain(&app.problems) {
        outcome.fail(problem.clone());
    }
    outcome.tries = cli.rotations + cli.tokens + cli.revokes + app.rotations + app.tokens;
    outcome.tries += answered.load(Ordering::Relaxed) + refused.load(Ordering::Relaxed);

    let doctor = home.run(&["doctor"])?;
    if !doctor.ok() {
        outcome.fail(format!("doctor after the run: {}", doctor.stdout.replace('\n', " | ")));
    }
    if !serve.stop()? {
        outcome.fail("`keygate serve` did not stop cleanly");
    }
    chains_verify(&home, &mut outcome, "after the writers")?;
    check_counts(ctx, &home, &mut outcome, &cli, &app)?;
    check_calls_audited(&home, &mut outcome, answered.load(Ordering::Relaxed))?;
    outcome.figure = format!(
        "{secs} s: CLI {} rotations, {} tokens, {} revocations ({} busy, exit 75); app {} rotations, {} tokens \
         ({} busy); server {} calls answered, {} refused",
        cli.rotations,
        cli.tokens,
        cli.revokes,
        cli.busy,
        app.rotations,
        app.tokens,
        app.busy,
        answered.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed)
    );
    Ok(outcome)
}

/// `keygate` in a loop: rotate, issue, revoke the token just issued.
fn cli_writer(home: &KgHome, until: Instant) -> Result<Done> {
    let mut done = Done::default();
    let mut last_token: Option<String> = None;
    let mut i = 0u64;
    while Instant::now() < until {
        i += 1;
        let value = format!("sk-w-cli-{i}");
        let revoke_id = last_token.clone().unwrap_or_default();
        let (args, stdin): (Vec<&str>, &[u8]) = match i % 3 {
            0 => (vec!["cred", "rotate", "echo_key"], value.as_bytes()),
            1 => (vec!["token", "create", "--tool", "echo", "--json"], b""),
            _ if last_token.is_some() => (vec!["token", "revoke", &revoke_id], b""),
            _ => continue,
        };
        let ran = home.run_with_stdin(&args, stdin)?;
        if ran.ok() {
            match i % 3 {
                0 => {
                    done.rotations += 1;
                    done.values.push(value);
                }
                1 => {
                    done.tokens += 1;
                    let created: serde_json::Value = serde_json::from_str(&ran.stdout)?;
                    last_token = created["id"].as_str().map(str::to_string);
                }
                _ => {
                    done.revokes += 1;
                    last_token = None;
                }
            }
        } else if ran.code == Some(75) && ran.clear_error() {
            done.busy += 1;
        } else {
            done.problems.push(format!("`keygate {}`: exit {:?} {}", args.join(" "), ran.code, ran.error_line()));
        }
    }
    Ok(done)
}

/// The vault API in this process, as the app's agent uses it: rotate and issue.
fn app_writer(home: &KgHome, until: Instant) -> Result<Done> {
    let mut vault = home.open().context("open the vault as the app")?;
    let mut done = Done::default();
    let mut i = 0u64;
    while Instant::now() < until {
        i += 1;
        let value = format!("sk-w-app-{i}");
        let result = if i.is_multiple_of(2) {
            vault.rotate_credential("echo_key", &SecretString::from(value.clone())).map(|_| true)
        } else {
            let request = TokenRequest { tools: vec!["echo".into()], ttl: None, label: Some("app".into()) };
            vault.issue_token(&request).map(|_| false)
        };
        match result {
            Ok(true) => {
                done.rotations += 1;
                done.values.push(value);
            }
            Ok(false) => done.tokens += 1,
            Err(VaultError::Busy) => done.busy += 1,
            Err(e) => done.problems.push(format!("app writer: {e}")),
        }
        // The app's agent writes on events, not in a spin: leave the lock to the others too.
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(done)
}

/// Versions, the log, tokens and the keys the upstream saw all agree with what was done.
fn check_counts(ctx: &Ctx, home: &KgHome, outcome: &mut Outcome, cli: &Done, app: &Done) -> Result<()> {
    let vault = home.open()?;
    let rotations = (cli.rotations + app.rotations) as i64;
    let current = vault.open_credential("echo_key")?;
    let committed: HashSet<String> =
        cli.values.iter().chain(&app.values).cloned().chain(["sk-w-0".to_string()]).collect();
    if current.version != 1 + rotations || !committed.contains(current.value.expose_secret()) {
        outcome
            .fail(format!("echo_key at version {} after {rotations} rotations, or a value never set", current.version));
    }
    let logged = vault.rotation_log()?.iter().filter(|e| e.credential == "echo_key" && e.action == "rotated").count();
    if logged as i64 != rotations {
        outcome.fail(format!("{logged} rotations logged, {rotations} done"));
    }
    let tokens = vault.list_tokens()?;
    let issued = 1 + cli.tokens + app.tokens;
    let revoked = tokens.iter().filter(|t| t.revoked_at.is_some()).count() as u64;
    if tokens.len() as u64 != issued || revoked != cli.revokes {
        outcome.fail(format!(
            "{} tokens ({revoked} revoked) listed, {issued} issued ({} revoked)",
            tokens.len(),
            cli.revokes
        ));
    }
    let foreign: Vec<String> = upstream::keys(&ctx.received)
        .into_iter()
        .filter(|k| k.starts_with("sk-w-") && !committed.contains(k))
        .collect();
    if !foreign.is_empty() {
        outcome.fail(format!("the upstream was sent {} values never committed", foreign.len()));
    }
    Ok(())
}
