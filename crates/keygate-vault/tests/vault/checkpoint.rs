//! WAL checkpoints moved off the committing connection onto a background thread.

use std::time::{Duration, Instant};

use crate::common::{Fixture, HOUR, request};

fn file_len(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Issue tokens until the WAL holds well past SQLite's automatic threshold (1,000 pages).
fn write_past_the_autocheckpoint(vault: &mut keygate_vault::Vault) {
    for _ in 0..1_500 {
        vault.issue_token(&request(&["web_search"], Some(HOUR))).expect("issue");
    }
}

#[test]
fn commits_leave_checkpoints_to_the_background_thread() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();

    // Started and stopped at once: from here on only this vault's own commits could checkpoint.
    drop(vault.checkpoint_in_background().expect("start the checkpointer"));
    let db_before = file_len(&fx.vault_path());
    write_past_the_autocheckpoint(&mut vault);
    assert_eq!(file_len(&fx.vault_path()), db_before, "a commit checkpointed: the main file changed");
    assert!(file_len(&fx.wal_path()) > 4 * 1024 * 1024, "every commit should still be in the WAL");

    let _checkpointer = vault.checkpoint_in_background().expect("start the checkpointer again");
    let deadline = Instant::now() + Duration::from_secs(20);
    while file_len(&fx.vault_path()) == db_before {
        assert!(Instant::now() < deadline, "the background thread never checkpointed");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(vault.list_tokens().expect("list").len(), 1_500, "every token survives the checkpoint");
}

/// How many times the log has started over: the checkpoint sequence number in the WAL header,
/// which SQLite bumps each time a commit starts the log from its beginning again.
fn wal_restarts(wal: &std::path::Path) -> u32 {
    let mut header = [0u8; 16];
    match std::fs::File::open(wal).and_then(|mut file| std::io::Read::read_exact(&mut file, &mut header)) {
        Ok(()) => u32::from_be_bytes([header[12], header[13], header[14], header[15]]),
        Err(_) => 0,
    }
}

#[test]
fn the_wal_starts_over_while_commits_never_pause() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let _checkpointer = vault.checkpoint_in_background().expect("start the checkpointer");
    let wal = fx.wal_path();
    let first = wal_restarts(&wal);
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut commits, mut largest) = (0u64, 0u64);
    // Back to back, as a server under sustained load commits: a PASSIVE checkpoint never finds
    // the log idle here, so without more the log would only ever grow.
    while wal_restarts(&wal) < first + 10 {
        assert!(
            Instant::now() < deadline,
            "the WAL did not start over ten times in 60 s of commits ({commits} commits, now {} bytes)",
            file_len(&wal)
        );
        for _ in 0..20 {
            vault.issue_token(&request(&["web_search"], Some(HOUR))).expect("issue");
        }
        commits += 20;
        largest = largest.max(file_len(&wal));
    }
    // Each commit wrote at least one 4 KiB page; the file held a few checkpoint intervals' worth.
    assert!(largest < commits * 4096 / 2, "the WAL reached {largest} bytes over {commits} commits: it was not reused");
}
