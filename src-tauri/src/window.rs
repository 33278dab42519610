//! The one window: shown from the tray, hidden (not closed) when the user closes it.

use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder, Window, WindowEvent};

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

/// Closing the window keeps Keygate (and its server) running in the tray.
pub fn on_window_event<R: Runtime>(window: &Window<R>, event: &WindowEvent) {
    if let WindowEvent::CloseRequested { api, .. } = event {
        api.prevent_close();
        let _ = window.hide();
    }
}
