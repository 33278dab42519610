//! `keygate-app`: Keygate's agent (the MCP server, the tray, reminders). It links no web view:
//! the window is `keygate-window`, started beside it when needed.

/// As in the `keygate` binary: every Rust heap block is zeroed when freed, so the copies of a
/// key or token that reqwest, hyper and serde free in the agent (which serves the same MCP
/// server) do not linger in freed memory; over mimalloc, for the same reason as there.
#[global_allocator]
static ALLOCATOR: zeroizing_alloc::ZeroAlloc<mimalloc::MiMalloc> = zeroizing_alloc::ZeroAlloc(mimalloc::MiMalloc);

fn main() {
    keygate_tray::run::main();
}
