//! The scheduler against a real vault file and a manual clock: due credentials rotate, a
//! failure backs off, an attempt a dead run left is finished, a grace's end erases the
//! previous version.

use std::sync::Arc;
use std::time::Duration;

use keygate_rotate::{Event, RotatorSet, Scheduler};
use keygate_vault::{Actor, Clock, Home, KeySource, ManualClock, MasterKey, Timestamp, Vault};
use secrecy::{ExposeSecret, SecretString};

const T0: Timestamp = Timestamp::from_unix_millis(1_760_000_000_000);
const DAY: Duration = Duration::from_secs(24 * 3600);

struct Fixture {
    _dir: tempfile::TempDir,
    home: Home,
    key: [u8; 32],
    clock: Arc<ManualClock>,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let home = Home::at(dir.path().join("home"));
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("random");
        let fx = Self { _dir: dir, home, key, clock: Arc::new(ManualClock::new(T0)) };
        Vault::init(&fx.home, fx.source(), fx.clock.as_ref()).expect("init");
        fx
    }
    fn source(&self) -> KeySource {
        KeySource::Given(MasterKey::from_bytes(&self.key).expect("key"))
    }
    fn open(&self) -> Vault {
        let clock: Arc<dyn Clock> = self.clock.clone();
        Vault::open(&self.home, self.source(), clock, Actor::Server).expect("open")
    }
}

/// A command rotator printing a fresh value each time (no secret in argv: it makes one up).
const MINTS: &str = r#"
[rotator.k]
kind = "command"
command = ["sh", "-c", "cat >/dev/null; echo \"{\\\"value\\\": \\\"sk-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')\\\"}\""]
"#;

fn value(vault: &Vault) -> String {
    vault.open_credential("k").expect("open").value.expose_secret().to_string()
}

#[tokio::test]
async fn a_due_credential_rotates_on_the_tick_and_not_before() {
    let fx = Fixture::new();
    let mut vault = fx.open();
    vault.add_credential("k", &SecretString::from("sk-first"), Some(1)).expect("add");
    let rotators = RotatorSet::parse(MINTS).expect("config");
    let mut scheduler = Scheduler::new(fx.clock.clone());
    assert_eq!(scheduler.tick(&mut vault, &rotators).await, []);
    let rotator = rotators.get("k").expect("rotator");
    assert_eq!(scheduler.next_rotation(rotator, T0.plus(DAY)), Some(T0.plus(DAY)));

    fx.clock.advance(DAY);
    let events = scheduler.tick(&mut vault, &rotators).await;
    assert_eq!(events, [Event::Rotated { credential: "k".into(), version: 2 }]);
    assert!(value(&vault).starts_with("sk-") && value(&vault) != "sk-first");
    assert_eq!(scheduler.tick(&mut vault, &rotators).await, [], "not due again for a day");
}

#[tokio::test]
async fn a_failing_rotator_backs_off_and_leaves_the_current_version() {
    let fx = Fixture::new();
    let mut vault = fx.open();
    vault.add_credential("k", &SecretString::from("sk-first"), Some(1)).expect("add");
    let rotators = RotatorSet::parse("[rotator.k]\nkind = \"command\"\ncommand = [\"false\"]\n").expect("config");
    let mut scheduler = Scheduler::new(fx.clock.clone());
    fx.clock.advance(DAY);
    let events = scheduler.tick(&mut vault, &rotators).await;
    let [Event::Failed { retry_at, error, .. }] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(*retry_at, fx.clock.now().plus(Duration::from_secs(60)));
    assert!(error.contains("the create step failed"), "{error}");
    assert_eq!(scheduler.tick(&mut vault, &rotators).await, [], "waiting out the backoff");
    fx.clock.advance(Duration::from_secs(60));
    let events = scheduler.tick(&mut vault, &rotators).await;
    let [Event::Failed { retry_at, .. }] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(*retry_at, fx.clock.now().plus(Duration::from_secs(120)), "the wait doubles");
    assert_eq!(value(&vault), "sk-first");
    let next = scheduler.next_rotation(rotators.get("k").expect("r"), T0.plus(DAY));
    assert_eq!(next, Some(fx.clock.now().plus(Duration::from_secs(120))));
}

#[tokio::test]
async fn an_attempt_left_by_a_dead_run_is_finished_and_a_grace_end_erases_the_previous() {
    let fx = Fixture::new();
    let mut vault = fx.open();
    vault.add_credential("k", &SecretString::from("sk-first"), Some(30)).expect("add");
    vault.set_credential_policy("k", None, Some(Duration::from_secs(3600))).expect("grace");
    vault.begin_rotation("k").expect("a run that died");
    let rotators = RotatorSet::parse(MINTS).expect("config");
    let mut scheduler = Scheduler::new(fx.clock.clone());
    let events = scheduler.tick(&mut vault, &rotators).await;
    assert_eq!(events, [Event::Rotated { credential: "k".into(), version: 2 }], "not due, but in flight");
    let detail = vault.credential_detail("k").expect("detail");
    assert_eq!(detail.versions.len(), 2, "the previous version is kept for the grace");

    fx.clock.advance(Duration::from_secs(3600));
    assert_eq!(scheduler.tick(&mut vault, &rotators).await, []);
    let detail = vault.credential_detail("k").expect("detail");
    assert_eq!(detail.versions.len(), 1, "erased when the grace ended");
    let log = vault.rotation_log().expect("log");
    assert_eq!(log.last().map(|e| e.action.as_str()), Some("erased"), "no revoke_command: erased only");
}
