//! Where a tested key goes before it becomes current. A local credential's key goes nowhere
//! else; a team copy's goes to the team's OpenBao first (check-and-set over the version this
//! machine holds), so one machine's rotation is every machine's, and two machines rotating at
//! once never both win. keygate-team implements it; this crate knows no OpenBao.

use std::future::Future;

use secrecy::SecretString;

/// Why a publish did not land.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishError {
    /// It never will: the team has another version (a teammate rotated first). The new key
    /// is revoked and the attempt ended; the next sync brings the teammate's version.
    Refused(String),
    /// It may have landed (the answer was lost) or may land later: the attempt stays in
    /// flight with its tested key, and the next run publishes again or finds it landed.
    Unsure(String),
}

/// Writes a team copy's tested key to the team.
pub trait Publish {
    /// Whether this can publish at all (`false`: team copies are not rotated here).
    fn reaches_team(&self) -> bool {
        true
    }

    /// Publish `value` as the team's next version of `credential` over `held` (the team
    /// version this machine holds); the new team version. Publishing a value the team already
    /// holds as its current version returns that version (a resumed attempt).
    fn publish(
        &self,
        credential: &str,
        value: &SecretString,
        held: i64,
    ) -> impl Future<Output = Result<i64, PublishError>> + Send;
}

/// No team: a team copy is not rotated (its rotation would be undone by the next sync).
#[derive(Debug, Clone, Copy)]
pub struct NoTeam;

impl Publish for NoTeam {
    fn reaches_team(&self) -> bool {
        false
    }

    async fn publish(&self, credential: &str, _: &SecretString, _: i64) -> Result<i64, PublishError> {
        Err(PublishError::Refused(format!(
            "{credential} is a team credential and this Keygate cannot reach the team: check [team] and `keygate team status`"
        )))
    }
}
