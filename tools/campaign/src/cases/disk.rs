//! Case 2: the disk filling up during writes. The home lives on a small tmpfs mounted for the
//! case; a filler file takes every free byte while `keygate serve` runs and the CLI writes.
//! Writes must fail with a clear error, calls must be refused or answered-and-audited, nothing
//! stored before may be lost or damaged, and once space is back the same server and the CLI
//! work again.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use secrecy::ExposeSecret;

use super::chains_verify;
use super::lock::check_intact;
use super::readonly::{check_calls_audited, refusal_words, serves_again};
use crate::Ctx;
use crate::home::KgHome;
use crate::http::Conn;
use crate::report::Outcome;

/// The case, as the table names it.
pub const NAME: &str = "2 disk full during writes (tmpfs)";

/// The tmpfs: room for the vault, not much more.
const SIZE: &str = "6m";

/// A tmpfs mounted on a temp directory, unmounted when dropped.
struct Mount {
    dir: tempfile::TempDir,
}

impl Mount {
    fn new() -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("kg-campaign-disk-").tempdir()?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={SIZE},mode=0700")])
            .arg("tmpfs")
            .arg(dir.path())
            .output()?;
        if !out.status.success() {
            bail!(
                "cannot mount a tmpfs ({}): this case needs root (or CAP_SYS_ADMIN)",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("--lazy").arg(self.dir.path()).status();
    }
}

/// What the CLI wrote while the disk was full, and what was refused.
#[derive(Default)]
struct Writes {
    version: i64,
    value: String,
    tokens_issued: u64,
    added: Vec<(String, String)>,
    refused: u64,
    messages: Vec<String>,
}

pub fn run(ctx: &Ctx, attempts: u64) -> Result<Outcome> {
    let mut outcome = Outcome::new(NAME);
    let mount = Mount::new()?;
    let home = KgHome::at(&ctx.bins, &mount.path().join("home"), None)?;
    home.configure_echo_tool(&ctx.upstream, "echo_key")?;
    home.ok_with_stdin(&["cred", "add", "echo_key"], b"sk-disk-1")?;
    let token = home.echo_token()?;
    let kept: Vec<(String, String)> = (0..5).map(|i| (format!("kept_{i}"), format!("sk-kept-{i}"))).collect();
    for (name, value) in &kept {
        home.ok_with_stdin(&["cred", "add", name], value.as_bytes())?;
    }
    let (serve, addr) = home.serve()?;
    let mut conn = Conn::new(&addr);
    let mut successes = u64::from(ctx.rt.block_on(conn.call(&token, "echo"))?.call_succeeded());
    let tokens_before = home.json(&["token", "list", "--json"])?.as_array().map_or(0, Vec::len) as u64;

    let filler = mount.path().join("filler");
    fill(&filler)?;
    let mut writes = Writes { version: 1, value: "sk-disk-1".into(), ..Writes::default() };
    let mut call_refusals = Vec::new();
    for attempt in 0..attempts {
        outcome.tries += 1;
        write_once(&home, attempt, &mut writes, &mut outcome)?;
        if attempt % 5 == 0 {
            match ctx.rt.block_on(conn.call(&token, "echo")) {
                Ok(a) if a.call_succeeded() => successes += 1,
                Ok(a) => call_refusals.push(refusal_words(&a.body)),
                Err(e) => outcome.fail(format!("attempt {attempt}: a call got no answer with the disk full: {e}")),
            }
        }
    }
    if writes.refused == 0 {
        outcome.fail(format!("the disk never filled: all {attempts} writes succeeded (make the tmpfs smaller)"));
    }
    let listed = home.run(&["cred", "list", "--json"])?;
    if !(listed.ok() || listed.clear_error()) {
        outcome.fail(format!("`cred list` with the disk full: exit {:?} {}", listed.code, listed.error_line()));
    }

    std::fs::remove_file(&filler)?;
    if serves_again(ctx, &mut conn, &token) {
        successes += 1;
    } else {
        outcome.fail("the server did not serve again once space was back");
    }
    writes.version += 1;
    writes.value = "sk-disk-after".into();
    home.ok_with_stdin(&["cred", "rotate", "echo_key"], writes.value.as_bytes())
        .context("rotate once space is back")?;
    home.ok(&["token", "create", "--tool", "echo"]).context("token create once space is back")?;
    writes.tokens_issued += 1;

    check_intact(&home, &mut outcome, writes.version, &writes.value)?;
    check_kept(&home, &mut outcome, kept.iter().chain(&writes.added))?;
    let tokens = home.json(&["token", "list", "--json"])?.as_array().map_or(0, Vec::len) as u64;
    if tokens != tokens_before + writes.tokens_issued {
        outcome.fail(format!("{tokens} tokens listed, {} expected", tokens_before + writes.tokens_issued));
    }
    if !serve.stop()? {
        outcome.fail("`keygate serve` did not stop cleanly");
    }
    chains_verify(&home, &mut outcome, "once space was back")?;
    check_calls_audited(&home, &mut outcome, successes)?;
    writes.messages.dedup();
    call_refusals.dedup();
    outcome.figure = format!(
        "{} of {attempts} writes refused ({}); calls: {}; served again once space was back",
        writes.refused,
        writes.messages.first().map_or("-", String::as_str),
        call_refusals.first().map_or("all answered and audited", String::as_str)
    );
    drop(home);
    drop(mount);
    Ok(outcome)
}

/// Write zeros into `path` until the file system refuses another byte.
fn fill(path: &PathBuf) -> Result<()> {
    let mut file = std::fs::File::create(path)?;
    for chunk in [65_536usize, 4096, 512, 1] {
        let block = vec![0u8; chunk];
        while file.write_all(&block).is_ok() {}
    }
    let _ = file.sync_all();
    Ok(())
}

/// One CLI write: a rotation, a token or a new credential, in turn.
fn write_once(home: &KgHome, attempt: u64, writes: &mut Writes, outcome: &mut Outcome) -> Result<()> {
    let big = format!("sk-disk-{attempt}-{}", "x".repeat(8_000));
    let (args, stdin): (Vec<String>, &str) = match attempt % 3 {
        0 => (vec!["cred".into(), "rotate".into(), "echo_key".into()], &big),
        1 => (vec!["token".into(), "create".into(), "--tool".into(), "echo".into()], ""),
        _ => (vec!["cred".into(), "add".into(), format!("added_{attempt}")], &big),
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ran = home.run_with_stdin(&args, stdin.as_bytes())?;
    if ran.ok() {
        match attempt % 3 {
            0 => {
                writes.version += 1;
                writes.value = big;
            }
            1 => writes.tokens_issued += 1,
            _ => writes.added.push((format!("added_{attempt}"), big)),
        }
    } else if ran.clear_error() {
        writes.refused += 1;
        writes.messages.push(ran.error_line().trim_start_matches("keygate: ").chars().take(90).collect());
    } else {
        outcome.fail(format!("`keygate {}` on a full disk: exit {:?}, {:?}", args.join(" "), ran.code, ran.stderr));
    }
    Ok(())
}

/// Every credential in `kept` opens to its value.
fn check_kept<'a>(
    home: &KgHome,
    outcome: &mut Outcome,
    kept: impl Iterator<Item = &'a (String, String)>,
) -> Result<()> {
    let vault = home.open()?;
    for (name, value) in kept {
        match vault.open_credential(name) {
            Ok(c) if c.value.expose_secret() == value => {}
            Ok(_) => outcome.fail(format!("{name} opens to another value")),
            Err(e) => outcome.fail(format!("{name} was lost or damaged: {e}")),
        }
    }
    Ok(())
}
