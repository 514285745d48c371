//! All-or-nothing output directories.
//!
//! Outputs are written into a hidden staging directory beside `--out`, flushed to disk, then swapped
//! into place with one atomic `renameat2(RENAME_EXCHANGE)`: at every instant `--out` holds either the
//! complete previous outputs or the complete new ones (the exchange goes through `rustix`, no `unsafe`). A failed or killed run leaves only a staging
//! directory, which the next run removes. A directory underwater did not write is never replaced.

use anyhow::{bail, Context, Result};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Marks a directory as underwater's output, so a later run may replace it.
pub const MARKER: &str = ".underwater";
const STAGING_TAG: &str = ".underwater-staging-";

/// A staging directory that becomes `--out` on [`Staging::commit`], or disappears on drop.
pub struct Staging {
    target: PathBuf,
    dir: PathBuf,
    committed: bool,
    /// The staging directory's lock file, held (`flock`) while this run lives: how another run tells
    /// a live staging directory from a dead one, whatever pid namespace either runs in.
    lock: Option<(PathBuf, File)>,
}

/// `--out`'s own lock (`.<out>.underwater-lock` beside it), held by a command from its start to its
/// publish: a second run to the same `--out` is refused instead of silently replacing the first's
/// book. The file is removed when the lock is let go, so a folder of nightly runs collects no lock
/// files; a run that opened it in that instant locks the removed file, and only then can two runs
/// to one `--out` overlap (the last one's book wins whole, as without the lock).
pub struct OutLock {
    file: Option<(PathBuf, File)>,
}

impl Drop for OutLock {
    fn drop(&mut self) {
        if let Some((path, _file)) = self.file.take() {
            let _ = fs::remove_file(&path);
            crate::cleanup::unregister(&path);
        }
    }
}

impl OutLock {
    /// Takes `target`'s lock; an error naming the fix when another run holds it.
    pub fn take(target: &Path) -> Result<OutLock> {
        let (parent, name) = names(target)?;
        Ok(OutLock {
            file: lock_out(&parent, &name, target)?,
        })
    }
}

fn lock_out(parent: &Path, name: &str, target: &Path) -> Result<Option<(PathBuf, File)>> {
    use rustix::fs::{flock, FlockOperation};
    let path = parent.join(format!(".{name}.underwater-lock"));
    let Ok(file) = File::create(&path) else {
        return Ok(None); // a missing or read-only parent fails later, with its own message
    };
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {
            // An interrupted run removes it too.
            crate::cleanup::register(&path);
            Ok(Some((path, file)))
        }
        Err(rustix::io::Errno::WOULDBLOCK) => bail!(
            "another underwater run is writing --out {} (it holds {}). Fix: wait for it to finish, \
             or name another --out",
            target.display(),
            path.display()
        ),
        Err(_) => Ok(None), // a filesystem without flock: as before, the last run wins
    }
}

/// The lock file of the staging directory or backup named `staging` (`<staging>.previous` shares it).
fn lock_path(staging: &Path) -> PathBuf {
    let mut name = staging.as_os_str().to_os_string();
    if let Some(base) = staging.to_str().and_then(|s| s.strip_suffix(".previous")) {
        name = base.into();
    }
    name.push(".lock");
    PathBuf::from(name)
}

/// Creates and locks the lock file of `staging`; `None` where the filesystem has no `flock` (the
/// sweep then falls back to the process id).
fn take_lock(staging: &Path) -> Option<(PathBuf, File)> {
    use rustix::fs::{flock, FlockOperation};
    let path = lock_path(staging);
    let file = File::create(&path).ok()?;
    flock(&file, FlockOperation::NonBlockingLockExclusive).ok()?;
    crate::cleanup::register(&path);
    Some((path, file))
}

/// Whether a live process holds `staging`'s lock: `None` when it has no lock file.
fn lock_is_held(staging: &Path) -> Option<bool> {
    use rustix::fs::{flock, FlockOperation};
    let file = File::open(lock_path(staging)).ok()?;
    Some(flock(&file, FlockOperation::NonBlockingLockShared).is_err())
}

fn names(target: &Path) -> Result<(PathBuf, String)> {
    let name = target
        .file_name()
        .with_context(|| {
            format!(
                "--out {} has no directory name. Fix: name a directory, e.g. --out results",
                target.display()
            )
        })?
        .to_string_lossy()
        .into_owned();
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((parent, name))
}

/// Where a run that failed a guard rail writes its rejects.csv and summary.json: beside `--out`, named
/// `<out>.failed`, so the published book in `--out` is never touched by a failed night.
pub fn failed_dir(target: &Path) -> PathBuf {
    let mut name = target
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "out".into());
    name.push(".failed");
    target.with_file_name(name)
}

/// Removes the `<out>.failed` of an earlier failed run once a run has published (only if underwater
/// wrote it).
pub fn remove_failed_report(target: &Path) {
    let failed = failed_dir(target);
    if failed.join(MARKER).is_file() {
        let _ = fs::remove_dir_all(&failed);
    }
}

/// Checks that `target` may be (re)placed: not a file, and empty or written by underwater before.
pub fn check_target(target: &Path) -> Result<()> {
    names(target)?;
    match fs::metadata(target) {
        Err(_) => Ok(()),
        Ok(m) if !m.is_dir() => bail!(
            "--out {} is a file, not a directory. Fix: name a new or empty directory",
            target.display()
        ),
        Ok(_) => {
            let entries: Vec<String> = fs::read_dir(target)
                .with_context(|| format!("cannot list --out {}", target.display()))?
                .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<std::io::Result<_>>()
                .with_context(|| format!("cannot list --out {}", target.display()))?;
            if entries.is_empty() {
                return Ok(());
            }
            if !target.join(MARKER).is_file() {
                bail!(
                    "refusing to replace --out {}: it holds files underwater did not write. \
                     Fix: name a new or empty directory, or a previous underwater output directory",
                    target.display()
                )
            }
            let written = written_before(target);
            let foreign: Vec<&String> = entries
                .iter()
                .filter(|e| *e != MARKER && !written.contains(e.as_str()))
                .collect();
            match foreign.as_slice() {
                [] => Ok(()),
                some => bail!(
                    "refusing to replace --out {}: besides an earlier run's outputs it holds {} that \
                     underwater did not write ({}), and a run replaces the directory whole. Fix: move \
                     them out of the directory, or name another --out",
                    target.display(),
                    some.len(),
                    some.iter()
                        .take(5)
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
    }
}

/// The files an earlier run wrote into `dir`: its summary.json's list of outputs (summary.json itself
/// included). A summary.json that cannot be read lists nothing, so every other file counts as foreign.
pub(crate) fn written_before(dir: &Path) -> std::collections::BTreeSet<String> {
    // Only the list is read, so a summary.json from an older version with other fields still reads.
    #[derive(serde::Deserialize)]
    struct Listed {
        manifest: ListedOutputs,
    }
    #[derive(serde::Deserialize)]
    struct ListedOutputs {
        outputs: Vec<String>,
    }
    let mut names: std::collections::BTreeSet<String> = fs::read(dir.join("summary.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Listed>(&bytes).ok())
        .map(|l| l.manifest.outputs.into_iter().collect())
        .unwrap_or_default();
    names.insert("summary.json".into());
    names
}

impl Staging {
    /// Creates the staging directory beside `target` (creating `target`'s parent if needed), after
    /// removing staging directories left by runs that died.
    pub fn new(target: &Path) -> Result<Staging> {
        // A symlinked --out is written through: the directory it points to is replaced, the link stays.
        let resolved;
        let target = match fs::symlink_metadata(target) {
            Ok(m) if m.file_type().is_symlink() => {
                resolved = fs::canonicalize(target).with_context(|| {
                    format!(
                        "--out {} is a symbolic link to nothing. Fix: point it at a directory, or name another --out",
                        target.display()
                    )
                })?;
                &resolved
            }
            _ => target,
        };
        check_target(target)?;
        let (parent, name) = names(target)?;
        if !parent.exists() {
            // `ghost/../x` would create `ghost/` on the way: missing parents are created only along a
            // plain path.
            if parent
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
            {
                bail!(
                    "--out {}: {} does not exist, and the path goes through `..`. Fix: name the \
                     directory without `..`, or create its parent first",
                    target.display(),
                    parent.display()
                );
            }
            fs::create_dir_all(&parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        remove_dead_staging(&parent, &name);
        let dir = parent.join(format!(".{name}{STAGING_TAG}{}", std::process::id()));
        if dir.exists() {
            fs::remove_dir_all(&dir).with_context(|| format!("cannot clear {}", dir.display()))?;
        }
        let lock = take_lock(&dir);
        crate::cleanup::register(&dir);
        if let Err(e) = fs::create_dir(&dir) {
            crate::cleanup::unregister(&dir);
            return Err(e).with_context(|| {
                format!(
                    "cannot create a directory beside --out ({}). Fix: check write permission",
                    dir.display()
                )
            });
        }
        Ok(Staging {
            target: target.to_path_buf(),
            dir,
            committed: false,
            lock,
        })
    }

    /// Opens a new file in the staging directory.
    pub fn create(&self, file: &str) -> Result<File> {
        let path = self.dir.join(file);
        File::create(&path).with_context(|| format!("cannot create {}", path.display()))
    }

    /// Writes a whole file into the staging directory and flushes it to disk.
    pub fn write(&self, file: &str, bytes: &[u8]) -> Result<()> {
        let mut f = self.create(file)?;
        f.write_all(bytes)
            .and_then(|_| f.sync_all())
            .with_context(|| {
                format!(
                    "cannot write {} (disk full?)",
                    self.dir.join(file).display()
                )
            })
    }

    /// Flushes a file created with [`Staging::create`] to disk.
    pub fn finish_file(&self, file: &str, f: File) -> Result<()> {
        f.sync_all().with_context(|| {
            format!(
                "cannot write {} (disk full?)",
                self.dir.join(file).display()
            )
        })
    }

    /// Moves the complete outputs into place atomically and removes the previous ones.
    pub fn commit(mut self) -> Result<()> {
        self.write(
            MARKER,
            format!("written by underwater {}\n", env!("CARGO_PKG_VERSION")).as_bytes(),
        )?;
        sync_dir(&self.dir);
        check_target(&self.target)?;
        crate::cleanup::test_hook("staged");
        // From here to the unregistering, a signal's watcher waits (or this waits for it): it must
        // not remove the staging directory while it is being exchanged with `--out`.
        let mut hold = crate::cleanup::hold();
        if fs::symlink_metadata(&self.target).is_ok() {
            exchange(&self.dir, &self.target)?;
            crate::cleanup::test_hook("exchanged");
            // The staging path now holds the previous outputs.
            let _ = fs::remove_dir_all(&self.dir);
        } else {
            fs::rename(&self.dir, &self.target)
                .with_context(|| format!("cannot move outputs into {}", self.target.display()))?;
        }
        if let Ok((parent, _)) = names(&self.target) {
            sync_dir(&parent);
        }
        hold.unregister(&self.dir);
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.dir);
            crate::cleanup::unregister(&self.dir);
        }
        if let Some((path, _file)) = self.lock.take() {
            let _ = fs::remove_file(&path);
            crate::cleanup::unregister(&path);
        }
    }
}

fn sync_dir(dir: &Path) {
    // Best effort: some filesystems refuse fsync on directories, and the data files are synced already.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A file written past the page cache (`O_DIRECT`) where the system and filesystem allow, else as any
/// file. Why: a run writes accounts.csv (a quarter of a GB at 1M accounts) once and never reads it
/// back, and copying it into fresh page-cache pages was most of the write stage's system time; direct
/// writes go from one reused, aligned buffer to the disk. The bytes on disk are the same either way.
///
/// Every [`DirectFile::SYNC_EVERY`] bytes it also asks the disk to keep what it has (`fdatasync`), on
/// the writing thread while the others compute: a direct write is done when the device has the bytes,
/// not when they are stored, and one fsync at the end for the whole file would hold the run while
/// both cores sat idle.
pub struct DirectFile {
    file: File,
    /// An aligned region of `BLOCK`s lies at `start` in `space`; `len` bytes of it are filled.
    space: Vec<u8>,
    start: usize,
    len: usize,
    direct: bool,
    /// Bytes written out since the last `fdatasync`.
    unsynced: usize,
    /// Every byte, as it goes out: the digest summary.json records, without reading the file back
    /// (a direct write leaves nothing in the page cache to read it from).
    hasher: blake3::Hasher,
}

/// A file written through [`DirectFile`], and the BLAKE3 digest (hex) of its bytes.
pub struct Written {
    pub file: File,
    pub blake3: String,
}

impl DirectFile {
    /// Direct writes need the buffer, the length and the file offset aligned to the device's block.
    const BLOCK: usize = 4096;
    const BUFFER: usize = 4 << 20;
    const SYNC_EVERY: usize = 16 << 20;

    pub fn new(file: File) -> DirectFile {
        let space = vec![0u8; Self::BUFFER + Self::BLOCK];
        let start = space.as_ptr().align_offset(Self::BLOCK);
        let direct = set_direct(&file, true);
        DirectFile {
            file,
            space,
            start,
            len: 0,
            direct,
            unsynced: 0,
            hasher: blake3::Hasher::new(),
        }
    }

    /// Writes what is still buffered and gives the file back, for [`Staging::finish_file`], with the
    /// digest of everything written.
    pub fn into_file(mut self) -> std::io::Result<Written> {
        let whole = self.len / Self::BLOCK * Self::BLOCK;
        self.write_out(0, whole)?;
        if self.direct {
            // The last, partial block is written the ordinary way.
            set_direct(&self.file, false);
            self.direct = false;
        }
        self.write_out(whole, self.len)?;
        Ok(Written {
            blake3: self.hasher.finalize().to_hex().to_string(),
            file: self.file,
        })
    }

    fn write_out(&mut self, from: usize, to: usize) -> std::io::Result<()> {
        self.hasher
            .update(&self.space[self.start + from..self.start + to]);
        let mut at = from;
        while at < to {
            let bytes = &self.space[self.start + at..self.start + to];
            match self.file.write(bytes) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => at += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // A filesystem that takes O_DIRECT at open but refuses a write (or a short write that
                // left the offset unaligned): the rest goes the ordinary way.
                Err(e) if self.direct && e.raw_os_error() == Some(libc::EINVAL) => {
                    set_direct(&self.file, false);
                    self.direct = false;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Write for DirectFile {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut rest = bytes;
        while !rest.is_empty() {
            let take = rest.len().min(Self::BUFFER - self.len);
            self.space[self.start + self.len..self.start + self.len + take]
                .copy_from_slice(&rest[..take]);
            self.len += take;
            rest = &rest[take..];
            if self.len == Self::BUFFER {
                self.write_out(0, Self::BUFFER)?;
                self.len = 0;
                self.unsynced += Self::BUFFER;
                if self.unsynced >= Self::SYNC_EVERY {
                    self.file.sync_data()?;
                    self.unsynced = 0;
                }
            }
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Turns `O_DIRECT` on or off for `file`; whether it is now as asked (never on outside Linux).
fn set_direct(file: &File, on: bool) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::io::AsRawFd;
        let fd = file.as_raw_fd();
        // SAFETY: plain fcntl calls on a descriptor `file` keeps open for the call.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            if flags < 0 {
                return false;
            }
            let wanted = if on {
                flags | libc::O_DIRECT
            } else {
                flags & !libc::O_DIRECT
            };
            libc::fcntl(fd, libc::F_SETFL, wanted) == 0 && on
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (file, on);
        false
    }
}

/// Swaps two directories atomically (Linux `renameat2(RENAME_EXCHANGE)`); where the filesystem cannot,
/// falls back to two renames, which leave a moment with the previous outputs under a backup name.
fn exchange(a: &Path, b: &Path) -> Result<()> {
    // A test hook: `UNDERWATER_TEST_NO_EXCHANGE=1` takes the fallback below, as a filesystem without
    // RENAME_EXCHANGE would, so it is tested too.
    #[cfg(target_os = "linux")]
    if std::env::var_os("UNDERWATER_TEST_NO_EXCHANGE").is_none() {
        use rustix::fs::{renameat_with, RenameFlags, CWD};
        match renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE) {
            Ok(()) => return Ok(()),
            // The filesystem or kernel cannot exchange: fall through to two renames.
            Err(
                rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS | rustix::io::Errno::NOTSUP,
            ) => {}
            Err(e) => {
                return Err(std::io::Error::from(e))
                    .with_context(|| format!("cannot move outputs into {}", b.display()))
            }
        }
    }
    // Two renames: between them `b` is absent, and the previous outputs wait in `<staging>.previous`,
    // which the next run puts back if it finds `b` still absent (see `remove_dead_staging`).
    // Appended, not `with_extension`: the staging name's "extension" is its pid part, and replacing it
    // gave `.out.previous`, which no sweep recognised.
    let mut backup = a.as_os_str().to_os_string();
    backup.push(".previous");
    let backup = PathBuf::from(backup);
    fs::rename(b, &backup)
        .with_context(|| format!("cannot move aside previous outputs in {}", b.display()))?;
    crate::cleanup::test_hook("moved_aside");
    fs::rename(a, b).with_context(|| format!("cannot move outputs into {}", b.display()))?;
    crate::cleanup::test_hook("renamed_in");
    fs::rename(&backup, a).with_context(|| format!("cannot clean up {}", backup.display()))?;
    Ok(())
}

fn remove_dead_staging(parent: &Path, name: &str) {
    let prefix = format!(".{name}{STAGING_TAG}");
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let file_name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = file_name.strip_prefix(&prefix) else {
            continue;
        };
        if let Some(base) = rest.strip_suffix(".lock") {
            // A lock file whose run is gone, and whose staging directory the sweep removed already.
            let staging = parent.join(format!("{prefix}{base}"));
            if lock_is_held(&staging) == Some(false) && !staging.exists() {
                let _ = fs::remove_file(e.path());
            }
            continue;
        }
        // Alive while its run holds the lock; a staging directory without one (an older version's)
        // by its process id, which only means something in this pid namespace.
        let alive = match lock_is_held(&e.path()) {
            Some(held) => held,
            None => rest
                .split('.')
                .next()
                .and_then(|p| p.parse::<u32>().ok())
                .is_some_and(crate::cleanup::pid_is_running),
        };
        if alive {
            continue;
        }
        // A run killed between the two renames of the fallback left the previous outputs aside and
        // `--out` absent: put them back rather than sweep them away.
        let target = parent.join(name);
        if rest.ends_with(".previous")
            && fs::symlink_metadata(&target).is_err()
            && fs::rename(e.path(), &target).is_ok()
        {
            continue;
        }
        let _ = fs::remove_dir_all(e.path());
        let _ = fs::remove_file(lock_path(&e.path()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_direct_file_holds_every_byte_written_whatever_the_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let (block, buffer) = (DirectFile::BLOCK, DirectFile::BUFFER);
        // Lengths either side of a block and of the buffer, written in pieces that straddle both.
        for total in [
            0,
            1,
            block - 1,
            block,
            block + 1,
            buffer - 1,
            buffer,
            buffer + 1,
            3 * buffer + 123,
        ] {
            let path = dir.path().join(format!("f{total}"));
            let expected: Vec<u8> = (0..total).map(|i| (i * 7 % 251) as u8).collect();
            let mut f = DirectFile::new(File::create(&path).unwrap());
            let mut at = 0;
            for piece in [1, 4095, 100_000, 3 << 20].iter().cycle() {
                if at == total {
                    break;
                }
                let end = (at + piece).min(total);
                f.write_all(&expected[at..end]).unwrap();
                at = end;
            }
            f.into_file().unwrap().file.sync_all().unwrap();
            assert!(std::fs::read(&path).unwrap() == expected, "{total} bytes");
        }
    }

    /// A run killed between the fallback's two renames leaves `--out` absent and the previous outputs
    /// aside; the next run's sweep puts them back instead of deleting them.
    #[test]
    fn sweep_puts_back_outputs_moved_aside_by_a_dead_run() {
        let dir = tempfile::tempdir().unwrap();
        // Above Linux's largest pid: never a running process.
        let aside = dir.path().join(".out.underwater-staging-4194305.previous");
        let dead = dir.path().join(".out.underwater-staging-4194305");
        fs::create_dir(&aside).unwrap();
        fs::create_dir(&dead).unwrap();
        fs::write(aside.join("accounts.csv"), "old").unwrap();
        fs::write(dead.join("accounts.csv"), "half").unwrap();
        remove_dead_staging(dir.path(), "out");
        assert_eq!(
            fs::read_to_string(dir.path().join("out/accounts.csv")).unwrap(),
            "old"
        );
        assert!(!aside.exists() && !dead.exists());
    }
}
