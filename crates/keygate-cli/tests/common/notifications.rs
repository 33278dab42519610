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

impl NotificationWatch {
    pub fn start(log: PathBuf) -> Self {
        let file = std::fs::File::create(&log).expect("monitor log");
        let child = Command::new("dbus-monitor")
            .arg("interface='org.freedesktop.Notifications',member='Notify'")
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
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let seen = std::fs::read_to_string(&self.log).unwrap_or_default().matches(needle).count();
            if seen > 0 {
                return seen;
            }
            assert!(Instant::now() < deadline, "no notification with {needle:?} seen on D-Bus in 15 s");
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
