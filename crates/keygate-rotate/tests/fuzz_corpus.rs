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

/// Found by `command_answer` (an oracle's false alarm, kept): output that is the refusal's own
/// text. The refusal of output that is not JSON is one fixed sentence, whatever the output.
#[test]
fn a_refusal_never_depends_on_output_that_is_not_json() {
    let regression = crate_dir().join("fuzz/regressions/command_answer/refusal-text-as-output");
    let data = std::fs::read(regression).expect("the regression input");
    fuzzing::command_answer(&data);
    fuzzing::command_answer(b"sk-live-0123456789 is my key, not JSON");
}

/// Found by `command_answer`: a bad `expires_at` was quoted in the refusal, and a command's
/// output may hold a key (here the value itself). The refusal no longer quotes it.
#[test]
fn a_bad_expiry_is_refused_without_quoting_it() {
    let regression = crate_dir().join("fuzz/regressions/command_answer/expires-at-echoed-the-value");
    fuzzing::command_answer(&std::fs::read(regression).expect("the regression input"));
    fuzzing::command_answer(br#"{"value": "sk-live-0123456789", "expires_at": "sk-live-0123456789"}"#);
}
