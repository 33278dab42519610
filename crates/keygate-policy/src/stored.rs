//! What the vault keeps of a grant's or token's policy: its rules as written and whether its
//! calls wait for a person's approval. One JSON text, absent when there is nothing to keep.

use serde::{Deserialize, Serialize};

use crate::error::PolicyError;
use crate::parse::Policy;

/// A grant's or token's rules and approval, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredPolicy {
    /// The rules, as written (each checked with [`Policy::parse`] before it is stored).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    /// Every call waits for a person's approval.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub approve: bool,
}

impl StoredPolicy {
    /// Rules and approval, with the rules checked (the error names the rule and column).
    pub fn new(allow: Vec<String>, approve: bool) -> Result<Self, PolicyError> {
        let allow: Vec<String> = allow.iter().map(|r| r.trim().to_string()).collect();
        Policy::parse(&allow)?;
        Ok(Self { allow, approve })
    }

    /// Nothing to keep: no rule, no approval.
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && !self.approve
    }

    /// The text the vault keeps, or `None` for an empty policy (so rows without one stay as
    /// they were).
    pub fn to_stored(&self) -> Option<String> {
        // Serializing strings and a bool cannot fail.
        (!self.is_empty()).then(|| serde_json::to_string(self).unwrap_or_default())
    }

    /// Read what the vault kept.
    pub fn from_stored(text: &str) -> Result<Self, PolicyError> {
        serde_json::from_str(text).map_err(|e| PolicyError::Stored { detail: e.to_string() })
    }

    /// The compiled rules.
    pub fn compile(&self) -> Result<Policy, PolicyError> {
        Policy::parse(&self.allow)
    }
}
