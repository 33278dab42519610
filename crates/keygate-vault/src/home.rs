//! Where a vault lives: `$KEYGATE_HOME`, else the OS data directory. The directory is 0700,
//! its files 0600.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Result, VaultError, io_error};

/// The directory holding `vault.db` and `config.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    dir: PathBuf,
}

impl Home {
    /// `$KEYGATE_HOME` if set and not empty, else `<OS data dir>/keygate`.
    pub fn from_env() -> Result<Self> {
        match std::env::var_os("KEYGATE_HOME") {
            Some(dir) if !dir.is_empty() => Ok(Self::at(dir)),
            _ => Self::default_dir().map(Self::at).ok_or(VaultError::NoHome),
        }
    }

    /// The home used when `$KEYGATE_HOME` is not set: `<OS data dir>/keygate`.
    pub fn default_dir() -> Option<PathBuf> {
        directories::BaseDirs::new().map(|dirs| dirs.data_dir().join("keygate"))
    }

    /// A home at an explicit directory.
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The home directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The SQLite vault file.
    pub fn vault_path(&self) -> PathBuf {
        self.dir.join("vault.db")
    }

    /// The configuration file.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.toml")
    }

    /// Create the directory if needed and make it owner-only.
    pub fn ensure_dir(&self) -> Result<()> {
        fs::create_dir_all(&self.dir).map_err(io_error("cannot create", &self.dir))?;
        set_mode(&self.dir, 0o700)
    }
}

/// Restrict `path` to `mode` (Unix permissions); a no-op elsewhere.
pub(crate) fn set_mode(path: &Path, mode: u32) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .map_err(io_error("cannot set permissions on", path))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// Write `contents` to `path` only if it does not exist, atomically and owner-only:
/// a temp file beside it, then a no-clobber link. Returns false if `path` already existed.
pub(crate) fn write_new_file(path: &Path, contents: &[u8]) -> Result<bool> {
    if path.exists() {
        return Ok(false);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".keygate-")
        .tempfile_in(dir)
        .map_err(io_error("cannot create a file in", dir))?;
    temp.write_all(contents).and_then(|()| temp.as_file().sync_all()).map_err(io_error("cannot write", temp.path()))?;
    set_mode(temp.path(), 0o600)?;
    match fs::hard_link(temp.path(), path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io_error("cannot create", path)(e)),
    }
}
