//! The fuzz targets' committed corpora and regression inputs, replayed on stable through the
//! same entry functions the targets call (`keygate_mcp::fuzzing`), so every input the fuzzer
//! kept (and every crash it found, once fixed) is checked by `cargo test`.

use std::path::Path;

use keygate_mcp::fuzzing;
use keygate_vault::fuzzing::replay_corpus;

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn config_toml_corpus_replays() {
    replay_corpus(crate_dir(), "config_toml", fuzzing::config_toml);
}

#[test]
fn gateway_message_corpus_replays() {
    replay_corpus(crate_dir(), "gateway_message", fuzzing::gateway_message);
}

#[test]
fn server_front_corpus_replays() {
    replay_corpus(crate_dir(), "server_front", fuzzing::server_front);
}

#[test]
fn fast_call_corpus_replays() {
    replay_corpus(crate_dir(), "fast_call", fuzzing::fast_call);
}
