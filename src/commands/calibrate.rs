//! `underwater calibrate`: the model's assumptions fitted to what happened.
//!
//! ```text
//! underwater calibrate --tape regab PANEL.csv --out cal [--horizon 12] [--min-accounts 30]
//! underwater run --tape regab TAPE.csv --config cal/calibrated.toml --out run
//! ```
//!
//! Takes the inputs `backtest` takes, runs the same backtest, fits the pd per days-past-due class and
//! the recovery line ([`crate::book::calibrate`]), and publishes `calibrated.toml` (a config `run
//! --config` takes, each figure's sample size and interval as a comment) and `calibration.json`
//! (before and after) atomically into `--out`.

use super::history::{compute, config, inputs, BacktestArgs};
use crate::book::calibrate::{calibrate, Calibration};
use crate::config::Config;
use crate::error::{Error, OutputError};
use crate::output::calibration_files::{calibrated_toml, CalibrationJson};
use crate::output::manifest::{CommandManifest, ManifestOnly};
use crate::output::staging::Staging;
use crate::progress::Progress;

/// Runs the calibration and publishes its files; returns what it prints.
pub fn run(
    config: &Config,
    args: &BacktestArgs,
    fit: Settings,
    progress: Progress,
) -> Result<String, Error> {
    crate::output::staging::check_target(&config.out).map_err(OutputError)?;
    let _lock = crate::output::staging::OutLock::take(&config.out).map_err(OutputError)?;
    super::thread_pool(config.threads)?.install(|| {
        let judged = compute(config, args, progress)?;
        let window = crate::book::calibrate::RecoveryWindow {
            months: fit.recovery_months,
            months_of_data: judged.months_of_data(),
        };
        let (book, bt) = (&judged.book, &judged.bt);
        let c = calibrate(book, bt, fit.min_accounts, window);
        let about = format!("{} as of {}", inputs(config, args).join(", "), book.as_of);
        let toml = calibrated_toml(&c, &book.model, &about);
        publish(config, &c, &toml, inputs(config, args))?;
        Ok(format!(
            "calibrated.toml and calibration.json in {}\n{toml}",
            config.out.display()
        ))
    })
}

fn publish(config: &Config, c: &Calibration, toml: &str, inputs: Vec<String>) -> Result<(), Error> {
    let staging = Staging::new(&config.out).map_err(OutputError)?;
    let json = serde_json::to_vec_pretty(&CalibrationJson::new(c))
        .map_err(|e| OutputError(anyhow::Error::from(e)))?;
    staging
        .write("calibrated.toml", toml.as_bytes())
        .and_then(|()| staging.write("calibration.json", &json))
        .map_err(OutputError)?;
    // The list a later calibrate reads before it replaces the directory (see staging::check_target).
    let outputs = ["calibrated.toml", "calibration.json", "summary.json"].map(String::from);
    let manifest = CommandManifest::of_files("calibrate", inputs, outputs.to_vec());
    let summary = serde_json::to_vec_pretty(&ManifestOnly {
        manifest: &manifest,
    })
    .map_err(|e| OutputError(anyhow::Error::from(e)))?;
    staging
        .write("summary.json", &summary)
        .and_then(|()| staging.commit())
        .map_err(OutputError)?;
    Ok(())
}

/// calibrate's own settings.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub min_accounts: u64,
    pub recovery_months: u32,
}

/// `underwater calibrate`'s flags: `backtest`'s and its own.
#[derive(clap::Args, Debug)]
pub struct CalibrateCmd {
    #[command(flatten)]
    pub backtest: super::history::BacktestCmd,
    /// A pd class with fewer tested accounts keeps its current pd
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub min_accounts: u64,
    /// A default counts in the recovery line only when the data runs at least this many months past
    /// its default month (recoveries lag the default; a later one has not recovered yet)
    #[arg(long, value_name = "MONTHS", default_value_t = 12, value_parser = clap::value_parser!(u32).range(0..=600))]
    pub recovery_months: u32,
}

/// `underwater calibrate`: the config from the flags, the calibration, calibrated.toml on stdout.
pub fn command(cmd: CalibrateCmd) -> Result<(), Error> {
    let mut spooled = Vec::new();
    let (config, args) = config(cmd.backtest, &mut spooled)?;
    let fit = Settings {
        min_accounts: cmd.min_accounts,
        recovery_months: cmd.recovery_months,
    };
    let printed = run(&config, &args, fit, Progress::new(config.quiet))?;
    match config.quiet {
        true => Ok(()),
        false => super::print(printed.as_bytes()),
    }
}
