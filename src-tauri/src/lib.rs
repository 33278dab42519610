//! The Keygate window (`keygate-window`): the views over the vault, as a Tauri web view. The
//! agent (`keygate-app`: the server, the tray, reminders) is keygate-tray's binary and starts
//! this one when the window is asked for; both build on keygate-tray's state and modules.

mod agent_commands;
mod commands;
mod config_view;
mod first_run;
mod grants;
mod import_commands;
mod rotation_commands;
mod tool_readiness;
mod view_commands;
mod watch;
mod window;

use std::sync::Arc;

use keygate_tray::launch::{begin, exit_with};
// keygate-tray's modules under their old names, so the views' `crate::state` and the like read
// as before the agent moved out.
use keygate_tray::{
    activity, agent, agents, approvals, consent, error, import_view, reminders, rotations, server, servers, state,
};
use keygate_vault::{Home, KeySource, SystemClock};
use tauri::{App, Builder, Manager, Runtime, Wry};

pub use keygate_tray::{AppError, AppState, ClientEnvironment, KeyProvider, ServerHost, ServerStatus};
pub use watch::CHANGED_EVENT;

const HELP: &str = "Keygate's window (the views over the vault). keygate-app, the tray app, starts it.\n\n\
     Usage: keygate-window\n\n\
     Options:\n  \
     -h, --help  print this help\n  \
     -V, --version  print the version\n\n\
     Run keygate-app to start Keygate; it opens (or focuses) this window.\n\
     The `keygate` command does everything headless: `keygate --help`.";

/// Run the window until it closes (or Keygate quits).
pub fn run() {
    if let Some((home, _)) = begin(agent::WINDOW_EXE, HELP) {
        run_window(home);
    }
}

fn context() -> tauri::Context<Wry> {
    tauri::generate_context!()
}

/// The window: the views over the vault; it exits when the window closes. A second window
/// process for the same home brings the open window to the front and exits.
fn run_window(home: Home) {
    let _window = match agent::WindowLock::acquire(&home) {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            agent::nudge(&home, agent::FOCUS_FILE);
            return;
        }
        Err(e) => exit_with(&format!("cannot lock {}: {e}", home.dir().display())),
    };
    let state = AppState::new(home, Box::new(KeySource::from_env), Arc::new(SystemClock), ServerHost::Agent);
    let app = with_commands(Builder::default(), state).setup(setup_window).build(context());
    match app {
        Ok(app) => app.run(|_, _| {}),
        Err(e) => exit_with(&format!("cannot start the window: {e}")),
    }
}

fn setup_window<R: Runtime>(app: &mut App<R>) -> Result<(), Box<dyn std::error::Error>> {
    let handle = app.handle().clone();
    let state = app.state::<AppState>();
    // Opening (or creating) the vault here too means a first start from the window works,
    // and the window can say what is wrong with the keychain; then make sure an agent runs.
    if state.open_vault().is_ok() {
        tauri::async_runtime::block_on(server::start_server(&state));
    }
    window::show_window(&handle);
    watch::watch_as_window(handle);
    Ok(())
}

/// The app's state and commands on a builder; tests use it with Tauri's mock runtime.
pub fn with_commands<R: Runtime>(builder: Builder<R>, state: AppState) -> Builder<R> {
    builder.manage(state).invoke_handler(tauri::generate_handler![
        commands::app_status,
        commands::retry_vault,
        commands::start_server,
        commands::list_credentials,
        commands::add_credential,
        commands::rotate_credential,
        commands::remove_credential,
        rotation_commands::rotate_now,
        rotation_commands::rollback_credential,
        commands::list_tools,
        commands::list_tokens,
        commands::create_token,
        commands::revoke_token,
        commands::rotation_log,
        commands::activity,
        commands::integrity,
        commands::list_servers,
        commands::approve_server_tools,
        commands::restart_server,
        agent_commands::list_agents,
        agent_commands::create_grant,
        agent_commands::revoke_grant,
        agent_commands::connect_client,
        agent_commands::disconnect_client,
        agent_commands::open_consent,
        import_commands::import_overview,
        import_commands::import_keys,
        import_commands::dismiss_import,
        import_commands::start_view,
        view_commands::tool_readiness,
        view_commands::dismiss_checklist,
        view_commands::open_config,
        view_commands::reload_config,
        view_commands::quit_keygate,
        view_commands::list_approvals,
        view_commands::answer_approval,
    ])
}
