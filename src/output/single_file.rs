//! One file written atomically: `query -o` and `report`. A temporary file beside the target, flushed,
//! renamed over it; what is at the path (a link, a device, a finished run's own file) decides how.

use crate::output::staging::{written_before, MARKER};
use anyhow::{bail, Context, Result};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes one file atomically (the one writer of single files: `query -o`, `report`): a temporary
/// file beside it, flushed, renamed over it, the directory flushed. What is at the path decides how:
/// - a symlink is written through (the file it names is replaced, the link kept);
/// - a device, pipe or socket (`/dev/null`, `/dev/stdout`) is written to directly: a rename would
///   put a regular file in its place;
/// - a directory is refused;
/// - an existing file keeps its permissions; a new one gets the umask's, as any program's would.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // `metadata` follows a symlink: what the path names decides, and a device is opened by its path
    // (`/dev/stdout` names a pipe that no canonical path reaches).
    let existing = fs::metadata(path).ok();
    match &existing {
        Some(m) if m.is_dir() => bail!("{} is a directory. Fix: name a file", path.display()),
        Some(m) if !m.is_file() => {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            return f
                .write_all(bytes)
                .and_then(|()| f.flush())
                .with_context(|| format!("cannot write {}", path.display()));
        }
        _ => {}
    }
    let target = resolved(path)?;
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // The kernel applies the umask to the mode asked for, as it does for any new file.
    let mode = existing
        .as_ref()
        .map_or(0o666, |m| m.permissions().mode() & 0o7777);
    let mut tmp = tempfile::Builder::new()
        .permissions(fs::Permissions::from_mode(mode))
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    if existing.is_some() {
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot write in {}", dir.display()))?;
    }
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {} (disk full?)", path.display()))?;
    tmp.persist(&target)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    // The rename is durable once the directory is.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot flush {}", dir.display()))
}

/// The path a write to `path` lands on: the file a symlink names, else `path` itself.
fn resolved(path: &Path) -> Result<PathBuf> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => fs::canonicalize(path).with_context(|| {
            format!(
                "{} is a symbolic link to nothing. Fix: name a file, or create what the link names",
                path.display()
            )
        }),
        _ => Ok(path.to_path_buf()),
    }
}

/// Refuses a path that is one of a finished run's own files (accounts.csv, summary.json, …): an
/// answer written there would silently replace the run's book.
pub fn refuse_run_file(path: &Path) -> Result<()> {
    // Only a regular file (or a link to one) can be a run's file; anything else is for write_file.
    if !fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return Ok(());
    }
    let target = resolved(path)?;
    let (Some(dir), Some(name)) = (target.parent(), target.file_name()) else {
        return Ok(());
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let name = name.to_string_lossy();
    if dir.join(MARKER).is_file() && (name == MARKER || written_before(dir).contains(&*name)) {
        bail!(
            "{} is a file of the finished run in {}; writing there would replace the run's own \
             output. Fix: write the answer to another file",
            path.display(),
            dir.display()
        )
    }
    Ok(())
}
