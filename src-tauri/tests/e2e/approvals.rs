//! A call that waits for the person, in the real app: a `[[tool]]` with `approve = true`, an
//! MCP client's call waits; the agent shows a notification with the tool and its arguments
//! (seen on D-Bus with its Allow / Deny actions); the window's Approvals view lists the call
//! and its Allow lets it through, its Deny refuses the next; clicking the notification's
//! "Allow for 10 minutes" (the ActionInvoked signal a notification server sends) lets a third
//! through and the next without asking; the audit says the app answered.

use std::process::Command;
use std::time::Duration;

use crate::support::{self, AgentGuard, NotificationWatch, Upstream, keygate_cli, mcp_client, result_text, search};
use crate::webdriver::{Session, TauriDriver};

const KEY: &str = "scavio-key-for-approvals";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_call_is_notified_listed_in_the_window_and_answered_there() {
    support::require_desktop();
    let scratch = tempfile::tempdir().expect("temp dir");
    let home = scratch.path().join("home");
    let (upstream, upstream_url) = Upstream::start().await;
    support::write_config(&home, &upstream_url);
    // The config's last table is web_search's [[tool]]: every call to it waits for a person.
    let config = std::fs::read_to_string(home.join("config.toml")).expect("config");
    std::fs::write(home.join("config.toml"), format!("{config}approve = true\n")).expect("approve");
    let notifications = NotificationWatch::start(scratch.path().join("notify.log"));
    let replies = NotificationWatch::start_with_replies(scratch.path().join("replies.log"));
    let desktop = support::DesktopUser::new(scratch.path());
    let driver = TauriDriver::start(&desktop.envs(&home));
    let _agent = AgentGuard::new(&home);
    let app = Session::start(&driver, support::window_exe(), &[]).await;
    app.wait_text("#checklist", "Created a new vault").await;
    let mcp_url = app.wait_attribute("#server-status[data-state=running]", "data-url").await;
    keygate_cli(&home, &["cred", "add", "scavio_api_key"], KEY);
    let created = keygate_cli(&home, &["token", "create", "--tool", "web_search", "--json"], "");
    let created: serde_json::Value = serde_json::from_str(&created).expect("token JSON");
    let token = created["token"].as_str().expect("token").to_string();
    let agent = mcp_client(&mcp_url, &token).await;

    let waiting = tokio::spawn(async move { agent.call_tool(search("approve me")).await.map(|r| (r, agent)) });
    notifications.wait_for("Allow this call?");
    let log = std::fs::read_to_string(scratch.path().join("notify.log")).expect("monitor log");
    assert!(log.contains("wants to call web_search") && log.contains("approve me"), "{log}");
    assert!(log.contains("\"allow\"") && log.contains("\"deny\"") && log.contains("Allow for 10 minutes"), "{log}");
    assert!(upstream.keys().is_empty(), "the call went upstream before anyone allowed it");

    app.click("#tab-approvals").await;
    let row = app.wait_text("tr[data-tool=web_search]", "approve me").await;
    assert!(row.contains("token "), "{row}");
    app.click("tr[data-tool=web_search] button.allow").await;
    let (result, agent) = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("the call finished once allowed")
        .expect("task")
        .expect("answered");
    let answered = result_text(&result);
    assert!(answered.contains("found") && answered.contains("approve me"), "{answered}");
    assert_eq!(upstream.keys(), [KEY]);
    app.wait_text("#approvals-list", "No call is waiting").await;

    let refused = tokio::spawn(async move { agent.call_tool(search("deny me")).await.map(|r| (r, agent)) });
    app.wait_text("tr[data-tool=web_search]", "deny me").await;
    app.click("tr[data-tool=web_search] button.deny").await;
    let refused = tokio::time::timeout(Duration::from_secs(20), refused).await.expect("answered").expect("task");
    let (refused, agent) = refused.expect("a tool error");
    assert!(result_text(&refused).contains("the person denied this call (answered in the app)"));
    assert_eq!(upstream.keys().len(), 1, "a denied call went upstream");

    // The notification's own button: what the notification server sends when it is clicked.
    let clicked = tokio::spawn(async move { agent.call_tool(search("click me")).await.map(|r| (r, agent)) });
    let id = replies.wait_until(|log| id_in(log, "click me"), "no reply to a Notify call with \"click me\"");
    let sent = Command::new("dbus-send")
        .args(["--session", "--type=signal", "/org/freedesktop/Notifications"])
        .arg("org.freedesktop.Notifications.ActionInvoked")
        .args([format!("uint32:{id}"), "string:allow-10m".to_string()])
        .status()
        .expect("dbus-send");
    assert!(sent.success());
    let clicked = tokio::time::timeout(Duration::from_secs(20), clicked).await.expect("answered").expect("task");
    let (clicked, agent) = clicked.expect("a result");
    assert!(result_text(&clicked).contains("click me"), "{}", result_text(&clicked));
    // For the next 10 minutes the same token calls the same tool without asking.
    let straight = tokio::time::timeout(Duration::from_secs(10), agent.call_tool(search("no need to ask")))
        .await
        .expect("no waiting within the 10 minutes")
        .expect("a result");
    assert!(result_text(&straight).contains("no need to ask"));
    assert_eq!(upstream.keys().len(), 3);

    let audit = keygate_cli(&home, &["audit"], "");
    assert!(audit.contains("approved by app") && audit.contains("denied by app"), "{audit}");
    assert!(audit.contains("approved by app for 600s"), "{audit}");
}

/// In a dbus-monitor log: the Notify call holding `needle`, its sender and serial; the method
/// return to that sender with that reply serial; the uint32 it carries.
fn id_in(log: &str, needle: &str) -> Option<u32> {
    let blocks: Vec<&str> = log.split("\nmethod ").collect();
    let call = blocks.iter().find(|b| b.contains("member=Notify") && b.contains(needle))?;
    let field = |block: &str, name: &str| -> Option<String> {
        block.split_whitespace().find_map(|w| w.strip_prefix(name)).map(|v| v.trim_end_matches(';').to_string())
    };
    let (sender, serial) = (field(call, "sender=")?, field(call, "serial=")?);
    let reply = blocks.iter().find(|b| {
        b.starts_with("return")
            && field(b, "reply_serial=") == Some(serial.clone())
            && b.contains(&format!("destination={sender}"))
    })?;
    reply.split("uint32 ").nth(1)?.split_whitespace().next()?.parse().ok()
}
