//! A new user's first ten minutes in the real app: the checklist ticks itself, the Tools view
//! says which key is missing and its Add opens the form, the grant form warns, Activity shows
//! who called and a refused connection (with a desktop notification), filters and the chart,
//! the config line (Open in editor, Reload, errors), one window for two launches, and Quit.
//! Every view is saved in light and dark under target/e2e-screenshots.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{self, AgentGuard, NotificationWatch, Upstream, mcp_client, result_text, search};
use crate::webdriver::{Session, TauriDriver};

const KEY: &str = "scavio-key-first-ten-minutes";
const VIEWS: [&str; 8] = ["credentials", "agents", "import", "tools", "tokens", "servers", "rotation", "activity"];

/// A second `[[tool]]` whose key nobody added, for the warnings.
const NEWS_TOOL: &str = r#"
[[tool]]
name = "news"
description = "Latest news"
credential = "news_api_key"
method = "GET"
url = "http://127.0.0.1:9/news"
credential_header = "x-api-key"
input_schema = { type = "object", properties = { query = { type = "string" } } }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_user_is_guided_from_first_key_to_first_call_and_sees_what_agents_do() {
    support::require_desktop();
    let scratch = tempfile::tempdir().expect("temp dir");
    let home = scratch.path().join("home");
    let (upstream, upstream_url) = Upstream::start().await;
    support::write_config(&home, &upstream_url);
    append(&home.join("config.toml"), NEWS_TOOL);
    let notifications = NotificationWatch::start(scratch.path().join("notify.log"));
    let desktop = support::DesktopUser::new(scratch.path());
    let (user, opened, envs) = (&desktop.home, &desktop.opened, desktop.envs(&home));
    let driver = TauriDriver::start(&envs);
    let _agent = AgentGuard::new(&home);
    let exe = support::window_exe();
    let app = Session::start(&driver, exe, &[]).await;

    // The checklist replaces the vault banner: nothing done yet, the vault's place said once.
    app.wait_text("#checklist", "Created a new vault").await;
    app.wait_text("#checklist li[data-step=keys][data-done=false]", "Import your keys").await;
    app.wait_text("#checklist li[data-step=agent][data-done=false]", "Connect an agent").await;
    let mcp_url = app.wait_attribute("#server-status[data-state=running]", "data-url").await;
    shoot_both(&app, "checklist").await;

    // Tools: web_search needs its key; Add opens the credential form with the name filled in.
    app.click("#tab-tools").await;
    app.wait_text("#tools-list tr[data-tool=web_search][data-ready=false]", "needs scavio_api_key").await;
    app.click("#tools-list tr[data-tool=web_search] button.add-credential").await;
    app.wait_until("the form has the name", "return document.getElementById('cred-name').value === 'scavio_api_key'")
        .await;
    assert_eq!(app.eval("return document.activeElement.id").await, "cred-value", "the value is next to type");

    // A key pasted into Cursor's config: the reminder says so with the button that fixes it,
    // and can be dismissed (it shows once something changes, like the key added next).
    let pasted = r#"{ "mcpServers": { "github": { "command": "npx", "env": { "GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_e2eReminder0123456789abcdefABCDEF" } } } }"#;
    std::fs::write(user.join(".cursor/mcp.json"), pasted).expect("a pasted key");

    // A name outside the rule is refused with the rule; the next success clears the error.
    app.type_into("#cred-name", "Bad Name!").await;
    app.type_into("#cred-value", KEY).await;
    app.click("#cred-add-submit").await;
    app.wait_text("#cred-add-error", "1–64 characters: a-z 0-9 _ . -").await;
    app.type_into("#cred-name", "scavio_api_key").await;
    app.type_into("#cred-value", KEY).await;
    app.click("#cred-add-submit").await;
    app.wait_text("#cred-status", "Added scavio_api_key (v1)").await;
    app.wait_until("the error is gone", "return document.getElementById('cred-add-error').hidden").await;
    app.wait_text("#checklist li[data-step=keys][data-done=true]", "Import your keys").await;
    let reminder = "#notices [data-notice=import]";
    app.wait_text(reminder, "1 plaintext key in agent configs.").await;
    app.wait_text(&format!("{reminder} button.notice-action"), "Secure them in Import").await;
    shoot_both(&app, "reminders").await;
    app.click(&format!("{reminder} button.dismiss")).await;
    app.wait_until("the reminder is gone", "return !document.querySelector('#notices [data-notice=import]')").await;
    assert!(home.join(".import-dismissed").is_file(), "dismissed for good");
    app.click("#tab-tools").await;
    app.wait_text("#tools-list tr[data-tool=web_search][data-ready=true]", "ready").await;
    app.wait_text("#tools-list tr[data-tool=news][data-ready=false]", "needs news_api_key").await;

    // The token form warns before granting a tool whose key is missing.
    app.click("#tab-tokens").await;
    app.click("#token-tools input[value=news]").await;
    app.wait_text("#token-tools .tool-warning", "news needs news_api_key, which is not in the vault").await;
    app.click("#token-tools input[value=news]").await;
    app.wait_until(
        "the warning goes with the tick",
        "return document.querySelector('#token-tools .tool-warning').hidden",
    )
    .await;
    // So does the grant form of Connect.
    app.click("#tab-agents").await;
    app.click("#agents-clients tr[data-client=cursor] button.connect").await;
    app.click("#grant-tools input[value=news]").await;
    app.wait_text("#grant-tools .tool-warning", "news needs news_api_key, which is not in the vault").await;
    app.wait_text("#grant-tools .tool-warning button.add-credential", "Add news_api_key").await;
    app.click("#connect-cancel").await;
    app.click("#tab-tokens").await;
    app.click("#token-tools input[value=web_search]").await;
    app.type_into("#token-label", "e2e laptop").await;
    app.click("#token-submit").await;
    let token = app.wait_text("#token-value", "kg_").await;
    let token_id = token.split('_').nth(1).expect("token id").to_string();

    // An agent calls: the checklist ticks the last two steps, Activity names the agent by its
    // label (the token id on hover) and charts the call.
    let agent = mcp_client(&mcp_url, &token).await;
    let result = agent.call_tool(search("first call")).await.expect("call");
    assert!(!result.is_error.unwrap_or(false), "{}", result_text(&result));
    assert_eq!(upstream.keys(), [KEY]);
    app.wait_text("#checklist li[data-step=call][data-done=true]", "See its first call").await;
    app.wait_text("#checklist li[data-step=agent][data-done=true]", "Connect an agent").await;
    app.wait_text("#checklist", "You are set up").await;
    shoot_both(&app, "checklist-done").await;
    app.click("#tab-activity").await;
    let mine = "#activity-table tr[data-agent='e2e laptop'][data-decision=allowed]";
    app.wait_text(mine, "OK (HTTP 200)").await;
    assert_eq!(app.wait_attribute(&format!("{mine} td.agent"), "title").await, format!("token {token_id}"));
    app.wait_text("#activity-chart li[data-agent='e2e laptop']", "e2e laptop (1)").await;
    app.wait_text("#audit-integrity", "Audit intact").await;

    // Revoked, the agent is refused: Activity says why, and one notification says so.
    app.click("#tab-tokens").await;
    app.click(&format!("#tokens-active tr[data-id='{token_id}'] button.revoke")).await;
    app.wait_text("#tokens-status", "Revoked token e2e laptop").await;
    let refused = agent.call_tool(search("after revoke")).await;
    assert!(refused.is_err() || refused.is_ok_and(|r| r.is_error == Some(true)), "a revoked token must not call");
    let _ = agent.cancel().await;
    app.click("#tab-activity").await;
    app.wait_text("#activity-table tr[data-decision=refused]", "the token (or its grant) was revoked").await;
    notifications.wait_for("Keygate refused an agent");
    assert_eq!(notifications.wait_for(&format!("token {token_id} was refused")), 1, "one notification per token");

    // Filters: refused connections only, then a tool with no calls.
    choose(&app, "filter-decision", "refused").await;
    app.wait_until(
        "only refused rows",
        "const rows = [...document.querySelectorAll('#activity-table tbody tr')]; \
         return rows.length > 0 && rows.every((r) => r.dataset.decision === 'refused')",
    )
    .await;
    shoot_both(&app, "activity-refused").await;
    choose(&app, "filter-decision", "all").await;
    choose(&app, "filter-agent", "e2e laptop").await;
    app.wait_text(mine, "OK (HTTP 200)").await;
    choose(&app, "filter-agent", "all").await;

    config_line(&app, &home, opened).await;
    // Hidden for good: every view then starts right under the header.
    app.click("#checklist-dismiss").await;
    app.wait_until("the checklist is gone", "return document.getElementById('checklist').hidden").await;
    assert!(home.join(".checklist-dismissed").is_file());
    app.resize(1180, 780).await;
    for view in VIEWS {
        app.click(&format!("#tab-{view}")).await;
        app.wait_attribute(&format!("#tab-{view}[aria-selected=true]"), "id").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        shoot_both(&app, view).await;
    }
    one_window_for_two_launches(&home, exe, &envs);
    quit_asks_then_stops_everything(&app, &home).await;
}

/// The config line: its path, Open in editor (the desktop's opener gets the file), a broken
/// file shown beside the server's state and refused by Reload, then fixed and reloaded.
async fn config_line(app: &Session, home: &Path, opened: &Path) {
    let config = home.join("config.toml");
    app.wait_text("#config-path", &config.display().to_string()).await;
    app.click("#config-open").await;
    assert_eq!(support::wait_for_file(opened), format!("{}\n", config.display()));
    app.wait_text("#config-status", "Opened in your editor").await;
    let good = std::fs::read_to_string(&config).expect("config");
    append(&config, "\n[[tool]]\nname = \"half\"\n");
    app.click("#config-reload").await;
    app.wait_text("#header-error", "config.toml:").await;
    app.wait_text("#header-error", "missing field").await;
    app.wait_text("#config-error", "keeps serving the last good one").await;
    shoot_both(app, "config-error").await;
    std::fs::write(&config, good).expect("fix config");
    app.click("#config-reload").await;
    app.wait_text("#config-status", "Reloaded").await;
    app.wait_until("the error is gone", "return document.getElementById('config-error').hidden").await;
}

/// Launching the app (the agent) again, or another window, focuses the open window: no
/// second one.
fn one_window_for_two_launches(home: &Path, exe: &Path, envs: &[(&str, &Path)]) {
    assert_eq!(window_processes(home, exe).len(), 1, "one window to start with");
    let focus = home.join(".window-focus");
    let before = std::fs::metadata(&focus).and_then(|m| m.modified()).ok();
    for launched in [support::agent_exe(), exe.to_path_buf()] {
        let mut launch = Command::new(&launched);
        for (name, value) in envs {
            launch.env(name, value);
        }
        let mut child = launch.spawn().expect("launch Keygate again");
        let deadline = Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            assert!(Instant::now() < deadline, "{} kept running beside the open window", launched.display());
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "{}: {status}", launched.display());
    }
    // The window the agent started for the bare launch exits as soon as it sees the lock.
    let deadline = Instant::now() + Duration::from_secs(15);
    while window_processes(home, exe).len() > 1 {
        assert!(Instant::now() < deadline, "a second window process stayed: {:?}", window_processes(home, exe));
        std::thread::sleep(Duration::from_millis(100));
    }
    let after = std::fs::metadata(&focus).and_then(|m| m.modified()).ok();
    assert!(after.is_some() && after != before, "the open window was asked to come to the front");
}

/// Quit asks first; confirmed, the agent stops its server and exits, and the window closes.
async fn quit_asks_then_stops_everything(app: &Session, home: &Path) {
    app.click("#quit").await;
    app.wait_text("#quit-dialog", "Quit Keygate?").await;
    shoot_both(app, "quit").await;
    app.click("#quit-cancel").await;
    app.wait_until("the dialog closed", "return !document.getElementById('quit-dialog').open").await;
    app.click("#quit").await;
    app.click("#quit-confirm").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = std::fs::read_to_string(home.join(".agent-status.json")).unwrap_or_default();
        if status.contains("Keygate quit") && app.window_count().await == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "Quit did not stop the agent and close the window: {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Pick `value` in the select `id`, as choosing it from the list does.
async fn choose(app: &Session, id: &str, value: &str) {
    let script = format!(
        "const s = document.getElementById({id:?}); s.value = {value:?}; s.dispatchEvent(new Event('change')); \
         return s.value === {value:?}"
    );
    app.wait_until(&format!("choose {value} in {id}"), &script).await;
}

/// Screenshots of what shows now, light then dark, as `<name>-light.png` and `<name>-dark.png`.
async fn shoot_both(app: &Session, name: &str) {
    let dir: PathBuf = support::screenshot_dir();
    for theme in ["light", "dark"] {
        let script = format!("window.scrollTo(0, 0); document.documentElement.dataset.theme = '{theme}'; return true");
        app.eval(&script).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
        app.screenshot(&dir.join(format!("{name}-{theme}.png"))).await;
    }
    app.eval("delete document.documentElement.dataset.theme; return true").await;
}

/// The window processes of this home: the window's executable run with this KEYGATE_HOME.
fn window_processes(home: &Path, exe: &Path) -> Vec<u32> {
    let exe = std::fs::canonicalize(exe).unwrap_or_else(|_| exe.to_path_buf());
    let wanted_home = format!("KEYGATE_HOME={}", home.display());
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let proc = Path::new("/proc").join(pid.to_string());
            let running_exe = std::fs::read_link(proc.join("exe")).ok();
            let environ = std::fs::read(proc.join("environ")).unwrap_or_default();
            running_exe.as_deref() == Some(exe.as_path())
                && environ.split(|b| *b == 0).any(|v| v == wanted_home.as_bytes())
        })
        .collect()
}

fn append(path: &Path, text: &str) {
    let current = std::fs::read_to_string(path).expect("read");
    std::fs::write(path, format!("{current}{text}")).expect("append");
}
