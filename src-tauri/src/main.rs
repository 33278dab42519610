// No console window on Windows release builds; on Linux and macOS this does nothing.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

//! `keygate-window`: Keygate's window (Tauri), started by the agent `keygate-app`.

/// As in the `keygate` binary and the agent: every Rust heap block is zeroed when freed, so
/// the keys and tokens the window handles (a pasted key, a new token) do not linger in freed
/// memory.
#[global_allocator]
static ALLOCATOR: zeroizing_alloc::ZeroAlloc<std::alloc::System> = zeroizing_alloc::ZeroAlloc(std::alloc::System);

fn main() {
    keygate_app::run();
}
