//! Rotation in the real app (issue 12): a rotation a killed run left is finished by the
//! agent's scheduler on its first tick, with a desktop notification; the Credentials view
//! shows the rotator, rolls back and rotates now through it.

use keygate_vault::{Actor, Home, KeySource, SystemClock, Vault};

use crate::support::{self, AgentGuard, NotificationWatch, Upstream, keygate_cli};
use crate::webdriver::{Session, TauriDriver};

/// A command rotator printing a fresh value each time (it makes one up: nothing secret in argv).
const ROTATOR: &str = r#"
[rotator.scavio_api_key]
kind = "command"
command = ["sh", "-c", "cat >/dev/null; echo \"{\\\"value\\\": \\\"sk-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')\\\"}\""]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_finishes_a_rotation_and_the_view_rolls_back_and_rotates_now() {
    support::require_desktop();
    let scratch = tempfile::tempdir().expect("temp dir");
    let home = scratch.path().join("home");
    let (_upstream, upstream_url) = Upstream::start().await;
    support::write_config(&home, &upstream_url);
    let config = home.join("config.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, format!("{text}{ROTATOR}")).expect("config with a rotator");

    // Before the app starts: a vault (key in the keychain), the key with a grace, and a
    // rotation a killed run began and never finished.
    keygate_cli(&home, &["init"], "");
    keygate_cli(&home, &["cred", "add", "scavio_api_key"], "sk-pasted-first\n");
    keygate_cli(&home, &["cred", "set", "scavio_api_key", "--grace", "1h"], "");
    let clock = std::sync::Arc::new(SystemClock);
    let mut vault = Vault::open(&Home::at(&home), KeySource::Keychain, clock, Actor::Cli).expect("open");
    vault.begin_rotation("scavio_api_key").expect("a run that died");
    drop(vault);

    let notifications = NotificationWatch::start(scratch.path().join("notify.log"));
    let desktop = support::DesktopUser::new(scratch.path());
    let driver = TauriDriver::start(&desktop.envs(&home));
    let _agent = AgentGuard::new(&home);
    let app = Session::start(&driver, support::window_exe(), &[]).await;

    // The agent's first tick finishes the rotation and says so on the desktop.
    notifications.wait_for("Rotated scavio_api_key");
    app.click("#tab-credentials").await;
    let row = "tr[data-name=scavio_api_key]";
    app.wait_text(&format!("{row} td.rotator"), "command").await;
    let shown = app.wait_text(row, "v2").await;
    assert!(!shown.contains("sk-"), "no value in the view: {shown}");

    app.click(&format!("{row} button.rollback")).await;
    app.wait_text("#cred-status", "Rolled scavio_api_key back to v1").await;
    app.wait_text(row, "v1").await;

    app.click(&format!("{row} button.rotate-now")).await;
    app.wait_text("#cred-status", "through its rotator: now v3").await;
    app.wait_text(row, "v3").await;
    app.screenshot(&support::screenshot_dir().join("credentials-rotation.png")).await;

    let log = keygate_cli(&home, &["log", "--json"], "");
    for action in ["\"started\"", "\"pending\"", "\"tested\"", "\"rotated\"", "\"rolled_back\""] {
        assert!(log.contains(action), "{action} missing from the rotation log: {log}");
    }
    app.end().await;
}
