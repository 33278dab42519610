// No console window on Windows release builds; on Linux and macOS this does nothing.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    keygate_app::run();
}
