//! The crate's one error type.

/// Why rules could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A rule does not parse: which rule (from 1), at which character (from 1), and what was
    /// expected there.
    #[error("rule {rule}, column {column}: {message} (in `{text}`)")]
    Malformed {
        /// The rule's place in the list, from 1.
        rule: usize,
        /// The character where the problem starts, from 1.
        column: usize,
        /// What was wrong and what to write instead.
        message: String,
        /// The rule as given (control characters as spaces, cut to its first 200 characters),
        /// so the message stays one line.
        text: String,
    },
    /// More rules than one grant or token may carry.
    #[error("{count} rules is too many: at most {max} per grant or token")]
    TooMany {
        /// How many were given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The stored form of a policy (in the vault) is not what this build writes.
    #[error("the stored rules cannot be read ({detail}); the vault may be damaged")]
    Stored {
        /// What was wrong with it.
        detail: String,
    },
}

impl PolicyError {
    /// A `Malformed` error for rule `rule` (from 0) at character `at` (from 0) of `text`.
    pub(crate) fn malformed(rule: usize, text: &str, at: usize, message: impl Into<String>) -> Self {
        let shown: String = text.chars().take(200).map(|c| if c.is_control() { ' ' } else { c }).collect();
        PolicyError::Malformed { rule: rule + 1, column: at + 1, message: message.into(), text: shown }
    }
}
