//! What a published run directory holds, for every reader of one (`query`, `--previous`, the Python
//! package): which file is its per-account file, and whether that file is still the one the run wrote.

use std::path::{Path, PathBuf};

/// The names a run's per-account file can have.
pub const ACCOUNTS_FILES: [&str; 2] = ["accounts.parquet", "accounts.csv"];

/// The run's per-account file: the one its summary.json lists among its outputs (a run writes one),
/// else whichever exists, Parquet first.
pub fn accounts_file(dir: &Path, outputs: &[String]) -> Option<PathBuf> {
    let listed = outputs
        .iter()
        .find(|o| ACCOUNTS_FILES.contains(&o.as_str()))
        .map(|o| dir.join(o));
    listed
        .or_else(|| {
            ACCOUNTS_FILES
                .iter()
                .map(|f| dir.join(f))
                .find(|p| p.exists())
        })
        .filter(|p| p.exists())
}

/// The BLAKE3 digest of a file, in hex. BLAKE3 rather than the inputs' sha256: it reads a 1M-loan
/// accounts file in a small part of a run's time, and every reader of the run pays it.
pub fn blake3_of(path: &Path) -> std::io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    let mut file = std::fs::File::open(path)?;
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hasher.finalize().to_hex().to_string())
}

/// Refuses a per-account file whose digest is not the one the run recorded when it wrote it (`None`:
/// a run from before digests were recorded, read as it is).
pub fn verify(path: &Path, recorded: Option<&str>) -> Result<(), String> {
    let Some(recorded) = recorded else {
        return Ok(());
    };
    let now = blake3_of(path).map_err(|e| format!("cannot read {} ({e})", path.display()))?;
    match now == recorded {
        true => Ok(()),
        false => Err(format!(
            "{} is not the file the run wrote (its BLAKE3 digest differs from summary.json's \
             accounts_blake3: edited or corrupted since). Fix: rerun the night, or restore the run \
             directory from a backup",
            path.display()
        )),
    }
}
