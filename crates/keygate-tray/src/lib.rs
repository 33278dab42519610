//! Keygate's agent and what the window shares with it. The agent (`keygate-app`, this
//! crate's binary) runs the MCP server from keygate-mcp, the tray (tray-icon and muda over
//! GTK), rotation reminders and scheduled rotations. The window (`keygate-window`, the Tauri
//! package) builds on the same state and modules. This crate never depends on Tauri, wry or
//! WebKit, so the agent idles without their libraries mapped (tests/no_webkit.rs).

pub mod activity;
pub mod agent;
pub mod agents;
pub mod approvals;
pub mod autostart;
pub mod consent;
pub mod error;
pub mod import_view;
pub mod keygate_cli;
pub mod launch;
pub mod refusals;
pub mod reminders;
pub mod rotations;
pub mod run;
pub mod server;
pub mod servers;
pub mod state;
pub mod tray;
pub mod watch;
pub mod window_process;

pub use agents::ClientEnvironment;
pub use error::AppError;
pub use server::{ServerHost, ServerStatus, stop_server};
pub use state::{AppState, KeyProvider};
