//! The campaign's cases, one module each.

pub mod corrupt;
pub mod disk;
pub mod flood;
pub mod kill;
pub mod lock;
pub mod readonly;
pub mod writers;

use anyhow::Result;

use crate::home::KgHome;
use crate::report::Outcome;

/// `keygate audit verify` and `keygate log verify` both print `ok, N rows` and exit 0;
/// otherwise the outcome records what they said.
pub fn chains_verify(home: &KgHome, outcome: &mut Outcome, when: &str) -> Result<bool> {
    let mut intact = true;
    for what in ["audit", "log"] {
        let ran = home.run(&[what, "verify"])?;
        if !(ran.ok() && ran.stdout.starts_with("ok, ")) {
            outcome.fail(format!("{when}: `keygate {what} verify` exit {:?}: {}", ran.code, ran.error_line()));
            intact = false;
        }
    }
    Ok(intact)
}
