//! The fuzz target's committed corpus and regression inputs, replayed on stable through the
//! same entry function the target calls (`keygate_policy::fuzzing::rule_parse`).

use std::path::Path;

use keygate_policy::fuzzing;

#[test]
fn rule_parse_corpus_replays() {
    let count = fuzzing::replay_corpus(Path::new(env!("CARGO_MANIFEST_DIR")), "rule_parse", fuzzing::rule_parse);
    assert!(count >= 10, "only {count} inputs");
}
