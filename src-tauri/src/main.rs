// No console window on Windows release builds; on Linux and macOS this does nothing.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

/// As in the `keygate` binary: every Rust heap block is zeroed when freed, so the copies of a
/// key or token that reqwest, hyper and serde free in the app's agent (which serves the same
/// MCP server) do not linger in freed memory.
#[global_allocator]
static ALLOCATOR: zeroizing_alloc::ZeroAlloc<std::alloc::System> = zeroizing_alloc::ZeroAlloc(std::alloc::System);

fn main() {
    keygate_app::run();
}
