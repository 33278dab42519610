//! The Keygate tray app: a window and a tray over keygate-vault, with keygate-mcp's server
//! running in the background. Thin: it wires Tauri to the crates that hold the logic.

mod activity;
mod agent;
mod agent_commands;
mod agents;
mod approvals;
mod autostart;
mod commands;
mod config_view;
mod consent;
mod error;
mod first_run;
mod grants;
mod import_commands;
mod import_view;
mod keygate_cli;
mod refusals;
mod reminders;
mod rotation_commands;
mod rotations;
mod server;
mod servers;
mod state;
mod tool_readiness;
mod tray;
mod view_commands;
mod watch;
mod window;

use std::sync::Arc;

use keygate_vault::{Home, KeySource, SystemClock};
use tauri::{App, Builder, Manager, RunEvent, Runtime, Wry};

pub use agents::ClientEnvironment;
pub use error::AppError;
pub use server::{ServerHost, ServerStatus};
pub use state::{AppState, KeyProvider};
pub use watch::CHANGED_EVENT;

/// Run as the agent (default) or as the window (`--window`), until Quit or the window closes.
pub fn run() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(text) = command_line_answer(&args[1.min(args.len())..]) {
        // Answered on the terminal; no window, no agent, nothing left running.
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), "{text}");
        return;
    }
    init_logging();
    let home = match Home::from_env() {
        Ok(home) => home,
        Err(e) => exit_with(&e.to_string()),
    };
    if args.iter().any(|arg| arg == agent::WINDOW_FLAG) {
        run_window(home);
    } else {
        run_agent(home, args.iter().any(|arg| arg == agent::HIDDEN_FLAG));
    }
}

/// `--help` and `--version` print instead of starting the app.
fn command_line_answer(args: &[String]) -> Option<String> {
    let asks = |flags: &[&str]| args.iter().any(|arg| flags.contains(&arg.as_str()));
    if asks(&["--version", "-V"]) {
        return Some(format!("keygate-app {}", env!("CARGO_PKG_VERSION")));
    }
    asks(&["--help", "-h"]).then(|| {
        String::from(
            "Keygate: the tray app (the MCP server, reminders) and its window.\n\n\
             Usage: keygate-app [--hidden]\n\n\
             Options:\n  \
             --hidden    start in the tray only (as at login); a running Keygate is left as it is\n  \
             -h, --help  print this help\n  \
             -V, --version  print the version\n\n\
             Running keygate-app while Keygate runs opens (or focuses) its window.\n\
             The `keygate` command does everything headless: `keygate --help`.",
        )
    })
}

fn exit_with(message: &str) -> ! {
    tracing::error!("{message}");
    std::process::exit(1);
}

fn new_state(home: Home, server: ServerHost) -> AppState {
    AppState::new(home, Box::new(KeySource::from_env), Arc::new(SystemClock), server)
}

fn context() -> tauri::Context<Wry> {
    tauri::generate_context!()
}

/// The agent: the server, the tray and the reminders, with no web view of its own.
fn run_agent(home: Home, hidden: bool) {
    // The agent holds the master key, upstream keys and tokens: no core dumps, no ptrace.
    keygate_mcp::harden_process();
    let _lock = match agent::AgentLock::acquire(&home) {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            // Keygate already runs for this home: just open its window.
            if !hidden && let Err(e) = agent::spawn_self(agent::WINDOW_FLAG) {
                exit_with(&format!("cannot open the Keygate window: {e}"));
            }
            return;
        }
        Err(e) => exit_with(&format!("cannot lock {}: {e}", home.dir().display())),
    };
    let app = Builder::default()
        .manage(new_state(home, ServerHost::in_process()))
        .setup(move |app| setup_agent(app, hidden))
        .build(context());
    match app {
        Ok(app) => app.run(|_, event| {
            // The agent has no windows; only Quit (an explicit exit code) ends it.
            if let RunEvent::ExitRequested { code: None, api, .. } = event {
                api.prevent_exit();
            }
        }),
        Err(e) => exit_with(&format!("cannot start the app: {e}")),
    }
}

fn setup_agent<R: Runtime>(app: &mut App<R>, hidden: bool) -> Result<(), Box<dyn std::error::Error>> {
    let handle = app.handle().clone();
    let state = app.state::<AppState>();
    // The server first: agents may be waiting for the port.
    if state.open_vault().is_ok() {
        tauri::async_runtime::block_on(server::start_server(&state));
    }
    // Before the status is published: whoever sees the agent up sees Start at login set too.
    if let Some(autostart) = tray::autostart(&state)
        && let Err(e) = autostart.on_agent_start()
    {
        tracing::warn!(error = %e, "cannot set up Start at login");
    }
    watch::publish_status(&state);
    rotations::spawn_scheduler(&state);
    tray::create_tray(&handle)?;
    if !hidden {
        tray::open_window(&state);
    }
    tauri::async_runtime::spawn(quit_on_signal(handle.clone()));
    watch::watch_as_agent(handle);
    Ok(())
}

/// SIGTERM (logout, `kill`) and SIGINT (Ctrl-C in a terminal) quit as the tray's Quit does,
/// so the server finishes its requests and queued audit outcomes are written.
async fn quit_on_signal<R: Runtime>(app: tauri::AppHandle<R>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        tracing::warn!("cannot listen for SIGTERM/SIGINT; only Quit stops Keygate cleanly");
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("asked to stop; stopping the MCP server");
    tray::shut_down(&app).await;
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
    let app =
        with_commands(Builder::default(), new_state(home, ServerHost::Agent)).setup(setup_window).build(context());
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

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
