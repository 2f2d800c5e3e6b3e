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
//! control that should be detected at every level; the boiling-frog ramp is
//! never scaled either.
//!
//! Detectors must hold on any log shape, so the sweep then generates each
//! other shape (the workstation log) once per seed at its default strength
//! and reports, per scenario, how often it was alerted, with the false-alarm
//! rate.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use super::rules::RuleSet;
use super::{EvalError, Inputs, Source, evaluate, kind_word};
use crate::generator::{GenConfig, Intensity, NovelTables, Shape, generate_with};
use ueba_engine::config::Config;
use ueba_engine::sandbox::Runtime;
use ueba_formats::sources::{FormatsConfig, InputFormat};

/// The database shape's malicious scenario kinds, in table order.
pub const SCENARIOS: [&str; 5] = [
    "slow-exfiltration",
    "off-hours",
    "novel-table",
    "trend-micro",
    "boiling-frog",
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
    /// Other shapes generated once per seed at their default strength (the
    /// database shape is the levels').
    pub shapes: Vec<Shape>,
    /// Shards each run splits users across (`ueba score --shards`).
    pub shards: usize,
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
            shapes: vec![Shape::Workstation],
            shards: 1,
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

impl Rate {
    /// Counts one run.
    fn add(&mut self, detected: bool) {
        self.runs += 1;
        self.detected += u32::from(detected);
    }

    /// Sets `rate` from the counts.
    fn finish(&mut self) {
        self.rate = f64::from(self.detected) / f64::from(self.runs.max(1));
    }
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

/// How often one scenario kind of another shape was alerted.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ShapeScenario {
    /// Scenario kind, e.g. `usb-surge`.
    pub name: String,
    /// Insider behaviour (alerted = detected) or a look-alike (alerted = a
    /// false alarm).
    pub malicious: bool,
    /// Runs in which its user was alerted (at or after its start).
    pub alerted: Rate,
}

/// One other shape's results over the seeds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ShapeResult {
    /// The shape's name, e.g. `workstation`.
    pub shape: &'static str,
    /// Per scenario kind, as labelled, malicious first.
    pub scenarios: Vec<ShapeScenario>,
    /// Events per user-day with events, over all runs.
    pub events_per_user_day: f64,
    /// Alerts on users with no malicious scenario per 1,000 of their
    /// user-days, over all runs.
    pub benign_alerts_per_1000_user_days: Option<f64>,
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
    /// The other shapes at their default strength.
    pub shapes: Vec<ShapeResult>,
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
    let others: Vec<Shape> = cfg
        .shapes
        .iter()
        .copied()
        .filter(|&s| s != Shape::Database)
        .collect();
    let total = (cfg.levels.len() + others.len()) * seeds.len();
    let mut done = 0;
    let mut levels = Vec::with_capacity(cfg.levels.len());
    for (i, intensity) in cfg.levels.iter().enumerate() {
        let mut detection: BTreeMap<&'static str, Rate> = BTreeMap::new();
        let mut times: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
        let (mut benign_alerts, mut benign_days) = (0usize, 0usize);
        for &seed in &seeds {
            let gen_cfg = GenConfig {
                users: cfg.users,
                days: cfg.days,
                seed,
                ..GenConfig::default()
            };
            let eval = generate_and_evaluate(
                &gen_cfg,
                Some(intensity),
                runtime,
                config,
                cfg.shards,
                rules,
            )?;
            for s in eval.scenarios.iter().filter(|s| s.malicious) {
                let Some(kind) = SCENARIOS.iter().find(|k| **k == s.name) else {
                    continue;
                };
                detection.entry(kind).or_default().add(s.detected);
                if let Some(t) = s.time_to_detect_secs {
                    times.entry(kind).or_default().push(t);
                }
            }
            benign_alerts += eval.benign_alerts;
            benign_days += eval.benign_user_days;
            done += 1;
            progress(done, total);
        }
        detection.values_mut().for_each(Rate::finish);
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
    let mut shapes = Vec::with_capacity(others.len());
    for shape in others {
        let mut scenarios: Vec<ShapeScenario> = Vec::new();
        let (mut benign_alerts, mut benign_days) = (0usize, 0usize);
        let (mut events, mut user_days) = (0u64, 0usize);
        for &seed in &seeds {
            let gen_cfg = GenConfig {
                users: cfg.users,
                days: cfg.days,
                seed,
                shape,
                ..GenConfig::default()
            };
            let eval = generate_and_evaluate(&gen_cfg, None, runtime, config, cfg.shards, rules)?;
            for s in &eval.scenarios {
                let at = match scenarios.iter().position(|x| x.name == s.name) {
                    Some(i) => i,
                    None => {
                        scenarios.push(ShapeScenario {
                            name: s.name.clone(),
                            malicious: s.malicious,
                            alerted: Rate::default(),
                        });
                        scenarios.len() - 1
                    }
                };
                scenarios[at].alerted.add(s.detected);
            }
            benign_alerts += eval.benign_alerts;
            benign_days += eval.benign_user_days;
            events += eval.events;
            user_days += eval.user_days;
            done += 1;
            progress(done, total);
        }
        scenarios.iter_mut().for_each(|s| s.alerted.finish());
        shapes.push(ShapeResult {
            shape: shape.name(),
            scenarios,
            events_per_user_day: events as f64 / user_days.max(1) as f64,
            benign_alerts_per_1000_user_days: (benign_days > 0)
                .then(|| benign_alerts as f64 * 1000.0 / benign_days as f64),
        });
    }
    Ok(SweepResult {
        users: cfg.users,
        days: cfg.days,
        seeds,
        levels,
        shapes,
        elapsed_secs: started.elapsed().as_secs_f64(),
    })
}

/// Generates `gen_cfg` (at `intensity`, if any) into a temporary directory
/// and evaluates it with the built-in detectors.
fn generate_and_evaluate(
    gen_cfg: &GenConfig,
    intensity: Option<&Intensity>,
    runtime: &Runtime,
    config: &Config,
    shards: usize,
    rules: &RuleSet,
) -> Result<super::Evaluation, EvalError> {
    let dir = tempfile::tempdir().map_err(|source| EvalError::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let summary = generate_with(gen_cfg, intensity, dir.path(), &mut |_, _| {})?;
    evaluate(
        &Inputs {
            events: &summary.events_path,
            format: InputFormat::Jsonl,
            formats: &FormatsConfig::default(),
            identities: Some(&summary.identities_path),
            labels: &summary.labels_path,
        },
        Source::Score {
            runtime,
            config,
            shards,
        },
        rules,
    )
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
            "  {:>5}  {:>8} {:>10}   {:>8} {:>10}   {:<10} {:>10}   {:>11}   {:>12}   {:>14}",
            "level",
            "exfil ×",
            "detected",
            "shift h",
            "detected",
            "novel",
            "detected",
            "trend-micro",
            "boiling-frog",
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
                "  {:>5}  {:>8} {:>10}   {:>8} {:>10}   {:<10} {:>10}   {:>11}   {:>12}   {:>14}",
                l.level,
                l.exfil_factor,
                cell(l, "slow-exfiltration"),
                l.off_hours_shift_hours,
                cell(l, "off-hours"),
                l.novel_tables,
                cell(l, "novel-table"),
                cell(l, "trend-micro"),
                cell(l, "boiling-frog"),
                l.benign_alerts_per_1000_user_days
                    .map_or_else(|| "-".into(), |v| format!("{v:.2}"))
            );
        }
        let _ = writeln!(
            out,
            "  * alerts on users with no malicious scenario per 1,000 user-days"
        );
        for shape in &self.shapes {
            let _ = writeln!(
                out,
                "\nThe {} shape at its default strength ({} users × {} days, {} seeds, {:.1} \
                 events per user-day)",
                shape.shape,
                self.users,
                self.days,
                self.seeds.len(),
                shape.events_per_user_day
            );
            let _ = writeln!(out, "  {:<22} {:<9} {:>8}", "scenario", "kind", "alerted");
            for s in &shape.scenarios {
                let _ = writeln!(
                    out,
                    "  {:<22} {:<9} {:>8}",
                    s.name,
                    kind_word(s.malicious),
                    format!("{}/{}", s.alerted.detected, s.alerted.runs)
                );
            }
            let _ = writeln!(
                out,
                "  false alarms: {} alerts per 1,000 user-days on users with no malicious scenario",
                shape
                    .benign_alerts_per_1000_user_days
                    .map_or_else(|| "-".into(), |v| format!("{v:.2}"))
            );
        }
        out
    }
}
