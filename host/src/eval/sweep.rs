//! The intensity sweep (`ueba eval --sweep`): detection rate against attack
//! strength.
//!
//! For each level of a ladder of [`Intensity`]s the generator makes a small
//! organisation per seed with its malicious scenarios at that strength, the
//! built-in detectors score it, and [`super::evaluate`] says which scenarios
//! were detected. One run exercises all three scaled scenarios at once (they
//! are acted out by different users), and for one seed the users and days
//! are the same at every level, so a level differs from the next in the
//! attacks alone. Levels raise all three knobs together: exfiltration volume
//! from 1.5× to 1000× the user's normal day, the off-hours session from 1 to
//! 10 hours after the shift ends, and novel tables from ones the peer group
//! reads to ones it never does. The unscaled trend-micro scenario is a
//! control that should be detected at every level.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use super::rules::RuleSet;
use super::{EvalError, Inputs, Source, evaluate};
use crate::config::Config;
use crate::generator::{GenConfig, Intensity, NovelTables, generate_with};
use crate::runtime::Runtime;

/// The malicious scenario kinds, in table order.
pub const SCENARIOS: [&str; 4] = [
    "slow-exfiltration",
    "off-hours",
    "novel-table",
    "trend-micro",
];

/// What to sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepConfig {
    /// Users per generated organisation.
    pub users: usize,
    /// Days per generated organisation (at least 14).
    pub days: u32,
    /// Seeds per level: 1, 2, … `seeds`.
    pub seeds: u32,
    /// The intensities, weakest first.
    pub levels: Vec<Intensity>,
}

impl Default for SweepConfig {
    /// 60 users × 21 days, 5 seeds, six levels: 30 runs, about half a
    /// minute in a release build on 2 cores.
    fn default() -> Self {
        SweepConfig {
            users: 60,
            days: 21,
            seeds: 5,
            levels: default_levels(),
        }
    }
}

/// Six levels from barely unusual to blatant: exfiltration 1.5×, 3×, 10×,
/// 30×, 100× and 1000× a normal day; off-hours 1, 2, 4, 6, 8 and 10 hours
/// after the shift; novel tables the peer group reads for the first three
/// levels and ones it never reads for the last three.
pub fn default_levels() -> Vec<Intensity> {
    let exfil = [1.5, 3.0, 10.0, 30.0, 100.0, 1000.0];
    let shift = [1.0, 2.0, 4.0, 6.0, 8.0, 10.0];
    exfil
        .into_iter()
        .zip(shift)
        .enumerate()
        .map(|(i, (exfil_factor, off_hours_shift_hours))| Intensity {
            exfil_factor,
            off_hours_shift_hours,
            novel: if i < 3 {
                NovelTables::PeerUsed
            } else {
                NovelTables::NeverUsed
            },
        })
        .collect()
}

/// Detected out of run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Rate {
    /// Runs in which the scenario was detected.
    pub detected: u32,
    /// Runs in which it was planted.
    pub runs: u32,
    /// `detected / runs`.
    pub rate: f64,
}

/// One level's results.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LevelResult {
    /// 1-based level number.
    pub level: usize,
    /// slow-exfiltration's day as a multiple of the user's normal day.
    pub exfil_factor: f64,
    /// Hours after the shift's end at which the off-hours session starts.
    pub off_hours_shift_hours: f64,
    /// `peer-used` or `never-used` novel tables.
    pub novel_tables: &'static str,
    /// Detection per scenario kind.
    pub detection: BTreeMap<&'static str, Rate>,
    /// Alerts on users with no malicious scenario per 1,000 of their
    /// user-days, over all runs of the level.
    pub benign_alerts_per_1000_user_days: Option<f64>,
    /// Median seconds from a scenario's start to its first alert, per kind,
    /// over the runs that detected it.
    pub median_time_to_detect_secs: BTreeMap<&'static str, f64>,
}

/// The whole sweep.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepResult {
    /// Users per run.
    pub users: usize,
    /// Days per run.
    pub days: u32,
    /// Seeds used at every level.
    pub seeds: Vec<u64>,
    /// Per level, weakest first.
    pub levels: Vec<LevelResult>,
    /// Wall time of the sweep.
    pub elapsed_secs: f64,
}

/// Run the sweep: generate, score and evaluate every (level, seed).
/// `progress` is called with (runs done, runs in all) after each run.
pub fn run(
    cfg: &SweepConfig,
    runtime: &Runtime,
    config: &Config,
    rules: &RuleSet,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<SweepResult, EvalError> {
    if cfg.seeds == 0 || cfg.levels.is_empty() {
        return Err(EvalError::Usage(
            "the sweep needs at least one seed and one level".into(),
        ));
    }
    let started = Instant::now();
    let seeds: Vec<u64> = (1..=u64::from(cfg.seeds)).collect();
    let total = cfg.levels.len() * seeds.len();
    let mut done = 0;
    let mut levels = Vec::with_capacity(cfg.levels.len());
    for (i, intensity) in cfg.levels.iter().enumerate() {
        let mut detection: BTreeMap<&'static str, Rate> = BTreeMap::new();
        let mut times: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
        let (mut benign_alerts, mut benign_days) = (0usize, 0usize);
        for &seed in &seeds {
            let dir = tempfile::tempdir().map_err(|source| EvalError::Io {
                path: std::env::temp_dir(),
                source,
            })?;
            let gen_cfg = GenConfig {
                users: cfg.users,
                days: cfg.days,
                seed,
                ..GenConfig::default()
            };
            let summary = generate_with(&gen_cfg, Some(intensity), dir.path(), &mut |_, _| {})?;
            let eval = evaluate(
                &Inputs {
                    events: &summary.events_path,
                    identities: Some(&summary.identities_path),
                    labels: &summary.labels_path,
                },
                Source::Score { runtime, config },
                rules,
            )?;
            for s in eval.scenarios.iter().filter(|s| s.malicious) {
                let Some(kind) = SCENARIOS.iter().find(|k| **k == s.name) else {
                    continue;
                };
                let r = detection.entry(kind).or_default();
                r.runs += 1;
                if s.detected {
                    r.detected += 1;
                }
                if let Some(t) = s.time_to_detect_secs {
                    times.entry(kind).or_default().push(t);
                }
            }
            benign_alerts += eval.benign_alerts;
            benign_days += eval.benign_user_days;
            done += 1;
            progress(done, total);
        }
        for r in detection.values_mut() {
            r.rate = f64::from(r.detected) / f64::from(r.runs.max(1));
        }
        levels.push(LevelResult {
            level: i + 1,
            exfil_factor: intensity.exfil_factor,
            off_hours_shift_hours: intensity.off_hours_shift_hours,
            novel_tables: intensity.novel.name(),
            detection,
            benign_alerts_per_1000_user_days: (benign_days > 0)
                .then(|| benign_alerts as f64 * 1000.0 / benign_days as f64),
            median_time_to_detect_secs: times
                .into_iter()
                .map(|(k, mut v)| {
                    v.sort_by(f64::total_cmp);
                    (k, v[v.len() / 2])
                })
                .collect(),
        });
    }
    Ok(SweepResult {
        users: cfg.users,
        days: cfg.days,
        seeds,
        levels,
        elapsed_secs: started.elapsed().as_secs_f64(),
    })
}

impl SweepResult {
    /// The stdout table: one row per level.
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Detection rate against attack intensity ({} users × {} days, seeds {:?}, {:.0}s)",
            self.users, self.days, self.seeds, self.elapsed_secs
        );
        let _ = writeln!(
            out,
            "  {:>5}  {:>8} {:>10}   {:>8} {:>10}   {:<10} {:>10}   {:>11}   {:>14}",
            "level",
            "exfil ×",
            "detected",
            "shift h",
            "detected",
            "novel",
            "detected",
            "trend-micro",
            "false alarms*"
        );
        let cell = |l: &LevelResult, k: &str| {
            l.detection
                .get(k)
                .map_or_else(|| "-".into(), |r| format!("{}/{}", r.detected, r.runs))
        };
        for l in &self.levels {
            let _ = writeln!(
                out,
                "  {:>5}  {:>8} {:>10}   {:>8} {:>10}   {:<10} {:>10}   {:>11}   {:>14}",
                l.level,
                l.exfil_factor,
                cell(l, "slow-exfiltration"),
                l.off_hours_shift_hours,
                cell(l, "off-hours"),
                l.novel_tables,
                cell(l, "novel-table"),
                cell(l, "trend-micro"),
                l.benign_alerts_per_1000_user_days
                    .map_or_else(|| "-".into(), |v| format!("{v:.2}"))
            );
        }
        let _ = writeln!(
            out,
            "  * alerts on users with no malicious scenario per 1,000 user-days"
        );
        out
    }
}
