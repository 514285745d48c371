//! The one manifest every command publishes: the program and version that wrote the directory and
//! the command, then what that command records of its inputs and outputs. `backtest` and
//! `calibrate` record file lists ([`CommandFiles`], the list a later command reads before it
//! replaces the directory, see `staging::check_target`); `run` records its inputs' digests, the
//! config and the accounts file's digest (`summary_json::RunRecord`).

use serde::{Deserialize, Serialize};

/// A command's manifest: the head every directory shares, then the command's own record, written
/// flat after the head (serde's `flatten` keeps the fields in this order).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest<R> {
    pub program: String,
    pub version: String,
    pub command: String,
    #[serde(flatten)]
    pub record: R,
}

impl<R> Manifest<R> {
    /// The manifest of `command` run by this version, with its record.
    pub fn new(command: &'static str, record: R) -> Manifest<R> {
        Manifest {
            program: "underwater".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            command: command.into(),
            record,
        }
    }
}

/// What `backtest` and `calibrate` record: the inputs they read and the files they published.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CommandFiles {
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

/// The manifest of `backtest` and `calibrate`.
pub type CommandManifest = Manifest<CommandFiles>;

impl CommandManifest {
    /// The manifest of `command` run over `inputs`, publishing `outputs`.
    pub fn of_files(
        command: &'static str,
        inputs: Vec<String>,
        outputs: Vec<String>,
    ) -> CommandManifest {
        Manifest::new(command, CommandFiles { inputs, outputs })
    }
}

/// A directory's summary.json when the command has no other summary to give: its manifest only.
#[derive(Serialize)]
pub struct ManifestOnly<'a> {
    pub manifest: &'a CommandManifest,
}
