//! Calls waiting for a person, in the app: the agent shows each new one as a native
//! notification with Allow / Allow for 10 minutes / Deny, and the window's Approvals view
//! lists them with the same buttons. Both answer through keygate-mcp's approvals files, as
//! `keygate approve` does, marked as the app's answer in the audit.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use keygate_mcp::{ApprovalDecision, PendingApproval, decide_approval, pending_approvals};

use crate::error::AppError;
use crate::state::AppState;

/// The window offers this one "allow for" length, as the notification does.
pub const ALLOW_FOR: Duration = Duration::from_secs(10 * 60);
/// Characters of the arguments a notification shows (the window shows them all).
const NOTIFICATION_ARGUMENTS: usize = 300;

/// The waiting calls already shown as notifications, so each is shown once.
#[derive(Debug, Default)]
pub struct ApprovalPrompts {
    shown: HashSet<String>,
}

/// The calls waiting now (none when nothing waits or the list cannot be read).
pub fn pending(state: &AppState) -> Result<Vec<PendingApproval>, AppError> {
    pending_approvals(state.home().dir()).map_err(|e| AppError::new("approvals", e.to_string()))
}

/// Answer a waiting call as the app; `allow_for` opens a window for the same grant and tool.
pub async fn answer(home: &Path, id: &str, allow: bool, allow_for: Option<Duration>) -> Result<(), AppError> {
    let decision = ApprovalDecision { allow, for_secs: allow_for.map(|d| d.as_secs()), by: "app".into() };
    decide_approval(home, id, &decision).await.map_err(|e| AppError::new("approval", e.to_string()))
}

/// The agent's loop: a notification for each call that started waiting since the last look.
pub fn prompt_new(state: &AppState, prompts: &mut ApprovalPrompts) {
    let Ok(waiting) = pending(state) else { return };
    prompts.shown.retain(|id| waiting.iter().any(|p| &p.id == id));
    for call in waiting {
        if prompts.shown.insert(call.id.clone()) {
            let home = state.home().dir().to_path_buf();
            let spawned = std::thread::Builder::new().name("keygate-approval".into()).spawn(move || ask(&home, &call));
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "cannot show an approval notification; answer in the window");
            }
        }
    }
}

/// The notification's text: what is called, by whom, with which arguments (cut).
pub fn notification_body(call: &PendingApproval) -> String {
    let mut arguments: String = call.arguments.chars().take(NOTIFICATION_ARGUMENTS).collect();
    if call.arguments.chars().count() > NOTIFICATION_ARGUMENTS {
        arguments.push('…');
    }
    format!("{} wants to call {}\n{arguments}", call.grant, call.tool)
}

/// The call's whole wait, in milliseconds: the notification needs to stay no longer.
fn notification_timeout(call: &PendingApproval) -> u32 {
    u32::try_from(call.timeout_secs.saturating_mul(1000)).unwrap_or(u32::MAX)
}

/// Show one notification and answer with the button the person clicks (closing it answers
/// nothing: the call keeps waiting for the window, the CLI or its timeout).
fn ask(home: &Path, call: &PendingApproval) {
    let shown = notify_rust::Notification::new()
        .appname("Keygate")
        .summary("Allow this call?")
        .body(&notification_body(call))
        .icon("dialog-question")
        .action("allow", "Allow")
        .action("allow-10m", "Allow for 10 minutes")
        .action("deny", "Deny")
        // Gone when the call stops waiting anyway, which also ends this thread's wait.
        .timeout(notify_rust::Timeout::Milliseconds(notification_timeout(call)))
        .show();
    let handle = match shown {
        Ok(handle) => handle,
        Err(e) => {
            tracing::warn!(error = %e, "cannot show an approval notification; answer in the window");
            return;
        }
    };
    let mut chosen = None;
    handle.wait_for_action(|action| chosen = Some(action.to_string()));
    let (allow, allow_for) = match chosen.as_deref() {
        Some("allow") => (true, None),
        Some("allow-10m") => (true, Some(ALLOW_FOR)),
        Some("deny") => (false, None),
        _ => return,
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
    if let Err(e) = runtime.block_on(answer(home, &call.id, allow, allow_for)) {
        tracing::warn!(error = %e, call = %call.id, "the approval answer was not taken");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(arguments: String) -> PendingApproval {
        PendingApproval {
            id: "0123abcd".into(),
            tool: "github_delete_repo".into(),
            grant: "ci-bot".into(),
            arguments,
            waiting_since: "2026-11-29T20:00:00Z".into(),
            timeout_secs: 60,
        }
    }

    #[test]
    fn a_notification_names_the_tool_the_grant_and_cut_arguments() {
        let body = notification_body(&waiting("{\n  \"repo\": \"me/app\"\n}".into()));
        assert_eq!(body, "ci-bot wants to call github_delete_repo\n{\n  \"repo\": \"me/app\"\n}");
        let long = notification_body(&waiting("x".repeat(1000)));
        assert!(long.ends_with(&format!("{}…", "x".repeat(NOTIFICATION_ARGUMENTS))), "{long}");
        assert!(!long.contains(&"x".repeat(NOTIFICATION_ARGUMENTS + 1)));
        assert_eq!(notification_timeout(&waiting(String::new())), 60_000, "gone when the call stops waiting");
    }
}
