//! `keygate doctor` and the process hardening it reports, against real processes.

mod common;

use std::io::BufRead;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};

use common::{Kg, Running, start_serve};

/// `doctor`'s lines as (word, check) pairs, its exit code and stderr.
fn doctor(kg: &Kg) -> (Vec<(String, String)>, Option<i32>, String) {
    let out = kg.run(&["doctor"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines = stdout
        .lines()
        .map(|line| {
            let (word, rest) = line.split_once(' ').expect("word then check");
            (word.to_string(), rest.trim_start().split(':').next().unwrap_or_default().to_string())
        })
        .collect();
    (lines, out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn word_for<'a>(lines: &'a [(String, String)], check: &str) -> &'a str {
    lines.iter().find(|(_, c)| c == check).map_or("missing", |(w, _)| w.as_str())
}

#[test]
fn doctor_reports_each_check_and_fails_on_a_problem() {
    let kg = Kg::headless();
    kg.init();
    // No Keygate serving this home: the one problem.
    let (lines, code, stderr) = doctor(&kg);
    assert_eq!(code, Some(1), "{lines:?} {stderr}");
    assert!(stderr.contains("1 problem found"), "{stderr}");
    for check in ["config", "vault", "master key", "rows", "audit", "rotation log", "process"] {
        assert_eq!(word_for(&lines, check), "ok", "{check}: {lines:?}");
    }
    assert_eq!(word_for(&lines, "agent socket"), "problem", "{lines:?}");

    let (server, _url) = start_serve(&kg);
    let (lines, code, stderr) = doctor(&kg);
    assert_eq!(code, Some(0), "{lines:?} {stderr}");
    assert!(lines.iter().all(|(w, _)| w == "ok") && lines.len() == 9, "{lines:?}");
    drop(server);

    let config = kg.home().join("config.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, text.replace("credential_header", "credential_heder")).expect("write");
    let (lines, code, _) = doctor(&kg);
    assert_eq!((word_for(&lines, "config"), code), ("problem", Some(1)), "{lines:?}");
    assert_eq!(word_for(&lines, "vault"), "ok", "one problem must not hide the other checks: {lines:?}");

    // A credential's row edited in the file without the master key: a finding naming it.
    kg.ok_with_stdin(&["cred", "add", "openai"], b"sk-doctor-test-value\n");
    let db = rusqlite::Connection::open(kg.home().join("vault.db")).expect("open the file");
    db.execute("UPDATE credential SET max_age_days = 9999 WHERE name = 'openai'", []).expect("tamper");
    drop(db);
    let (lines, code, _) = doctor(&kg);
    assert_eq!((word_for(&lines, "rows"), code), ("problem", Some(1)), "{lines:?}");

    let wrong = Kg { dir: tempfile::tempdir().expect("tempdir"), master_key: Kg::headless().master_key };
    std::fs::rename(kg.home(), wrong.home()).expect("move the home");
    let (lines, code, _) = doctor(&wrong);
    assert_eq!((word_for(&lines, "vault"), code), ("problem", Some(1)), "another key opened the vault: {lines:?}");
}

/// A field of /proc/<pid>/limits, e.g. "Max core file size".
#[test]
fn doctor_names_a_forged_oauth_client() {
    let kg = Kg::headless();
    kg.init();
    // A client with an attacker's redirect URI, written into the file without the master key.
    let db = rusqlite::Connection::open(kg.home().join("vault.db")).expect("open the file");
    db.execute(
        "INSERT INTO oauth_client (id, name, redirect_uris, created_at, last_used_at)
         VALUES ('kgclient_forged', 'Cursor', '[\"http://127.0.0.1:9/steal\"]', 0, 0)",
        [],
    )
    .expect("forge");
    drop(db);
    let out = kg.run(&["doctor"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let rows = stdout.lines().find(|l| l.contains("rows")).expect("a rows line");
    assert!(rows.starts_with("problem") && rows.contains("OAuth client kgclient_forged"), "{stdout}");
    assert_eq!(out.status.code(), Some(1));
}

fn limit(pid: u32, name: &str) -> String {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let line = limits.lines().find(|l| l.starts_with(name)).expect("the limit").to_string();
    line[name.len()..].split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

#[test]
#[cfg(target_os = "linux")]
fn serve_runs_without_core_dumps_and_not_dumpable() {
    let kg = Kg::headless();
    kg.init();
    let root = nix_uid() == 0;
    // As root, run the server as nobody: root owns a non-dumpable process's /proc entries,
    // which is what shows it (a root-run process's entries are root's anyway).
    if root {
        chown_tree(kg.dir.path(), 65534);
    }
    // Start it with core dumps allowed, as a shell or a desktop session might.
    let script = "ulimit -c unlimited 2>/dev/null || ulimit -S -c \"$(ulimit -H -c)\"; ulimit -c; exec \"$@\"";
    let mut command = Command::new("sh");
    command.args(["-c", script, "sh"]);
    if root {
        command.args(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]);
    }
    command.args([env!("CARGO_BIN_EXE_keygate"), "serve", "--bind", "127.0.0.1:0"]);
    command.env("KEYGATE_HOME", kg.home()).env("KEYGATE_MASTER_KEY", kg.master_key.as_deref().expect("headless"));
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("start serve");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let pid = child.id();
    let server = Running(child);
    let (mut allowed, mut listening) = (String::new(), String::new()); // the limit sh raised, then serve's line
    stdout.read_line(&mut allowed).expect("ulimit");
    stdout.read_line(&mut listening).expect("serving");
    assert!(listening.contains("http://127.0.0.1:"), "serve did not start: {listening:?}");

    assert_eq!(limit(pid, "Max core file size"), "0 0", "core dumps are on");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let real_uid: u32 = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next())
        .and_then(|id| id.parse().ok())
        .expect("Uid line");
    assert_ne!(real_uid, 0, "the server must run as an ordinary user for this check");
    let owner = std::fs::metadata(format!("/proc/{pid}/status")).expect("stat").uid();
    assert_eq!(owner, 0, "/proc/{pid} belongs to uid {owner}: the server is dumpable");
    drop(server);
}

fn nix_uid() -> u32 {
    std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(u32::MAX)
}

fn chown_tree(path: &std::path::Path, uid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(uid)).expect("chown");
    if path.is_dir() {
        for entry in std::fs::read_dir(path).expect("read_dir") {
            chown_tree(&entry.expect("entry").path(), uid);
        }
    }
}
