//! The fuzz targets' committed corpora, replayed on stable through the same entry functions
//! the targets call (`keygate_rotate::fuzzing`), so `cargo test` keeps every kept input.

use std::path::Path;

use keygate_rotate::fuzzing;
use keygate_vault::fuzzing::replay_corpus;

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn rotator_config_corpus_replays() {
    replay_corpus(crate_dir(), "rotator_config", fuzzing::rotator_config);
}

#[test]
fn command_answer_corpus_replays() {
    replay_corpus(crate_dir(), "command_answer", fuzzing::command_answer);
}
