//! The values a fronted server was started with: opened from the vault just in time, kept
//! only while its child runs, and used to redact anything the child says (stderr, results)
//! before it reaches a log or an agent. `expose_secret` is called here and where the
//! environment or headers are built, nowhere else in the gateway.

use std::fmt;
use std::sync::Arc;

use keygate_vault::{Vault, VaultError};
use secrecy::{ExposeSecret, SecretString};

use crate::config::{ServerEntry, Setting};

use crate::redact::Forms;

/// The credentials opened for one start of a server. Clones share the values.
#[derive(Clone)]
pub(crate) struct Injected {
    /// (credential name, version, value), in file order without repeats.
    values: Arc<Vec<(String, i64, SecretString)>>,
    /// For each of `values`, the team version its local version holds (`None`: a local one).
    team_versions: Arc<Vec<Option<i64>>>,
}

impl fmt::Debug for Injected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Injected").field("versions", &self.versions()).finish_non_exhaustive()
    }
}

impl Injected {
    /// Open every credential `entry` needs; a missing one is an error that says how to add it.
    pub(crate) fn open(vault: &Vault, entry: &ServerEntry) -> Result<Self, String> {
        let (mut values, mut team_versions) = (Vec::new(), Vec::new());
        for name in entry.credentials() {
            match vault.open_credential(name) {
                Ok(opened) => {
                    team_versions.push(opened.team_version);
                    values.push((name.to_string(), opened.version, opened.value));
                }
                Err(VaultError::CredentialNotFound { .. }) => {
                    return Err(format!(
                        "server {}: credential {name} is not in the vault yet: add it with `keygate cred add {name}`",
                        entry.name
                    ));
                }
                Err(e) => return Err(format!("server {}: cannot open credential {name}: {e}", entry.name)),
            }
        }
        Ok(Self { values: Arc::new(values), team_versions: Arc::new(team_versions) })
    }

    /// (name, version) of each credential, for the audit and to notice rotation.
    pub(crate) fn versions(&self) -> Vec<(String, i64)> {
        self.values.iter().map(|(name, version, _)| (name.clone(), *version)).collect()
    }

    /// The team version of each credential (`None` for a local one), in `versions`' order:
    /// for the audit, and to notice a teammate's version held under the same local one.
    pub(crate) fn team_versions(&self) -> &[Option<i64>] {
        &self.team_versions
    }

    /// The text a setting stands for: plain text as is, a credential with its prefix.
    pub(crate) fn resolve(&self, setting: &Setting) -> SecretString {
        match setting {
            Setting::Plain(text) => SecretString::from(text.clone()),
            Setting::Credential { credential, prefix } => {
                let value = self.values.iter().find(|(name, ..)| name == credential).map(|(.., v)| v.expose_secret());
                SecretString::from(format!("{prefix}{}", value.unwrap_or_default()))
            }
        }
    }

    /// Replace every injected value in `text` by `[redacted]`, in any form an echo may take
    /// (case, JSON escapes, base64; see `redact`).
    pub(crate) fn redact(&self, text: &str) -> String {
        self.forms().redact(text)
    }

    /// Whether `text` holds an injected value, in any of those forms.
    pub(crate) fn leaks_into(&self, text: &str) -> bool {
        self.forms().found_in(text)
    }

    fn forms(&self) -> Forms {
        Forms::of(self.values.iter().map(|(.., value)| value.expose_secret()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_replaces_every_value_and_debug_shows_none() {
        let injected = Injected {
            values: Arc::new(vec![("a".into(), 1, "sk-aaaa".into()), ("b".into(), 3, "tok-bbbb".into())]),
            team_versions: Arc::new(vec![None, Some(7)]),
        };
        assert_eq!(injected.redact("x sk-aaaa y tok-bbbb sk-aaaa"), "x [redacted] y [redacted] [redacted]");
        assert!(injected.leaks_into("..tok-bbbb.."));
        assert!(!injected.leaks_into("nothing"));
        let debug = format!("{injected:?}");
        assert!(!debug.contains("sk-aaaa") && debug.contains("(\"b\", 3)"), "{debug}");
        let resolved = injected.resolve(&Setting::Credential { credential: "a".into(), prefix: "Bearer ".into() });
        assert_eq!(resolved.expose_secret(), "Bearer sk-aaaa");
    }
}
