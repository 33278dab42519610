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
