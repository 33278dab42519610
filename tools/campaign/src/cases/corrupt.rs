//! Case 5: single-byte corruptions of a copy of a populated, checkpointed vault.db. After each
//! flip every listing, every check and the values themselves are compared with what the
//! intact copy gave: each must be a clear error or the same data, never a panic, and never
//! changed data that no check (`audit verify`, `log verify`, `doctor`) flags, except in the
//! fields Keygate shows but does not authenticate (see `UNAUTHENTICATED`).

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;

use anyhow::{Context, Result};
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::Ctx;
use crate::home::{KgHome, Ran, random_below};
use crate::http::Conn;
use crate::report::Outcome;

/// The case, as the table names it.
pub const NAME: &str = "5 single-byte corruptions of vault.db";

/// Listings compared with the intact copy's.
const READS: [&[&str]; 5] = [
    &["cred", "list", "--json"],
    &["token", "list", "--json"],
    &["grant", "list", "--json"],
    &["log", "--json"],
    &["audit", "--json"],
];

/// Fields shown but not authenticated by design: a token's label, issue time and use counts
/// (and a grant's, summed from its tokens) decide nothing; a token's MAC covers its hash,
/// tools, expiry, revocation and grant.
const UNAUTHENTICATED: [&str; 6] = [
    "token.label",
    "token.created_at",
    "token.last_used_at",
    "token.uses",
    "grant.last_used_at",
    "grant.tokens_minted",
];

const CREDS: [(&str, &str); 3] = [("alpha", "sk-alpha-3"), ("beta", "sk-beta-1"), ("gamma", "sk-gamma-1")];

/// What the intact copy gave.
struct Baseline {
    bytes: Vec<u8>,
    /// Offsets of the bytes that are not zero.
    nonzero: Vec<usize>,
    reads: Vec<String>,
}

#[derive(Default)]
struct Tally {
    intact: u64,
    errors: u64,
    caught: u64,
    unauthenticated: u64,
    fields: BTreeSet<String>,
}

pub fn run(ctx: &Ctx, flips: u64) -> Result<Outcome> {
    let mut outcome = Outcome::new(NAME);
    let (home, baseline) = populate(ctx)?;
    let mut tally = Tally::default();
    for flip in 0..flips {
        outcome.tries += 1;
        // Half anywhere in the file; half on a byte that holds something (most of a small
        // vault's pages are zeroed free space, which no reader looks at).
        let offset = if flip % 2 == 0 {
            random_below(baseline.bytes.len() as u64) as usize
        } else {
            baseline.nonzero[random_below(baseline.nonzero.len() as u64) as usize]
        };
        let mut bytes = baseline.bytes.clone();
        bytes[offset] ^= 1 + random_below(255) as u8;
        place(&home, &bytes)?;
        try_copy(&home, &baseline, &mut tally, &mut outcome, &format!("flip {flip} at byte {offset}"))?;
    }
    outcome.figure = format!(
        "{} intact, {} refused with a clear error, {} changed and flagged by verify/doctor, {} changed only in \
         unauthenticated fields ({}), 0 panics",
        tally.intact,
        tally.errors,
        tally.caught,
        tally.unauthenticated,
        tally.fields.iter().cloned().collect::<Vec<_>>().join(", ")
    );
    Ok(outcome)
}

/// A vault with rotated credentials, tokens (one revoked), grants (one revoked), audited calls
/// and rotation-log rows, checkpointed into vault.db alone; and what it reads as.
fn populate(ctx: &Ctx) -> Result<(KgHome, Baseline)> {
    let (home, token) = ctx.echo_home("sk-echo-1")?;
    home.ok_with_stdin(&["cred", "add", "alpha", "--max-age-days", "30"], b"sk-alpha-1")?;
    home.ok_with_stdin(&["cred", "rotate", "alpha"], b"sk-alpha-2")?;
    home.ok_with_stdin(&["cred", "rotate", "alpha"], b"sk-alpha-3")?;
    home.ok_with_stdin(&["cred", "add", "beta"], b"sk-beta-1")?;
    home.ok_with_stdin(&["cred", "add", "gamma", "--max-age-days", "7"], b"sk-gamma-1")?;
    let revoked = home.json(&["token", "create", "--tool", "echo", "--label", "old", "--json"])?;
    home.ok(&["token", "revoke", revoked["id"].as_str().context("id")?])?;
    // `alpha_*` scopes the tools of a fronted server `alpha` (never started here).
    let config = home.dir().join("config.toml");
    let mut text = std::fs::read_to_string(&config)?;
    text.push_str("\n[[server]]\nname = \"alpha\"\ncommand = \"true\"\n");
    std::fs::write(&config, text)?;
    home.ok(&["token", "create", "--tool", "echo", "--tool", "alpha_*", "--ttl", "7d", "--label", "laptop"])?;
    home.ok(&["grant", "create", "laptop", "--tool", "echo"])?;
    home.ok(&["grant", "create", "ci", "--tool", "echo", "--tool", "gamma_*"])?;
    home.ok(&["grant", "revoke", "ci", "--yes"])?;
    let (serve, addr) = home.serve()?;
    let mut conn = Conn::new(&addr);
    for tool in ["echo", "echo", "nope", "echo", "echo", "echo", "nope", "echo"] {
        ctx.rt.block_on(conn.call(&token, tool))?;
    }
    anyhow::ensure!(serve.stop()?, "serve did not stop cleanly");
    // The last connection to close checkpoints the log into vault.db and removes it.
    home.ok(&["cred", "list"])?;
    let wal = home.dir().join("vault.db-wal");
    anyhow::ensure!(!wal.exists() || std::fs::metadata(&wal)?.len() == 0, "the WAL was not checkpointed");
    let bytes = std::fs::read(home.vault_path())?;
    let mut reads = Vec::new();
    for args in READS {
        reads.push(home.ok(args)?);
    }
    let nonzero = bytes.iter().enumerate().filter(|(_, b)| **b != 0).map(|(i, _)| i).collect();
    Ok((home, Baseline { bytes, nonzero, reads }))
}

/// Put `bytes` in place as the vault, with no log or shared-memory file beside it.
fn place(home: &KgHome, bytes: &[u8]) -> Result<()> {
    for extra in ["vault.db-wal", "vault.db-shm"] {
        let _ = std::fs::remove_file(home.dir().join(extra));
    }
    std::fs::write(home.vault_path(), bytes)?;
    Ok(())
}

/// Read the corrupted copy every way and judge it.
fn try_copy(home: &KgHome, baseline: &Baseline, tally: &mut Tally, outcome: &mut Outcome, what: &str) -> Result<()> {
    let mut changed_fields = BTreeSet::new();
    let mut errors = 0;
    for (args, expected) in READS.iter().zip(&baseline.reads) {
        let ran = home.run(args)?;
        match judge(&ran) {
            Judged::Fine if ran.stdout == *expected => {}
            Judged::Fine => changed_fields.extend(changed(args[0], expected, &ran.stdout)),
            Judged::Error => errors += 1,
            Judged::Broken(why) => outcome.fail(format!("{what}: `keygate {}` {why}", args.join(" "))),
        }
    }
    let flagged = checks_flag(home, outcome, what)?;
    match values(home) {
        Ok(Some(true)) | Ok(None) => {}
        Ok(Some(false)) => outcome.fail(format!("{what}: a credential opened to a wrong value")),
        Err(why) => outcome.fail(format!("{what}: {why}")),
    }
    if changed_fields.is_empty() {
        if errors == 0 && !flagged { tally.intact += 1 } else { tally.errors += 1 }
    } else if flagged {
        tally.caught += 1;
    } else if changed_fields.iter().all(|f| UNAUTHENTICATED.contains(&f.as_str())) {
        tally.unauthenticated += 1;
        tally.fields.extend(changed_fields);
    } else {
        let fields: Vec<_> = changed_fields.into_iter().collect();
        outcome.fail(format!("{what}: changed data no check flags, in {}", fields.join(", ")));
    }
    Ok(())
}

enum Judged {
    Fine,
    Error,
    Broken(String),
}

fn judge(ran: &Ran) -> Judged {
    if ran.panicked() {
        Judged::Broken(format!("panicked (exit {:?}): {}", ran.code, ran.panic_lines()))
    } else if ran.ok() {
        Judged::Fine
    } else if ran.clear_error() {
        Judged::Error
    } else {
        Judged::Broken(format!("failed without one clear line: exit {:?} {:?}", ran.code, ran.stderr))
    }
}

/// Whether `audit verify`, `log verify` or doctor's rows and chain checks flag something.
fn checks_flag(home: &KgHome, outcome: &mut Outcome, what: &str) -> Result<bool> {
    let mut flagged = false;
    for args in [&["audit", "verify"][..], &["log", "verify"]] {
        let ran = home.run(args)?;
        match judge(&ran) {
            Judged::Fine => {}
            Judged::Error => flagged = true,
            Judged::Broken(why) => outcome.fail(format!("{what}: `keygate {}` {why}", args.join(" "))),
        }
    }
    let doctor = home.run(&["doctor"])?;
    if doctor.panicked() || !matches!(doctor.code, Some(0 | 1)) {
        outcome.fail(format!("{what}: `keygate doctor` exit {:?}: {}", doctor.code, doctor.panic_lines()));
    }
    let problem = |check: &str| doctor.stdout.lines().any(|l| l.starts_with("problem") && l.contains(check));
    Ok(flagged || ["vault:", "rows:", "audit:", "rotation log:"].iter().any(|c| problem(c)))
}

/// Open every credential in this process: `Some(true)` all as stored, `Some(false)` one wrong,
/// `None` refused (a clear error); a panic is an error.
fn values(home: &KgHome) -> std::result::Result<Option<bool>, String> {
    let opened = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let vault = home.open().ok()?;
        let mut all = true;
        for (name, value) in CREDS {
            match vault.open_credential(name) {
                Ok(c) => all &= c.value.expose_secret() == value,
                Err(_) => return None,
            }
        }
        Some(all)
    }));
    opened.map_err(|_| "the vault library panicked opening a credential".to_string())
}

/// The object keys whose values differ between two JSON listings (all of them if either is not JSON).
/// Each is named `listing.field` (`token.uses`).
fn changed(listing: &str, expected: &str, got: &str) -> BTreeSet<String> {
    let (Ok(a), Ok(b)) = (serde_json::from_str::<Value>(expected), serde_json::from_str::<Value>(got)) else {
        return BTreeSet::from([format!("{listing}.(not JSON)")]);
    };
    let mut fields = BTreeSet::new();
    diff(&a, &b, "(row count)", &mut fields);
    fields.into_iter().map(|f| format!("{listing}.{f}")).collect()
}

fn diff(a: &Value, b: &Value, key: &str, out: &mut BTreeSet<String>) {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            // Rows by their identity, not their place: a listing ordered by an unauthenticated
            // field (a token's issue time) reorders when only that field changed.
            let (x, y) = (by_identity(x), by_identity(y));
            x.iter().zip(&y).for_each(|(p, q)| diff(p, q, key, out));
        }
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                diff(x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null), k, out);
            }
        }
        _ if a != b => {
            out.insert(key.to_string());
        }
        _ => {}
    }
}

/// A listing's rows sorted by `id` (or `name`) when every row has one; else as they came.
fn by_identity(rows: &[Value]) -> Vec<&Value> {
    let identity = |row: &Value| ["id", "name"].iter().find_map(|k| row.get(k)?.as_str().map(str::to_string));
    let mut sorted: Vec<&Value> = rows.iter().collect();
    if rows.iter().all(|row| identity(row).is_some()) {
        sorted.sort_by_key(|row| identity(row));
    }
    sorted
}
