//! The agent (`keygate-app`) idles in the tray without WebKit: its executable must not load
//! libwebkit2gtk, JavaScriptCore or their helpers (libsoup, the flite voices), and this
//! crate's dependency graph must not reach Tauri, wry or webkit2gtk, which would bring them
//! back. The window (`keygate-window`) is the only executable that links them.

use std::process::Command;

/// Libraries only a web view needs; any of them in the agent means WebKit came back.
const WEB_VIEW_LIBRARIES: [&str; 4] = ["libwebkit2gtk", "libjavascriptcoregtk", "libsoup", "libflite"];
/// Crates that pull a web view in.
const WEB_VIEW_CRATES: [&str; 4] = ["tauri", "wry", "webkit2gtk", "javascriptcore-rs"];

fn run(command: &mut Command) -> String {
    let out = command.output().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(out.status.success(), "{command:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_agent_executable_neither_needs_nor_loads_webkit() {
    let agent = env!("CARGO_BIN_EXE_keygate-app");
    // Its own NEEDED entries: what the linker wrote in.
    let dynamic = run(Command::new("readelf").args(["--dynamic", "--wide", agent]));
    let needed: Vec<&str> = dynamic.lines().filter(|line| line.contains("(NEEDED)")).collect();
    assert!(needed.iter().any(|line| line.contains("libgtk-3")), "the tray needs GTK; readelf saw: {needed:#?}");
    // Everything the loader maps for it, through every library it needs.
    let loaded = run(Command::new("ldd").arg(agent));
    assert!(loaded.contains("libglib-2.0"), "ldd listed nothing useful: {loaded}");
    for library in WEB_VIEW_LIBRARIES {
        assert!(!needed.iter().any(|line| line.contains(library)), "keygate-app needs {library}: {needed:#?}");
        assert!(!loaded.contains(library), "keygate-app loads {library}:\n{loaded}");
    }
}

#[test]
fn the_agent_crate_depends_on_no_web_view_crate() {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let tree = run(Command::new(env!("CARGO")).args([
        "tree",
        "--manifest-path",
        manifest,
        "--package",
        "keygate-tray",
        "--edges",
        "normal,build",
        "--prefix",
        "none",
        "--format",
        "{p}",
        "--locked",
        "--offline",
    ]));
    let crates: Vec<&str> = tree.lines().filter_map(|line| line.split_whitespace().next()).collect();
    assert!(crates.contains(&"tray-icon") && crates.contains(&"keygate-mcp"), "cargo tree listed: {crates:?}");
    for name in WEB_VIEW_CRATES {
        assert!(!crates.contains(&name), "keygate-tray depends on {name}: {tree}");
    }
}
