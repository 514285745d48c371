//! The manifest of what `backtest` and `calibrate` publish: the program and version that wrote the
//! directory, the command, its inputs and its outputs (the list a later command reads before it
//! replaces the directory, see `staging::check_target`). `run`'s summary.json carries the same head
//! (program, version, command) in its fuller manifest, with the inputs' digests and the config.

use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct CommandManifest {
    pub program: &'static str,
    pub version: &'static str,
    pub command: &'static str,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

impl CommandManifest {
    /// The manifest of `command` run by this version over `inputs`, publishing `outputs`.
    pub fn new(
        command: &'static str,
        inputs: Vec<String>,
        outputs: Vec<String>,
    ) -> CommandManifest {
        CommandManifest {
            program: "underwater",
            version: env!("CARGO_PKG_VERSION"),
            command,
            inputs,
            outputs,
        }
    }
}

/// A directory's summary.json when the command has no other summary to give: its manifest only.
#[derive(Serialize)]
pub struct ManifestOnly<'a> {
    pub manifest: &'a CommandManifest,
}
