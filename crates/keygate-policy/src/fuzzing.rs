//! Fuzz entry point (`fuzz/fuzz_targets/rule_parse.rs`, and `tests/fuzz_corpus.rs` replays
//! the corpus through it on stable).

use std::path::Path;

use serde_json::{Map, Value, json};

use crate::{Policy, StoredPolicy};

/// Any bytes as rules, one a line: parsing never panics; a policy that parses is checked
/// against a few argument shapes (never panicking), and its stored form reads back the same.
#[doc(hidden)]
pub fn rule_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let lines: Vec<&str> = text.split('\n').collect();
    let Ok(policy) = Policy::parse(&lines) else { return };
    for arguments in sample_arguments() {
        for rule in policy.rules() {
            let _ = policy.check(rule.tool().trim_end_matches('*'), &arguments);
            let _ = policy.check(&format!("{}x", rule.tool().trim_end_matches('*')), &arguments);
        }
    }
    let stored = StoredPolicy::new(lines.iter().map(|l| l.to_string()).collect(), false);
    let stored = stored.expect("rules that parsed once parse again");
    if let Some(text) = stored.to_stored() {
        let back = StoredPolicy::from_stored(&text).expect("the stored form reads back");
        assert_eq!(back, stored, "the stored form changed the rules");
        assert_eq!(back.compile().expect("stored rules compile"), Policy::parse(&back.allow).expect("parse"));
    }
}

fn sample_arguments() -> Vec<Map<String, Value>> {
    let samples = [
        json!({}),
        json!({"repo": "me/app", "num_results": 10, "a": {"b": {"c": [1, "x", null]}}}),
        json!({"repo": 3, "num_results": "10", "a": [true, {"b": 1.5}], "日本": "語"}),
    ];
    samples.into_iter().filter_map(|v| v.as_object().cloned()).collect()
}

/// Run `entry` on every committed input of `target` (corpus and regressions); returns how many.
#[doc(hidden)]
pub fn replay_corpus(crate_dir: &Path, target: &str, mut entry: impl FnMut(&[u8])) -> usize {
    let mut count = 0;
    for kind in ["corpus", "regressions"] {
        let dir = crate_dir.join("fuzz").join(kind).join(target);
        let Ok(listing) = std::fs::read_dir(&dir) else { continue };
        let mut files: Vec<_> = listing.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
            entry(&data);
            count += 1;
        }
    }
    assert!(count > 0, "no fuzz inputs for {target} under {}", crate_dir.display());
    count
}
