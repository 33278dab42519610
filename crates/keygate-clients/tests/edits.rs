//! Connecting and disconnecting each client's config: golden files, byte-for-byte round trips,
//! comments kept, nothing written beside the file, later user changes left alone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use keygate_clients::{EntryState, apply, plan_connect, plan_disconnect, status};
use support::{CASES, Home, assert_golden, files_under, golden, launch, plaintext_keys};

#[test]
fn each_client_connects_to_its_golden_file_and_disconnects_back_to_the_original() {
    for case in CASES {
        let home = Home::new();
        let location = home.with_config(case);
        let before = golden(case, "before");
        let dir = location.file.parent().unwrap().to_path_buf();
        let files_before = files_under(&dir);

        let plan = plan_connect(case.client, &location, &launch("work"), None, false).expect("plan connect");
        assert_eq!(plan.original(), Some(before.as_str()));
        let ownership = plan.ownership().cloned().expect("ownership");
        assert!(!ownership.created_servers, "{}: the servers object was there", case.name);
        apply(&plan).expect("apply connect");
        let connected = std::fs::read_to_string(&location.file).unwrap();
        assert_golden(case, "connected", &connected);
        assert_eq!(files_under(&dir), files_before, "{}: nothing may be written beside the config", case.name);
        let shown = status(case.client, &location);
        assert_eq!(shown.keygate, EntryState::Connected { grant: "work".into() }, "{}", case.name);

        let plan = plan_disconnect(case.client, &location, Some(&ownership), None).expect("plan disconnect");
        apply(&plan).expect("apply disconnect");
        let after = std::fs::read_to_string(&location.file).unwrap();
        assert_eq!(after, before, "{}: disconnect must give back the original byte for byte", case.name);
        assert_eq!(status(case.client, &location).keygate, EntryState::Absent);
    }
}

#[test]
fn connecting_changes_only_an_insertion_and_keeps_every_comment() {
    for case in CASES {
        let before = golden(case, "before");
        let connected = golden(case, "connected");
        let prefix = before.bytes().zip(connected.bytes()).take_while(|(a, b)| a == b).count();
        let suffix = before.bytes().rev().zip(connected.bytes().rev()).take_while(|(a, b)| a == b).count();
        let kept = prefix + suffix.min(before.len() - prefix);
        // At most one byte of the original may change: a comma after the servers' last entry.
        assert!(before.len() - kept <= 1, "{}: {} original bytes changed", case.name, before.len() - kept);
        for line in before.lines().filter(|l| l.trim_start().starts_with("//") || l.trim_start().starts_with('#')) {
            assert!(connected.contains(line), "{}: comment lost: {line}", case.name);
        }
        for key in plaintext_keys(&before) {
            assert!(connected.contains(&key), "{}: another server's setting lost", case.name);
        }
        let inserted = &connected[prefix..connected.len() - suffix.min(connected.len() - prefix)];
        assert!(inserted.contains(support::KEYGATE) && inserted.contains("--grant"), "{}: {inserted}", case.name);
        assert!(!inserted.contains("kg_") && !inserted.to_lowercase().contains("token"), "{}: {inserted}", case.name);
    }
}

#[test]
fn a_client_without_a_config_gets_one_made() {
    for case in CASES {
        let home = Home::new();
        let location = home.location(case);
        assert!(!location.file.exists());
        let plan = plan_connect(case.client, &location, &launch("fresh"), None, false).expect("plan");
        assert!(plan.original().is_none());
        assert!(plan.diff().starts_with("--- /dev/null"), "{}", plan.diff());
        apply(&plan).expect("apply");
        let text = std::fs::read_to_string(&location.file).unwrap();
        assert_golden(case, "new", &text);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&location.file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", case.name);
        }
        let ownership = plan.ownership().cloned().unwrap();
        assert!(ownership.created_servers);
        apply(&plan_disconnect(case.client, &location, Some(&ownership), None).unwrap()).unwrap();
        let left = std::fs::read_to_string(&location.file).unwrap();
        assert!(!left.contains("keygate"), "{}: {left}", case.name);
    }
}

#[test]
fn disconnect_leaves_what_the_user_changed_after_connect() {
    let case = CASES[0];
    let home = Home::new();
    let location = home.with_config(case);
    let plan = plan_connect(case.client, &location, &launch("work"), None, false).unwrap();
    let ownership = plan.ownership().cloned().unwrap();
    apply(&plan).unwrap();
    let connected = std::fs::read_to_string(&location.file).unwrap();
    let edited = connected.replace("// yes, in the clear", "// moved to Keygate soon").replace(
        "\"globalShortcut\": \"Ctrl+Space\"",
        "\"globalShortcut\": \"Alt+Space\", // changed\n  \"later\": true",
    );
    std::fs::write(&location.file, &edited).unwrap();

    // The original is at hand, but the file changed since: only the entry goes.
    let original = golden(case, "before");
    apply(&plan_disconnect(case.client, &location, Some(&ownership), Some(&original)).unwrap()).unwrap();
    let after = std::fs::read_to_string(&location.file).unwrap();
    let expected = golden(case, "before").replace("// yes, in the clear", "// moved to Keygate soon").replace(
        "\"globalShortcut\": \"Ctrl+Space\"",
        "\"globalShortcut\": \"Alt+Space\", // changed\n  \"later\": true",
    );
    assert_eq!(after, expected);
}

#[test]
fn connecting_again_changes_nothing_and_another_grant_replaces_the_entry() {
    for case in CASES {
        let home = Home::new();
        let location = home.with_config(case);
        apply(&plan_connect(case.client, &location, &launch("work"), None, false).unwrap()).unwrap();
        let owned = support::owned("work", false);
        let again = plan_connect(case.client, &location, &launch("work"), Some(&owned), false).unwrap();
        assert!(again.changes_nothing(), "{}", case.name);
        assert_eq!(again.diff(), "", "{}", case.name);

        let other = plan_connect(case.client, &location, &launch("play"), Some(&owned), false).unwrap();
        apply(&other).unwrap();
        let text = std::fs::read_to_string(&location.file).unwrap();
        assert!(text.contains("\"play\"") && !text.contains("\"work\""), "{}: {text}", case.name);
        assert_eq!(status(case.client, &location).keygate, EntryState::Connected { grant: "play".into() });
        // Disconnecting with the new record gives back the original.
        let owned = other.ownership().cloned().unwrap();
        apply(&plan_disconnect(case.client, &location, Some(&owned), None).unwrap()).unwrap();
        assert_eq!(std::fs::read_to_string(&location.file).unwrap(), golden(case, "before"), "{}", case.name);
    }
}

#[test]
fn a_non_default_home_is_passed_to_the_bridge() {
    let case = CASES[3];
    let home = Home::new();
    let location = home.with_config(case);
    let mut launch = launch("work");
    launch.home = Some("/srv/keygate home".into());
    apply(&plan_connect(case.client, &location, &launch, None, false).unwrap()).unwrap();
    let text = std::fs::read_to_string(&location.file).unwrap();
    assert!(text.contains(r#"["connect", "--grant", "work", "--home", "/srv/keygate home"]"#), "{text}");
}

#[cfg(unix)]
#[test]
fn a_symlinked_config_stays_a_symlink_and_keeps_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let case = CASES[3];
    let home = Home::new();
    let location = home.location(case);
    let real = home.dir.path().join("dotfiles-mcp.json");
    std::fs::write(&real, golden(case, "before")).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::symlink(&real, &location.file).unwrap();
    apply(&plan_connect(case.client, &location, &launch("work"), None, false).unwrap()).unwrap();
    assert!(std::fs::symlink_metadata(&location.file).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_to_string(&real).unwrap(), golden(case, "connected"));
    assert_eq!(std::fs::metadata(&real).unwrap().permissions().mode() & 0o777, 0o640);
}

#[test]
fn one_line_files_come_back_byte_for_byte_when_untouched_since_connect() {
    let case = CASES[7];
    for original in ["{}", "{ \"theme\": \"GitHub\" }\n", "// nothing yet\n{}\n"] {
        // The object the entry went into was made multi-line; with the original at hand (the
        // file untouched since), the file comes back exactly all the same.
        let (connected, back) = connect_then_disconnect(case, original, Some(original));
        assert!(connected.contains("\"mcpServers\": {"), "{connected}");
        assert_eq!(back, original);
    }
}

/// Write `original` as `case`'s config, connect, then disconnect (with `sealed` as the
/// original Keygate kept, if any): the connected text and the text given back.
fn connect_then_disconnect(case: support::Case, original: &str, sealed: Option<&str>) -> (String, String) {
    let home = Home::new();
    let location = home.location(case);
    std::fs::write(&location.file, original).unwrap();
    let plan = plan_connect(case.client, &location, &launch("work"), None, false).unwrap();
    let ownership = plan.ownership().cloned().unwrap();
    apply(&plan).unwrap();
    let connected = std::fs::read_to_string(&location.file).unwrap();
    let plan = plan_disconnect(case.client, &location, Some(&ownership), sealed).unwrap();
    apply(&plan).unwrap();
    (connected, std::fs::read_to_string(&location.file).unwrap())
}

#[test]
fn an_authors_trailing_commas_survive_connect_and_disconnect() {
    let case = CASES[7];
    // A trailing comma after the servers' last entry, and after the top object's last property
    // when the servers object is created (jsonc-parser did not infer that style on its own).
    let originals = [
        "{\n  \"mcpServers\": {\n    \"other\": { \"command\": \"x\" },\n  },\n}\n",
        "// mine\n{\"theme\": {   \n   },\n}\n",
    ];
    for original in originals {
        // Without the original at hand: the CST path alone must give the commas back.
        let (connected, back) = connect_then_disconnect(case, original, None);
        assert!(connected.contains(support::KEYGATE), "{connected}");
        let squeeze = |t: &str| t.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        assert_eq!(squeeze(&back), squeeze(original), "{connected}");
    }
}
