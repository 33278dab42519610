//! The agent's tray menu, driven as a desktop's tray drives it: over D-Bus, through the
//! dbusmenu object libappindicator exports for tray-icon (`gdbus`, in the private session of
//! scripts/with-desktop). The menu shows the running server, Open starts the window
//! (`keygate-window`, beside the agent), Start at login switches off, and Quit stops the
//! server cleanly and ends the agent, and the window with it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn require_desktop() {
    for var in ["DISPLAY", "DBUS_SESSION_BUS_ADDRESS"] {
        assert!(
            std::env::var_os(var).is_some(),
            "{var} is not set: run the tests with tests/run (or scripts/with-desktop), which starts Xvfb and D-Bus"
        );
    }
}

/// Kills the agent when the test ends early, pass or fail.
struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn gdbus(args: &[&str]) -> Option<String> {
    // Bounded: a connection that exports nothing (the agent's notification client) would
    // otherwise keep gdbus waiting for its default 25 s.
    let out = Command::new("timeout")
        .arg("5")
        .arg("gdbus")
        .args(args)
        .stderr(Stdio::null())
        .output()
        .expect("timeout and gdbus (coreutils, libglib2.0-bin)");
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A method of the session bus itself (`org.freedesktop.DBus`), with at most one argument.
fn bus_call(method: &str, argument: Option<&str>) -> Option<String> {
    let method = format!("org.freedesktop.DBus.{method}");
    let mut args =
        vec!["call", "--session", "--dest", "org.freedesktop.DBus", "--object-path", "/org/freedesktop/DBus"];
    args.extend(["--method", &method]);
    args.extend(argument);
    gdbus(&args)
}

fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The agent's bus name and its menu's object path: the connection owned by `pid` that
/// exports a dbusmenu (it may have others, e.g. for notifications).
fn menu_of(pid: u32) -> Option<(String, String)> {
    let names = bus_call("ListNames", None)?;
    names.split('\'').filter(|name| name.starts_with(':')).find_map(|name| {
        let owner = bus_call("GetConnectionUnixProcessID", Some(name))?;
        if owner.trim() != format!("(uint32 {pid},)") {
            return None;
        }
        let tree = gdbus(&["introspect", "--session", "--dest", name, "--object-path", "/", "--recurse"])?;
        let path = tree.split_whitespace().find(|word| word.starts_with('/') && word.ends_with("/Menu"))?;
        Some((name.to_string(), path.to_string()))
    })
}

/// One item of the menu as dbusmenu lays it out.
#[derive(Debug)]
struct Item {
    id: u32,
    label: Option<String>,
    enabled: bool,
    toggled: Option<bool>,
}

/// The top-level items of a `GetLayout` answer, in gdbus's text form:
/// `(uint32 3, (0, {...}, [<(9, {'label': <'Open Keygate'>}, @av [])>, ...]))`.
fn parse_layout(text: &str) -> Vec<Item> {
    text.split("<(")
        .skip(1)
        .filter_map(|item| {
            let (id, props) = item.split_once(", {")?;
            let props = props.split_once("}, @av")?.0;
            let value = |key: &str| {
                let start = props.find(&format!("'{key}': <"))? + key.len() + 5;
                let rest = &props[start..];
                Some(rest[..rest.find('>')?].trim_matches('\'').to_string())
            };
            Some(Item {
                id: id.trim().parse().ok()?,
                label: value("label"),
                enabled: value("enabled").is_none_or(|on| on == "true"),
                toggled: value("toggle-state").map(|state| state == "1"),
            })
        })
        .collect()
}

fn layout(name: &str, path: &str) -> Vec<Item> {
    let method = "com.canonical.dbusmenu.GetLayout";
    let text =
        gdbus(&["call", "--session", "--dest", name, "--object-path", path, "--method", method, "0", "--", "-1", "[]"])
            .expect("GetLayout answers");
    parse_layout(&text)
}

fn find<'a>(items: &'a [Item], label: &str) -> &'a Item {
    items
        .iter()
        .find(|item| item.label.as_deref() == Some(label))
        .unwrap_or_else(|| panic!("no {label:?} in {items:#?}"))
}

fn click(name: &str, path: &str, label: &str) {
    let id = find(&layout(name, path), label).id.to_string();
    let method = "com.canonical.dbusmenu.Event";
    let args =
        ["call", "--session", "--dest", name, "--object-path", path, "--method", method, &id, "clicked", "<''>", "0"];
    assert!(gdbus(&args).is_some(), "clicking {label:?} was refused");
}

/// The processes whose parent is `parent` running the executable `exe`.
fn children_running(parent: u32, exe: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let proc = Path::new("/proc").join(pid.to_string());
            let stat = std::fs::read_to_string(proc.join("stat")).unwrap_or_default();
            let ppid = stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
            ppid == Some(parent) && std::fs::read_link(proc.join("exe")).ok().as_deref() == Some(exe)
        })
        .collect()
}

/// Whether `pid` runs: it exists and has not exited (a zombie nobody reaped has).
fn running(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().next()).is_some_and(|state| state != "Z")
}

fn agent_status(home: &Path) -> serde_json::Value {
    let text = std::fs::read(home.join(".agent-status.json")).unwrap_or_default();
    serde_json::from_slice(&text).unwrap_or_default()
}

#[test]
fn the_tray_menu_shows_the_server_switches_start_at_login_off_and_quits_cleanly() {
    require_desktop();
    let scratch = tempfile::tempdir().expect("temp dir");
    let home = scratch.path().join("home");
    let config: PathBuf = scratch.path().join("config");
    std::fs::create_dir_all(&home).expect("home");
    std::fs::write(home.join("config.toml"), "[listen]\nbind = \"127.0.0.1:0\"\n").expect("config");
    let child = Command::new(env!("CARGO_BIN_EXE_keygate-app"))
        .arg("--hidden")
        .env("KEYGATE_HOME", &home)
        .env("XDG_CONFIG_HOME", &config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the agent");
    let mut agent = Agent(child);
    let address = wait_for("the agent's running server", || {
        agent_status(&home)["server"]["address"].as_str().map(str::to_string)
    });
    let (name, path) = wait_for("the agent's tray menu on D-Bus", || menu_of(agent.0.id()));

    let items = layout(&name, &path);
    assert!(find(&items, "Open Keygate").enabled);
    assert!(!find(&items, &format!("MCP server running on {address}")).enabled, "an information line");
    assert!(find(&items, "Quit").enabled);
    assert_eq!(find(&items, "Start at login").toggled, Some(true), "on after the first start");
    let entry = config.join("autostart/keygate.desktop");
    assert!(entry.is_file(), "the first start wrote the login entry");

    let window_exe = Path::new(env!("CARGO_BIN_EXE_keygate-app")).with_file_name("keygate-window");
    assert!(window_exe.is_file(), "{} is missing: build it too (cargo build -p keygate-app)", window_exe.display());
    let window_exe = std::fs::canonicalize(window_exe).expect("window path");
    click(&name, &path, "Open Keygate");
    let window =
        wait_for("Open to start keygate-window", || children_running(agent.0.id(), &window_exe).first().copied());

    click(&name, &path, "Start at login");
    wait_for("Start at login to switch off", || {
        let off = !entry.exists() && std::fs::read_to_string(home.join("start-at-login")).ok()? == "off\n";
        (off && find(&layout(&name, &path), "Start at login").toggled == Some(false)).then_some(())
    });

    click(&name, &path, "Quit");
    let exit = wait_for("the agent to exit after Quit", || agent.0.try_wait().expect("wait"));
    assert!(exit.success(), "Quit ends the agent with success: {exit}");
    let status = agent_status(&home);
    assert_eq!(status["server"]["reason"], "Keygate quit", "the server was stopped first: {status}");
    wait_for("the window to close once the agent is gone", || (!running(window)).then_some(()));
}

#[test]
fn a_layout_is_read_item_by_item() {
    let text = "(uint32 3, (0, {'children-display': <'submenu'>}, [<(9, {'label': <'Open Keygate'>}, @av [])>, \
                <(10, {'enabled': <true>, 'type': <'separator'>}, @av [])>, <(11, {'enabled': <false>, 'label': \
                <'MCP server running on 127.0.0.1:1'>}, @av [])>, <(13, {'toggle-state': <1>, 'toggle-type': \
                <'checkmark'>, 'label': <'Start at login'>}, @av [])>]))";
    let items = parse_layout(text);
    let ids: Vec<u32> = items.iter().map(|item| item.id).collect();
    assert_eq!(ids, [9, 10, 11, 13]);
    assert!(items[0].enabled && items[1].label.is_none() && !items[2].enabled);
    assert_eq!((items[3].label.as_deref(), items[3].toggled), (Some("Start at login"), Some(true)));
}
