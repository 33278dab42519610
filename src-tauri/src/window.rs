//! The one window of the window process. Closing it ends that process, and with it the web
//! view and WebKit's helpers (most of the app's memory), while the agent keeps the server and
//! the tray; "Open Keygate" starts a window again in a fraction of a second.

use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

const MAIN: &str = "main";

/// Show the window, creating it if it is not there.
pub fn show_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window(MAIN) {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
        return;
    }
    let built = WebviewWindowBuilder::new(app, MAIN, WebviewUrl::App("index.html".into()))
        .title("Keygate")
        .inner_size(980.0, 680.0)
        .min_inner_size(640.0, 420.0)
        .build();
    if let Err(e) = built {
        tracing::error!(error = %e, "cannot open the window");
    }
}
