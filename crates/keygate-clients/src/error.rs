//! The one error type of client setup. Messages name files and lines, never a value from them.

use std::path::PathBuf;

/// Everything that can go wrong reading, planning or writing a client's config.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The client name is not one Keygate knows.
    #[error("unknown client \"{name}\": use one of {known}")]
    UnknownClient {
        /// What was asked for (already made printable).
        name: String,
        /// The known ids, comma separated.
        known: String,
    },

    /// A grant name outside `[a-z0-9-]{1,32}`.
    #[error("grant name \"{name}\" is not valid: use 1-32 characters of a-z, 0-9 and -")]
    InvalidGrant {
        /// The name (already made printable).
        name: String,
    },

    /// The client has no project-level config file.
    #[error("{client} has no project config file: run without --project")]
    NoProjectFile {
        /// The client's display name.
        client: &'static str,
    },

    /// No home directory to find the clients' files in.
    #[error("cannot find your home directory: set HOME")]
    NoHome,

    /// The client does not seem to be installed here.
    #[error("{client} does not seem to be installed: {} does not exist (install and start it once, then retry)", .looked_for.display())]
    NotInstalled {
        /// The client's display name.
        client: &'static str,
        /// The directory whose absence says so.
        looked_for: PathBuf,
    },

    /// Reading, writing or renaming a file failed.
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        /// What was being done ("read", "write", ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },

    /// The config file is larger than Keygate reads.
    #[error("{} is larger than {limit} bytes: refusing to edit it", .path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },

    /// The config file is not valid for its format; it was not touched.
    #[error("{} line {line}: {detail}; it was left untouched: fix it (or move it away) and retry", .path.display())]
    Unparsable {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// What is wrong there (never the text itself).
        detail: String,
    },

    /// The file parses but is not shaped as the client's docs say (e.g. its top level is a list).
    #[error("{} {detail}; it was left untouched: fix it by hand and retry", .path.display())]
    WrongShape {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },

    /// A `keygate` entry is there that Keygate did not write.
    #[error(
        "{} already has a `keygate` entry that Keygate did not write (or that was changed since): \
         {hint}", .path.display()
    )]
    ForeignEntry {
        /// The file.
        path: PathBuf,
        /// What to do about it.
        hint: &'static str,
    },

    /// The file changed between reading and writing it; nothing was written.
    #[error("{} changed while Keygate was editing it; nothing was written: run the command again", .path.display())]
    ChangedMeanwhile {
        /// The file.
        path: PathBuf,
    },

    /// The edited text failed the check that only the `keygate` entry changed; nothing was written.
    #[error("editing {} would have changed more than the `keygate` entry; nothing was written ({detail})", .path.display())]
    EditCheckFailed {
        /// The file.
        path: PathBuf,
        /// Which check failed.
        detail: String,
    },

    /// A path Keygate must write into a config is not UTF-8.
    #[error("the {what}'s path {} is not UTF-8: move it to a path that is", .path.display())]
    NotUtf8 {
        /// Which path ("keygate binary", "Keygate home").
        what: &'static str,
        /// The path.
        path: PathBuf,
    },

    /// Keygate's own config (config.toml) could not be read or extended for an import.
    #[error("{0}")]
    Gateway(String),

    /// Keygate's record of an entry it wrote could not be encoded.
    #[error("cannot record what Keygate writes ({0})")]
    Record(String),

    /// The vault refused (sealing the original, or reading what Keygate wrote last).
    #[error(transparent)]
    Vault(#[from] keygate_vault::VaultError),
}

/// Shorthand for this crate's results.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// A closure turning an I/O error on `path` into [`ClientError::Io`].
pub(crate) fn io_error(action: &'static str, path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ClientError {
    let path = path.to_path_buf();
    move |source| ClientError::Io { action, path, source }
}

/// Text from a file or the command line, made safe to show on a terminal and bounded.
pub(crate) fn printable(text: &str) -> String {
    let mut out: String = text.chars().take(64).flat_map(char::escape_debug).collect();
    if text.chars().count() > 64 {
        out.push('…');
    }
    out
}
