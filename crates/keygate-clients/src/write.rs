//! Applying a plan: a temp file beside the config, fsync, the file's own mode, a last check that
//! the config is still what was read, then a rename (or a no-clobber link for a new file).

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::document;
use crate::error::{ClientError, Result, io_error};
use crate::plan::{Plan, fingerprint};

/// Mode of a config file Keygate creates: it launches a program, so only its owner may change it.
const NEW_FILE_MODE: u32 = 0o600;

/// Write the plan's text to its file atomically. Refuses (writing nothing) if the file changed
/// since the plan read it. Creates the file's directory if the client has none yet.
pub fn apply(plan: &Plan) -> Result<()> {
    if plan.changes_nothing() {
        return Ok(());
    }
    let file = &plan.file;
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_error("create the directory", dir))?;
    let mut temp =
        tempfile::Builder::new().prefix(".keygate-").tempfile_in(dir).map_err(io_error("create a file in", dir))?;
    temp.write_all(plan.after.as_bytes())
        .and_then(|()| temp.as_file().sync_all())
        .map_err(io_error("write", temp.path()))?;
    set_mode(temp.path(), mode_of(file).unwrap_or(NEW_FILE_MODE))?;
    let now = document::read(file)?;
    if fingerprint(now.as_deref().map(String::as_str)) != fingerprint(plan.original()) {
        return Err(ClientError::ChangedMeanwhile { path: plan.shown.clone() });
    }
    if plan.original().is_some() {
        temp.persist(file).map_err(|e| io_error("replace", file)(e.error))?;
    } else {
        temp.persist_noclobber(file).map_err(|e| match e.error.kind() {
            std::io::ErrorKind::AlreadyExists => ClientError::ChangedMeanwhile { path: plan.shown.clone() },
            _ => io_error("create", file)(e.error),
        })?;
    }
    sync_dir(dir);
    Ok(())
}

#[cfg(unix)]
fn mode_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).ok().map(|m| m.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn mode_of(_path: &Path) -> Option<u32> {
    None
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io_error("set permissions on", path))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// Make the rename durable. Best effort: some filesystems refuse to sync a directory.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(handle) = fs::File::open(dir) {
        let _ = handle.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}
