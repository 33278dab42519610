//! Keygate's rotators: a credential's key minted anew at its provider (a built-in provider's
//! key API, or a command), tested, promoted and the old one revoked after the grace, each step
//! logged in the vault and safe to kill at any point. HTTP lives here, never in the vault.

mod builtin;
mod command;
mod config;
mod engine;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod notify;
mod probe;
mod provider;
mod publish;
mod redact;
mod schedule;

pub use config::{Kind, Probe, Rotator, RotatorSet, Schedule};
pub use engine::{RotationReport, retire_expired, rotate, rotate_team, test_manual_value};
pub use error::{Result, RotateError};
pub use notify::{notification_text, notify};
pub use provider::Minted;
pub use publish::{NoTeam, Publish, PublishError};
pub use schedule::{Event, FIRST_BACKOFF, MAX_BACKOFF, Scheduler, TICK, backoff_after};
