//! The Keygate tray app: a window and a tray over keygate-vault, with keygate-mcp's server
//! running in the background. Thin: it wires Tauri to the crates that hold the logic.

mod commands;
mod error;
mod reminders;
mod server;
mod state;
mod tray;
mod watch;
mod window;

use std::sync::Arc;

use keygate_vault::{Home, KeySource, SystemClock};
use tauri::{App, Builder, Manager, RunEvent, Runtime};

pub use error::AppError;
pub use server::ServerStatus;
pub use state::{AppState, KeyProvider};
pub use watch::CHANGED_EVENT;

/// Start with the window hidden (only the tray), e.g. when launched at login.
const HIDDEN_FLAG: &str = "--hidden";

/// Run the app until Quit.
pub fn run() {
    init_logging();
    let home = match Home::from_env() {
        Ok(home) => home,
        Err(e) => {
            tracing::error!("{e}");
            std::process::exit(1);
        }
    };
    let state = AppState::new(home, Box::new(KeySource::from_env), Arc::new(SystemClock));
    let app = with_commands(Builder::default(), state).setup(setup).build(tauri::generate_context!());
    match app {
        Ok(app) => app.run(|_, event| {
            // Closing the window leaves the tray; only Quit (an explicit exit code) ends the app.
            if let RunEvent::ExitRequested { code: None, api, .. } = event {
                api.prevent_exit();
            }
        }),
        Err(e) => {
            tracing::error!("cannot start the app: {e}");
            std::process::exit(1);
        }
    }
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
        commands::list_tools,
        commands::list_tokens,
        commands::create_token,
        commands::revoke_token,
        commands::rotation_log,
        commands::activity,
    ])
}

fn setup<R: Runtime>(app: &mut App<R>) -> Result<(), Box<dyn std::error::Error>> {
    let handle = app.handle().clone();
    let state = app.state::<AppState>();
    // The server first: agents may be waiting for the port.
    if state.open_vault().is_ok() {
        tauri::async_runtime::block_on(server::start_server(&state));
    }
    tray::create_tray(&handle)?;
    if !std::env::args().any(|arg| arg == HIDDEN_FLAG) {
        window::show_window(&handle);
    }
    watch::spawn_watcher(handle);
    Ok(())
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
