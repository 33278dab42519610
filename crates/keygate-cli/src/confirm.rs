//! One rule for destructive commands: `--yes` goes ahead; otherwise a person at a terminal is
//! asked; with nobody to ask (a script, a pipe) the command stops and says to add `--yes`.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Result;

use crate::UsageError;

/// `what` says what will happen, e.g. "Revoke grant cursor (its agents stop at once)";
/// `kept` is said when the person answers no.
pub fn confirm(what: &str, yes: bool, kept: &str) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(UsageError(format!("{what}: add --yes to confirm")).into());
    }
    let mut stderr = std::io::stderr();
    write!(stderr, "{what}? [y/N] ")?;
    stderr.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes") { Ok(()) } else { Err(UsageError(kept.to_string()).into()) }
}
