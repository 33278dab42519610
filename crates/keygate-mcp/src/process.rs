//! The process that holds keys leaks none through the OS: no core dump (a core of a server
//! holds the master key, upstream keys and tokens) and, on Linux, not dumpable, so other
//! processes of the same user can neither ptrace it nor read its memory through /proc.
//! Every Keygate process that opens the vault or holds a token calls `harden_process` first.

/// What is in effect for this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessHardening {
    /// Unix: the core file size limit is 0 (soft and hard), so no core is ever written.
    /// `None` where the OS has no such limit.
    pub core_dumps_off: Option<bool>,
    /// Linux: PR_SET_DUMPABLE is 0. `None` where the OS has no such switch.
    pub not_dumpable: Option<bool>,
}

impl ProcessHardening {
    /// Whether everything this OS allows is in effect.
    pub fn complete(&self) -> bool {
        self.core_dumps_off != Some(false) && self.not_dumpable != Some(false)
    }
}

/// Turn core dumps off and (Linux) make the process non-dumpable; returns what is now in
/// effect. Failures are reported in the result, never fatal: Keygate still runs where the OS
/// refuses, and `keygate doctor` says so.
pub fn harden_process() -> ProcessHardening {
    #[cfg(unix)]
    {
        use nix::sys::resource::{Resource, setrlimit};
        if let Err(e) = setrlimit(Resource::RLIMIT_CORE, 0, 0) {
            tracing::warn!(error = %e, "cannot turn core dumps off");
        }
    }
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_dumpable(false) {
        tracing::warn!(error = %e, "cannot make the process non-dumpable");
    }
    process_hardening()
}

/// What is in effect for this process now.
pub fn process_hardening() -> ProcessHardening {
    #[cfg(unix)]
    let core_dumps_off = Some(nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_CORE) == Ok((0, 0)));
    #[cfg(not(unix))]
    let core_dumps_off = None;
    #[cfg(target_os = "linux")]
    let not_dumpable = Some(nix::sys::prctl::get_dumpable().is_ok_and(|dumpable| !dumpable));
    #[cfg(not(target_os = "linux"))]
    let not_dumpable = None;
    ProcessHardening { core_dumps_off, not_dumpable }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_os = "linux")]
    fn hardening_takes_effect() {
        let state = super::harden_process();
        assert_eq!(state.core_dumps_off, Some(true));
        assert_eq!(state.not_dumpable, Some(true));
        assert!(state.complete());
    }
}
