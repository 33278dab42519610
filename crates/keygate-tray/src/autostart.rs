//! Start at login, so Keygate runs when agents start (`keygate connect` needs it): the XDG
//! autostart entry on Linux, a LaunchAgent on macOS. On after the first start of the agent;
//! the tray's switch turns it off for good (the choice is kept in the Keygate home, so a
//! later start does not turn it back on). The entry starts the agent hidden in the tray.

use std::io::Write;
use std::path::{Path, PathBuf};

use keygate_vault::Home;

use crate::agent::HIDDEN_FLAG;

/// The user's choice, once made: "on" or "off".
const CHOICE_FILE: &str = "start-at-login";

/// Where the login entry goes and what it starts.
#[derive(Debug, Clone)]
pub struct Autostart {
    entry: PathBuf,
    choice: PathBuf,
    exe: PathBuf,
    home: Option<PathBuf>,
}

impl Autostart {
    /// For this user and this binary; `home` is put in the entry only when it is not the
    /// default (KEYGATE_HOME was set), so the login start opens the same vault.
    pub fn for_user(home: &Home, exe: PathBuf) -> Option<Self> {
        let entry = entry_path()?;
        let custom_home = std::env::var_os("KEYGATE_HOME").map(|_| home.dir().to_path_buf());
        Some(Self { entry, choice: home.dir().join(CHOICE_FILE), exe, home: custom_home })
    }

    /// Whether Keygate starts at login.
    pub fn is_enabled(&self) -> bool {
        self.entry.is_file()
    }

    /// The first start of the agent turns it on; after that only the user's choice counts.
    pub fn on_agent_start(&self) -> std::io::Result<()> {
        if self.choice.exists() { self.refresh() } else { self.set(true) }
    }

    /// Keep an entry that is on pointing at this binary (it may have moved with an update).
    fn refresh(&self) -> std::io::Result<()> {
        if self.is_enabled() { write_atomically(&self.entry, &self.entry_text()) } else { Ok(()) }
    }

    /// Turn it on or off and remember the choice.
    pub fn set(&self, on: bool) -> std::io::Result<()> {
        if on {
            write_atomically(&self.entry, &self.entry_text())?;
        } else if let Err(e) = std::fs::remove_file(&self.entry)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(e);
        }
        write_atomically(&self.choice, if on { "on\n" } else { "off\n" })
    }

    fn entry_text(&self) -> String {
        let mut argv: Vec<String> = Vec::new();
        if let Some(home) = &self.home {
            argv.extend(["env".to_string(), format!("KEYGATE_HOME={}", home.display())]);
        }
        argv.push(self.exe.display().to_string());
        argv.push(HIDDEN_FLAG.to_string());
        if cfg!(target_os = "macos") { launch_agent(&argv) } else { desktop_entry(&argv) }
    }
}

/// `$XDG_CONFIG_HOME/autostart/keygate.desktop`, or `~/Library/LaunchAgents/...` on macOS.
fn entry_path() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    if cfg!(target_os = "macos") {
        return Some(home?.join("Library/LaunchAgents/dev.keygate.agent.plist"));
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| home.map(|h| h.join(".config")))?;
    Some(config.join("autostart/keygate.desktop"))
}

/// A Desktop Entry whose Exec quotes every argument as the specification asks.
fn desktop_entry(argv: &[String]) -> String {
    let exec: Vec<String> = argv.iter().map(|arg| quote_exec_arg(arg)).collect();
    format!(
        "[Desktop Entry]\nType=Application\nName=Keygate\nComment=Keys for your AI agents, in the tray\n\
         Exec={}\nTerminal=false\nX-GNOME-Autostart-enabled=true\n",
        exec.join(" ")
    )
}

/// Exec quoting: inside double quotes, `"`, `` ` ``, `$` and `\` are escaped with `\`; and a
/// literal `%` is `%%` (field codes). Backslashes are doubled again by the key-file format.
fn quote_exec_arg(arg: &str) -> String {
    let mut quoted = String::from("\"");
    for c in arg.chars() {
        match c {
            '"' | '`' | '$' => quoted.push_str(&format!("\\\\{c}")),
            '\\' => quoted.push_str("\\\\\\\\"),
            '%' => quoted.push_str("%%"),
            '\n' | '\r' => quoted.push(' '),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

fn launch_agent(argv: &[String]) -> String {
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let args: String = argv.iter().map(|a| format!("    <string>{}</string>\n", escape(a))).collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \
         \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\">\n<dict>\n  \
         <key>Label</key><string>dev.keygate.agent</string>\n  <key>ProgramArguments</key>\n  <array>\n{args}  \
         </array>\n  <key>RunAtLoad</key><true/>\n</dict>\n</plist>\n"
    )
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().ok_or_else(|| std::io::Error::other("the path has no folder"))?;
    std::fs::create_dir_all(dir)?;
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(text.as_bytes())?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn autostart(dir: &Path, home: Option<&str>) -> Autostart {
        Autostart {
            entry: dir.join("config/autostart/keygate.desktop"),
            choice: dir.join("home").join(CHOICE_FILE),
            exe: PathBuf::from("/opt/Key gate/keygate-app"),
            home: home.map(PathBuf::from),
        }
    }

    #[test]
    fn the_first_start_turns_it_on_and_a_choice_of_off_sticks() {
        let dir = tempfile::tempdir().expect("temp");
        let start = autostart(dir.path(), None);
        start.on_agent_start().expect("first start");
        assert!(start.is_enabled());
        let text = std::fs::read_to_string(&start.entry).expect("entry");
        assert!(text.contains("Exec=\"/opt/Key gate/keygate-app\" \"--hidden\"\n"), "{text}");
        start.set(false).expect("off");
        assert!(!start.is_enabled());
        start.on_agent_start().expect("later start");
        assert!(!start.is_enabled(), "a later start turned it back on");
        start.set(true).expect("on");
        start.on_agent_start().expect("later start");
        assert!(start.is_enabled());
    }

    #[test]
    fn exec_arguments_are_quoted_so_a_path_cannot_inject_a_command() {
        assert_eq!(quote_exec_arg("a b"), "\"a b\"");
        assert_eq!(quote_exec_arg("$(rm -rf ~)`x`\"%u"), "\"\\\\$(rm -rf ~)\\\\`x\\\\`\\\\\"%%u\"");
        assert_eq!(quote_exec_arg("a\\b\nc"), "\"a\\\\\\\\b c\"");
    }

    #[test]
    fn a_custom_home_goes_into_the_entry() {
        let dir = tempfile::tempdir().expect("temp");
        let start = autostart(dir.path(), Some("/tmp/kg home"));
        start.set(true).expect("on");
        let text = std::fs::read_to_string(&start.entry).expect("entry");
        assert!(text.contains("Exec=\"env\" \"KEYGATE_HOME=/tmp/kg home\" \"/opt/Key gate/keygate-app\""), "{text}");
        assert_eq!(std::fs::read_to_string(&start.choice).expect("choice"), "on\n");
    }
}
