//! The app's footprint, measured on the real binary in a private desktop session:
//!
//! ```sh
//! cargo build --release -p keygate-tray -p keygate-app -p keygate-footprint
//! scripts/with-desktop target/release/keygate-footprint target/release/keygate-app
//! ```
//!
//! - start to MCP: from spawning the app to its MCP port answering an HTTP request (a 401,
//!   since it carries no token), over `FOOTPRINT_RUNS` starts (default 10) of an existing vault;
//! - memory: the proportional set size (PSS, shared pages split fairly) and RSS summed over
//!   the app and every WebKit process it started: with the window open, after the window is
//!   closed (Ctrl+W, sent with xdotool), and when started with `--hidden`.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SETTLE: Duration = Duration::from_secs(8);

fn main() {
    let app = std::env::args().nth(1).expect("usage: keygate-footprint PATH-TO-keygate-app");
    for var in ["DISPLAY", "DBUS_SESSION_BUS_ADDRESS"] {
        assert!(std::env::var_os(var).is_some(), "{var} unset: run under scripts/with-desktop");
    }
    let scratch = tempfile::tempdir().unwrap();
    let home = scratch.path().join("home");
    let port = free_port();
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("config.toml"), format!("[listen]\nbind = \"127.0.0.1:{port}\"\n")).unwrap();

    // First start creates the vault and its keychain entry; the timed starts open it.
    let first = launch(&app, &home, &[]);
    wait_for_mcp(port);
    stop(first);

    let runs: usize = std::env::var("FOOTPRINT_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(10);
    let mut starts: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            let running = launch(&app, &home, &[]);
            wait_for_mcp(port);
            let elapsed = started.elapsed();
            stop(running);
            elapsed
        })
        .collect();
    starts.sort();
    println!(
        "start to MCP port answering, {runs} starts: median {:.0} ms, min {:.0} ms, max {:.0} ms",
        ms(starts[runs / 2]),
        ms(starts[0]),
        ms(starts[runs - 1])
    );

    let running = launch(&app, &home, &[]);
    wait_for_mcp(port);
    std::thread::sleep(SETTLE);
    report("window open", running.id());
    close_window();
    std::thread::sleep(SETTLE);
    report("window closed, idle in the tray", running.id());
    wait_for_mcp(port);
    stop(running);

    let hidden = launch(&app, &home, &["--hidden"]);
    wait_for_mcp(port);
    std::thread::sleep(SETTLE);
    report("started with --hidden", hidden.id());
    stop(hidden);
}

fn launch(app: &str, home: &Path, args: &[&str]) -> Child {
    Command::new(app).args(args).env("KEYGATE_HOME", home).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
}

fn stop(mut app: Child) {
    let _ = Command::new("kill").arg(app.id().to_string()).status();
    let _ = app.wait();
    // WebKit's helpers end when their parent's connection closes; wait for that.
    std::thread::sleep(Duration::from_millis(300));
}

/// Wait until the MCP endpoint answers an HTTP request.
fn wait_for_mcp(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !answers(port) {
        assert!(Instant::now() < deadline, "the MCP port never answered");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let request =
        format!("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let mut reply = [0u8; 12];
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && reply.starts_with(b"HTTP/1.1 401")
}

fn close_window() {
    let status = Command::new("xdotool")
        .args(["search", "--name", "^Keygate$", "windowfocus", "--sync", "key", "ctrl+w"])
        .stderr(Stdio::null())
        .status()
        .expect("xdotool (apt-get install xdotool)");
    let _ = status;
}

/// Sum PSS and RSS over `root` and all its descendants.
fn report(label: &str, root: u32) {
    let pids = family(root);
    let (mut pss, mut rss) = (0u64, 0u64);
    let mut names = Vec::new();
    for pid in &pids {
        let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        let own = field_kb(&rollup, "Pss:");
        pss += own;
        rss += field_kb(&rollup, "Rss:");
        names.push(format!("{} {} MB", comm(*pid), own / 1024));
    }
    println!(
        "{label}: PSS {} MB, RSS {} MB over {} processes ({})",
        pss / 1024,
        rss / 1024,
        pids.len(),
        names.join(", ")
    );
}

fn family(root: u32) -> Vec<u32> {
    let all: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, parent(pid)?)))
        .collect();
    let mut family = vec![root];
    let mut i = 0;
    while i < family.len() {
        let parent_pid = family[i];
        family.extend(all.iter().filter(|(_, ppid)| *ppid == parent_pid).map(|(pid, _)| *pid));
        i += 1;
    }
    family
}

fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.split_whitespace().nth(1)?.parse().ok()
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_string()
}

fn field_kb(rollup: &str, name: &str) -> u64 {
    rollup.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()).unwrap_or(0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
