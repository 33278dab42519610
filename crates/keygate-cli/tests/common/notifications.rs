//! `dbus-monitor` on the session bus, to see the OS notifications Keygate sends (the test
//! desktop of scripts/with-desktop has a notification service).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `dbus-monitor` watching notification calls on the session bus.
pub struct NotificationWatch {
    child: Child,
    log: PathBuf,
}

const NOTIFY: &str = "interface='org.freedesktop.Notifications',member='Notify'";

impl NotificationWatch {
    pub fn start(log: PathBuf) -> Self {
        Self::watching(log, &[NOTIFY])
    }

    /// Also every method return: the replies to Notify carry the ids notifications were given.
    pub fn start_with_replies(log: PathBuf) -> Self {
        Self::watching(log, &[NOTIFY, "type='method_return'"])
    }

    fn watching(log: PathBuf, rules: &[&str]) -> Self {
        let file = std::fs::File::create(&log).expect("monitor log");
        let child = Command::new("dbus-monitor")
            .args(rules)
            .stdout(file)
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-monitor");
        // The monitor must be listening before anything is sent.
        std::thread::sleep(Duration::from_millis(300));
        Self { child, log }
    }

    /// Wait until a Notify call carrying `needle` was seen; return how many carried it.
    pub fn wait_for(&self, needle: &str) -> usize {
        let seen = |log: &str| Some(log.matches(needle).count()).filter(|n| *n > 0);
        self.wait_until(seen, &format!("no notification with {needle:?} seen on D-Bus"))
    }

    /// Wait (15 s at most) until `found` finds what it looks for in the monitor's log.
    pub fn wait_until<T>(&self, found: impl Fn(&str) -> Option<T>, what: &str) -> T {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            if let Some(value) = found(&log) {
                return value;
            }
            assert!(Instant::now() < deadline, "{what} in 15 s:\n{log}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for NotificationWatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
