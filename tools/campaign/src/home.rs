//! A throwaway Keygate home driven through the built `keygate` binary, and the vault opened
//! in this process (as the app's agent opens it) to read what no command prints: values.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use keygate_vault::{Actor, KeySource, MasterKey, SystemClock, Vault};

/// What one run of `keygate` did.
#[derive(Debug, Clone)]
pub struct Ran {
    /// The exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// A Rust panic (exit 101), a signal, or panic text.
    pub fn panicked(&self) -> bool {
        self.code.is_none() || self.code == Some(101) || self.stderr.contains("panicked")
    }

    /// A failure the way Keygate promises one: a non-zero exit and one `keygate: ...` line.
    pub fn clear_error(&self) -> bool {
        let lines: Vec<&str> = self.stderr.trim_end().lines().collect();
        !self.ok() && !self.panicked() && lines.len() == 1 && lines[0].starts_with("keygate: ") && lines[0].len() > 20
    }

    /// Where and why it panicked (the `panicked at` line and the message after it), for reports.
    pub fn panic_lines(&self) -> String {
        let lines: Vec<&str> = self.stderr.lines().collect();
        let at = lines.iter().position(|l| l.contains("panicked at")).unwrap_or(0);
        lines.iter().skip(at).take(2).copied().collect::<Vec<_>>().join(" ").chars().take(300).collect()
    }

    /// The error line, for reports.
    pub fn error_line(&self) -> String {
        self.stderr.trim_end().lines().last().unwrap_or("").chars().take(200).collect()
    }
}

/// The built binaries this campaign drives.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub keygate: PathBuf,
}

/// One Keygate home and its headless master key.
#[derive(Debug)]
pub struct KgHome {
    dir: PathBuf,
    key: String,
    bin: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl KgHome {
    /// A new home in a temp directory, initialised.
    pub fn new(bins: &Binaries) -> Result<Self> {
        let temp = tempfile::Builder::new().prefix("kg-campaign-").tempdir()?;
        let home = Self::at(bins, &temp.path().join("home"), Some(temp))?;
        Ok(home)
    }

    /// A new home at `dir` (which must not hold a vault yet), initialised.
    pub fn at(bins: &Binaries, dir: &Path, temp: Option<tempfile::TempDir>) -> Result<Self> {
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw).map_err(|e| anyhow::anyhow!("random: {e}"))?;
        let key = base64::engine::general_purpose::STANDARD.encode(raw);
        let home = Self { dir: dir.to_path_buf(), key, bin: bins.keygate.clone(), _temp: temp };
        home.ok(&["init"])?;
        // Tokens are for the `echo` tool (`token create` refuses tools no config defines); a
        // case that calls it points it at its upstream.
        home.configure_echo_tool("http://127.0.0.1:9", "campaign_key")?;
        Ok(home)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn vault_path(&self) -> PathBuf {
        self.dir.join("vault.db")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args).env("KEYGATE_HOME", &self.dir).env("KEYGATE_MASTER_KEY", &self.key).env_remove("RUST_LOG");
        cmd
    }

    /// Start `keygate ARGS` with `stdin` written and closed, output piped.
    pub fn spawn(&self, args: &[&str], stdin: &[u8]) -> Result<Child> {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("start {}", self.bin.display()))?;
        if let Some(mut pipe) = child.stdin.take() {
            // keygate may rightly exit (or be killed) before it reads stdin.
            let _ = pipe.write_all(stdin);
        }
        Ok(child)
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Result<Ran> {
        let out = self.spawn(args, stdin)?.wait_with_output()?;
        Ok(ran(out))
    }

    pub fn run(&self, args: &[&str]) -> Result<Ran> {
        self.run_with_stdin(args, b"")
    }

    /// Run and require success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> Result<String> {
        self.ok_with_stdin(args, b"")
    }

    pub fn ok_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Result<String> {
        let out = self.run_with_stdin(args, stdin)?;
        if !out.ok() {
            bail!("keygate {} failed ({:?}): {}", args.join(" "), out.code, out.error_line());
        }
        Ok(out.stdout)
    }

    pub fn json(&self, args: &[&str]) -> Result<serde_json::Value> {
        Ok(serde_json::from_str(&self.ok(args)?)?)
    }

    /// The vault opened in this process, as the app's agent opens it.
    pub fn open(&self) -> Result<Vault, keygate_vault::VaultError> {
        let bytes = base64::engine::general_purpose::STANDARD.decode(&self.key).unwrap_or_default();
        let key = MasterKey::from_bytes(&bytes)
            .map_err(|reason| keygate_vault::VaultError::BadMasterKeyEnv { reason: reason.to_string() })?;
        let home = keygate_vault::Home::at(&self.dir);
        Vault::open(&home, KeySource::Given(key), Arc::new(SystemClock), Actor::App)
    }

    /// Write config.toml with one `[[tool]]` named `echo` calling `upstream` with credential `cred`.
    pub fn configure_echo_tool(&self, upstream: &str, cred: &str) -> Result<()> {
        let config = format!(
            "[listen]\nbind = \"127.0.0.1:0\"\n\n[tokens]\ndefault_ttl = \"1h\"\nmax_ttl = \"30d\"\n\n[[tool]]\n\
             name = \"echo\"\ndescription = \"campaign upstream\"\ncredential = \"{cred}\"\nmethod = \"POST\"\n\
             url = \"{upstream}/echo\"\ncredential_header = \"x-api-key\"\ninput_schema = {{ type = \"object\" }}\n"
        );
        std::fs::write(self.dir.join("config.toml"), config)?;
        Ok(())
    }

    /// A token for the `echo` tool.
    pub fn echo_token(&self) -> Result<String> {
        let created = self.json(&["token", "create", "--tool", "echo", "--ttl", "1d", "--json"])?;
        Ok(created["token"].as_str().context("token in output")?.to_string())
    }

    /// `keygate serve` on a free loopback port; returns it and its base address (`127.0.0.1:PORT`).
    pub fn serve(&self) -> Result<(Serve, String)> {
        let mut child =
            self.command(&["serve", "--bind", "127.0.0.1:0"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
        let mut first = String::new();
        BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut first)?;
        let serve = Serve(child);
        let url = first.split_whitespace().find(|w| w.starts_with("http://")).context("serve printed no URL")?;
        let addr = url.trim_start_matches("http://").trim_end_matches("/mcp").to_string();
        Ok((serve, addr))
    }
}

fn ran(out: std::process::Output) -> Ran {
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Wait for a child, returning what it did.
pub fn finish(child: Child) -> Result<Ran> {
    Ok(ran(child.wait_with_output()?))
}

/// A running `keygate serve`, killed if dropped.
#[derive(Debug)]
pub struct Serve(pub Child);

impl Serve {
    /// SIGTERM, so the audit writer flushes; then wait.
    pub fn stop(mut self) -> Result<bool> {
        let pid = self.0.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status()?;
        Ok(self.0.wait()?.success())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A random number in `0..n` (n > 0).
pub fn random_below(n: u64) -> u64 {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    u64::from_le_bytes(bytes) % n.max(1)
}

/// Wait for a child at most `limit`; a child still running then is killed and reported as
/// `None` (a hang).
pub fn finish_within(mut child: Child, limit: std::time::Duration) -> Result<Option<Ran>> {
    let started = std::time::Instant::now();
    while child.try_wait()?.is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    finish(child).map(Some)
}
