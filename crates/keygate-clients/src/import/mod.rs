//! `keygate import`: take the plaintext keys out of the clients' configs. Scan every server
//! entry read-only, plan everything (names, credentials, `[[server]]`, grants, file edits)
//! before writing anything, then write in an order where every step leaves a consistent state.
//!
//! ```text
//! scan(places, clients)                    -> [ClientScan]  what each file holds (names only)
//! prepare(vault, home, binary, &scans)     -> Prepared      what import will do (nothing written)
//! apply(vault, home, &prepared, &scans)    -> Applied       per file outcome, leftovers
//! undo(vault, places, clients)             -> [ClientOutcome]
//! ```

mod apply;
mod detect;
mod edit;
mod names;
mod prepare;
pub(crate) mod report;
mod scan;
mod settings;

pub use apply::{Applied, apply, undo};
pub use edit::{plan_import, plan_undo_import};
pub use prepare::{Prepared, prepare};
pub use report::{ClientOutcome, FileOutcome, Leftover, PlannedCredential, PlannedGrant, PlannedServer, ServerMapping};
pub use scan::{ClientScan, FileState, FoundServer, Verdict, scan, scan_location};
