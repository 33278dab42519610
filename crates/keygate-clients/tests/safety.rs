//! Refusals and masking: a file changed meanwhile, a broken file, a client not installed, an
//! entry Keygate did not write, secrets in the dry-run diff; and mangled files never panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use keygate_clients::{ClientError, EntryState, MASK, apply, plan_connect, plan_disconnect, status};
use support::{CASES, Home, files_under, golden, launch, owned, plaintext_keys};

#[test]
fn a_file_changed_after_reading_is_not_written() {
    for case in CASES {
        let home = Home::new();
        let location = home.with_config(case);
        let plan = plan_connect(case.client, &location, &launch("work"), None, false).unwrap();
        let changed = format!("{}\n", golden(case, "before"));
        std::fs::write(&location.file, &changed).unwrap();
        let err = apply(&plan).expect_err("changed file");
        assert!(matches!(err, ClientError::ChangedMeanwhile { .. }), "{}: {err}", case.name);
        assert!(err.to_string().contains("run the command again"), "{err}");
        assert_eq!(std::fs::read_to_string(&location.file).unwrap(), changed);
        let dir = location.file.parent().unwrap();
        assert_eq!(files_under(dir).len(), 1, "{}: a temp file was left: {:?}", case.name, files_under(dir));
    }
}

#[test]
fn a_file_created_after_planning_is_not_overwritten() {
    let case = CASES[3];
    let home = Home::new();
    let location = home.location(case);
    let plan = plan_connect(case.client, &location, &launch("work"), None, false).unwrap();
    std::fs::write(&location.file, "{}\n").unwrap();
    assert!(matches!(apply(&plan), Err(ClientError::ChangedMeanwhile { .. })));
    assert_eq!(std::fs::read_to_string(&location.file).unwrap(), "{}\n");
}

#[test]
fn a_broken_file_is_refused_with_its_line_and_left_untouched() {
    let broken = [
        ("claude-desktop", "{\n  \"mcpServers\": {\n    \"a\": { \"command\": \"x\" }\n    \"b\": {}\n  }\n}\n", 3),
        ("vscode", "{\n  // fine\n  \"servers\": {\n    \"a\": { \"command\": 'x' }\n  }\n}\n", 4),
        ("zed", "{\n  \"context_servers\": {\n", 2),
        ("codex", "model = \"x\"\n\n[mcp_servers.a\ncommand = \"y\"\n", 3),
    ];
    for (name, text, line) in broken {
        let case = CASES.into_iter().find(|c| c.name == name).unwrap();
        let home = Home::new();
        let location = home.location(case);
        std::fs::create_dir_all(location.file.parent().unwrap()).unwrap();
        std::fs::write(&location.file, text).unwrap();
        let err = plan_connect(case.client, &location, &launch("work"), None, false).expect_err("broken");
        let message = err.to_string();
        assert!(matches!(err, ClientError::Unparsable { line: l, .. } if l == line), "{name}: {message}");
        assert!(message.contains(&location.file.display().to_string()) && message.contains("untouched"), "{message}");
        assert!(matches!(status(case.client, &location).keygate, EntryState::Unreadable { .. }));
        assert_eq!(std::fs::read_to_string(&location.file).unwrap(), text);
    }
}

#[test]
fn wrong_shapes_and_oversized_or_binary_files_are_refused() {
    let case = CASES[3];
    let home = Home::new();
    let location = home.location(case);
    for (text, needle) in [("[1, 2]", "top level"), ("{\"mcpServers\": [1]}", "`mcpServers` is not an object")] {
        std::fs::write(&location.file, text).unwrap();
        let err = plan_connect(case.client, &location, &launch("w"), None, false).expect_err("shape");
        assert!(err.to_string().contains(needle), "{err}");
    }
    std::fs::write(&location.file, b"{\"a\": \"\xff\"}").unwrap();
    assert!(matches!(
        plan_connect(case.client, &location, &launch("w"), None, false),
        Err(ClientError::Unparsable { .. })
    ));
    let big = vec![b' '; (keygate_clients::MAX_FILE_BYTES + 1) as usize];
    std::fs::write(&location.file, big).unwrap();
    assert!(matches!(
        plan_connect(case.client, &location, &launch("w"), None, false),
        Err(ClientError::TooLarge { .. })
    ));
}

#[test]
fn a_client_that_is_not_installed_is_refused() {
    let home = Home::new();
    let places = home.places();
    let location = places.location(keygate_clients::Client::Cursor);
    let err = plan_connect(keygate_clients::Client::Cursor, &location, &launch("w"), None, false).expect_err("absent");
    assert!(err.to_string().contains("does not seem to be installed"), "{err}");
    assert!(!location.file.exists() && !location.installed_marker.exists());
}

#[test]
fn an_entry_keygate_did_not_write_is_refused_unless_replaced() {
    let case = CASES[0];
    let home = Home::new();
    let location = home.location(case);
    std::fs::create_dir_all(location.file.parent().unwrap()).unwrap();
    // The old way: a token pasted into the config.
    let old = r#"{
  "mcpServers": {
    "keygate": {
      "command": "/usr/bin/keygate",
      "args": ["connect"],
      "env": { "KEYGATE_TOKEN": "kg_0123456789abcdef_secretpart0123456789" }
    }
  }
}
"#;
    std::fs::write(&location.file, old).unwrap();
    assert_eq!(status(case.client, &location).keygate, EntryState::Other);
    let err = plan_connect(case.client, &location, &launch("work"), None, false).expect_err("foreign");
    assert!(err.to_string().contains("--replace"), "{err}");
    let err = plan_disconnect(case.client, &location, None, None).expect_err("no record");
    assert!(err.to_string().contains("no record"), "{err}");

    let plan = plan_connect(case.client, &location, &launch("work"), None, true).unwrap();
    let diff = plan.diff();
    assert!(!diff.contains("secretpart") && diff.contains(MASK), "{diff}");
    let ownership = plan.ownership().cloned().unwrap();
    apply(&plan).unwrap();
    let text = std::fs::read_to_string(&location.file).unwrap();
    assert!(!text.contains("KEYGATE_TOKEN") && !text.contains("kg_"), "{text}");
    // Disconnecting never brings the replaced entry (and its token) back.
    apply(&plan_disconnect(case.client, &location, Some(&ownership), Some(old)).unwrap()).unwrap();
    let text = std::fs::read_to_string(&location.file).unwrap();
    assert!(!text.contains("keygate") && !text.contains("kg_"), "{text}");
}

#[test]
fn disconnect_refuses_an_entry_changed_since_connect() {
    let case = CASES[5];
    let home = Home::new();
    let location = home.with_config(case);
    apply(&plan_connect(case.client, &location, &launch("work"), None, false).unwrap()).unwrap();
    let text =
        std::fs::read_to_string(&location.file).unwrap().replace("\"--grant\", \"work\"", "\"--grant\", \"mine\"");
    std::fs::write(&location.file, &text).unwrap();
    let err = plan_disconnect(case.client, &location, Some(&owned("work", false)), None).expect_err("changed entry");
    assert!(err.to_string().contains("changed after"), "{err}");
    assert_eq!(std::fs::read_to_string(&location.file).unwrap(), text);
    // Fields a client's UI adds to the entry do not make it someone else's.
    let case = CASES[9];
    let location = home.with_config(case);
    apply(&plan_connect(case.client, &location, &launch("work"), None, false).unwrap()).unwrap();
    let text = std::fs::read_to_string(&location.file)
        .unwrap()
        .replace("\"disabled\": false\n    }\n  }", "\"disabled\": true,\n      \"autoApprove\": []\n    }\n  }");
    std::fs::write(&location.file, &text).unwrap();
    let again = plan_connect(case.client, &location, &launch("work"), Some(&owned("work", false)), false).unwrap();
    assert!(again.changes_nothing(), "connecting again keeps what the client's UI added");
    apply(&plan_disconnect(case.client, &location, Some(&owned("work", false)), None).unwrap()).unwrap();
    assert_eq!(std::fs::read_to_string(&location.file).unwrap(), golden(case, "before"));
}

#[test]
fn disconnecting_a_file_without_keygate_changes_nothing() {
    let case = CASES[1];
    let home = Home::new();
    let location = home.with_config(case);
    let plan = plan_disconnect(case.client, &location, Some(&owned("work", false)), None).unwrap();
    assert!(plan.changes_nothing());
    apply(&plan).unwrap();
    assert_eq!(std::fs::read_to_string(&location.file).unwrap(), golden(case, "before"));
}

#[test]
fn the_dry_run_diff_masks_every_secret_and_shows_the_entry() {
    for case in CASES {
        let home = Home::new();
        let location = home.with_config(case);
        let plan = plan_connect(case.client, &location, &launch("work"), None, false).unwrap();
        let diff = plan.diff();
        assert!(diff.contains("+") && diff.contains(support::KEYGATE), "{}: {diff}", case.name);
        for key in plaintext_keys(&golden(case, "before")) {
            assert!(!diff.contains(&key), "{}: {key} shown in\n{diff}", case.name);
        }
        // With every line of the file in the diff, still no key is shown.
        let full = plan.diff_with_context(100_000);
        assert!(full.lines().count() > golden(case, "before").lines().count(), "{}: {full}", case.name);
        for key in plaintext_keys(&golden(case, "before")) {
            assert!(!full.contains(&key), "{}: {key} shown in\n{full}", case.name);
        }
        assert_eq!(std::fs::read_to_string(&location.file).unwrap(), golden(case, "before"), "dry run wrote");
    }
}

/// A tiny deterministic generator, so the mangling below is the same on every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % bound as u64) as usize
    }
}

#[test]
fn mangled_files_never_panic_and_never_change_more_than_the_entry() {
    let pieces =
        ["{", "}", "[", "]", ",", ":", "\"", "//", "/*", "*/", "\n", "keygate", "\"mcpServers\"", "\\", "#", "=", "é"];
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let (mut planned, mut refused, mut exact) = (0, 0, 0);
    for case in CASES {
        let original = golden(case, "before");
        let home = Home::new();
        let location = home.location(case);
        std::fs::create_dir_all(location.file.parent().unwrap()).unwrap();
        for _ in 0..150 {
            let mut text = original.clone();
            for _ in 0..1 + rng.next(3) {
                let mut at = rng.next(text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                match rng.next(3) {
                    0 => text.insert_str(at, pieces[rng.next(pieces.len())]),
                    1 => {
                        let mut end = (at + 1 + rng.next(8)).min(text.len());
                        while !text.is_char_boundary(end) {
                            end -= 1;
                        }
                        text.replace_range(at..end, "");
                    }
                    _ => text.truncate(at),
                }
            }
            // Text level: whenever it parses, connect then disconnect gives back the text, but
            // for line breaks (a one-line object that gets the entry is made multi-line).
            if let Ok((back, comparable)) = keygate_clients::fuzz::round_trip(case.client, &text)
                && comparable
            {
                let squeeze = |t: &str| t.chars().filter(|c| !c.is_whitespace()).collect::<String>();
                assert_eq!(squeeze(&back), squeeze(&text), "{}: round trip changed the file", case.name);
                exact += usize::from(back == text);
            }
            std::fs::write(&location.file, &text).unwrap();
            // Whatever the result, it must not panic; a plan made is checked by check_edit.
            let Ok(plan) = plan_connect(case.client, &location, &launch("fuzz"), None, true) else {
                refused += 1;
                assert_eq!(std::fs::read_to_string(&location.file).unwrap(), text, "a refused file was touched");
                continue;
            };
            planned += 1;
            {
                let _ = plan.diff();
                apply(&plan).unwrap();
                if let Ok(plan) = plan_disconnect(case.client, &location, plan.ownership(), None) {
                    apply(&plan).unwrap();
                }
            }
        }
    }
    assert!(planned > 100 && refused > 100 && exact > 100, "planned {planned}, refused {refused}, exact {exact}");
}

#[test]
fn deeply_nested_files_are_refused_without_overflowing_the_stack() {
    for (case, text) in [
        (CASES[3], format!("{{\"mcpServers\": {{\"a\": {}{}}}}}", "[".repeat(100_000), "]".repeat(100_000))),
        (CASES[6], format!("a = {}{}\n", "[".repeat(100_000), "]".repeat(100_000))),
    ] {
        let home = Home::new();
        let location = home.location(case);
        std::fs::create_dir_all(location.file.parent().unwrap()).unwrap();
        std::fs::write(&location.file, &text).unwrap();
        let err = plan_connect(case.client, &location, &launch("w"), None, false).expect_err("too deep");
        assert!(matches!(err, ClientError::Unparsable { line: 1, .. }), "{}: {err}", case.name);
        assert!(matches!(status(case.client, &location).keygate, EntryState::Unreadable { .. }));
    }
}

#[test]
fn byte_order_marks_stay() {
    // Found by the fuzz target: toml_edit drops a leading BOM, so a second one was lost.
    for case in [CASES[6], CASES[3]] {
        let text = if case.ext == "toml" { "\u{feff}\u{feff}# # \"\n" } else { "\u{feff}{\"a\": 1}\n" };
        let (back, comparable) = keygate_clients::fuzz::round_trip(case.client, text).expect("parses");
        assert!(
            comparable && back.starts_with(if case.ext == "toml" { "\u{feff}\u{feff}#" } else { "\u{feff}{" }),
            "{back:?}"
        );
    }
}
