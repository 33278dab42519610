//! The `round_trip` fuzz target's committed corpus and regression inputs, replayed on stable
//! through the entry the target calls (`keygate_clients::fuzz::round_trip_input`).

use std::path::Path;

#[test]
fn round_trip_corpus_replays() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    keygate_vault::fuzzing::replay_corpus(dir, "round_trip", keygate_clients::fuzz::round_trip_input);
}
