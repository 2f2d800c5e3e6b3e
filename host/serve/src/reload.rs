//! New plugin versions while `ueba serve --plugins DIR` runs.
//!
//! A watcher thread follows DIR with `notify`. Copying a file in fires
//! several events, so it waits until DIR has been quiet for [`QUIET`], then
//! compares what DIR holds with what it last saw: a file whose size, times
//! and inode are unchanged is not even read, and one whose sha256 is
//! unchanged is not reloaded. A new or changed file is compiled,
//! instantiated and configured on the watcher thread, exactly as at start
//! ([`ueba_engine::sandbox::plugins::load_file`], pins included), so the scoring thread
//! never waits for a compile. The watcher then hands the scoring worker a
//! whole new line-up of detectors, in the order [`ueba_engine::sandbox::plugins::load`]
//! would give for DIR as it is now ([`Reload`]), and the worker applies it
//! between two batches ([`Scorer::change_detectors`]):
//!
//! - the batch being filled is scored by the old set first, so every event
//!   is scored exactly once, by the old version or by the new;
//! - a new version of a running detector takes over its snapshot; if it
//!   refuses it (or cannot get one) it starts learning afresh and the
//!   health stream says `state_reset`; its risk components stay either way;
//! - a detector of a new name starts with no risk components (`loaded`);
//! - a removed file's detector stops and its risk components are dropped
//!   (`removed`), unless it had replaced a built-in, which then takes over
//!   again, with the state if it accepts it (`reloaded` or `state_reset`);
//! - a file that fails to load (not a component, WASI imports, another
//!   contract, a pin mismatch, refused configuration, a second file for the
//!   same detector) changes nothing: the running version keeps scoring and
//!   the health stream says `load_failed`.
//!
//! Because the line-up always follows [`ueba_engine::sandbox::plugins::load`]'s order, a
//! `--state` checkpoint taken after a change restores in a service started
//! on the same DIR.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{RecursiveMode, Watcher as _};

use super::queue::Queue;
use ueba_engine::config::Config;
use ueba_engine::pipeline::{AlertSink, DetectorBuild, DetectorChange, Lineup, ScoreError, Scorer};
use ueba_engine::sandbox::plugins::{BUILTIN_PLUGINS, Handover, HealthKind, LoadedPlugin, Origin};
use ueba_engine::sandbox::{Runtime, sha256_hex};

/// How long DIR must be quiet before a change is loaded: long enough for a
/// copy to finish writing, short enough that a new version runs promptly.
pub const QUIET: Duration = Duration::from_millis(400);

/// The health event kinds a plugin change is reported with; each is a
/// label of `ueba_plugin_reloads_total`, counted even while zero.
pub const EVENTS: [HealthKind; 5] = [
    HealthKind::Loaded,
    HealthKind::Reloaded,
    HealthKind::StateReset,
    HealthKind::Removed,
    HealthKind::LoadFailed,
];

/// Why DIR cannot be watched. The service still runs, with the plugins it
/// loaded at start.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The watch could not be set up (no inotify, too many watches, DIR
    /// gone).
    #[error("cannot watch {} for plugin changes: {source}", dir.display())]
    Watch {
        /// The plugins directory.
        dir: PathBuf,
        /// The cause.
        source: notify::Error,
    },
    /// The watcher thread could not be started.
    #[error("starting the plugin watcher thread: {0}")]
    Spawn(std::io::Error),
}

/// A plugin file that could not be loaded, for the health stream.
#[derive(Debug)]
struct LoadFailure {
    /// The detector running from the file, else the file's name.
    plugin: String,
    /// What went wrong, and what keeps running.
    message: String,
}

/// What the watcher hands the scoring worker: the detectors to run from
/// now on, when they change, and the failures to report.
pub struct Reload {
    lineup: Option<Vec<Lineup>>,
    failures: Vec<LoadFailure>,
    /// Said about a detector when it is removed (a pin or config section
    /// that a restart will miss).
    notes: BTreeMap<String, String>,
}

/// Apply `reload` on the scoring thread: report its failures, change the
/// detectors at a batch boundary, and report each change to the health
/// stream (and so to [`ueba_engine::pipeline::Stats::health`] and `/metrics`).
pub fn apply<S: AlertSink>(scorer: &mut Scorer<S>, reload: Reload) -> Result<(), ScoreError> {
    for f in reload.failures {
        scorer.report_health(&f.plugin, HealthKind::LoadFailed, f.message);
    }
    let Some(lineup) = reload.lineup else {
        return Ok(());
    };
    for change in scorer.change_detectors(lineup)? {
        let (name, event, mut message) = describe(&change);
        if let (DetectorChange::Removed { .. }, Some(note)) = (&change, reload.notes.get(&name)) {
            message.push_str("; ");
            message.push_str(note);
        }
        scorer.report_health(&name, event, message);
    }
    Ok(())
}

/// The health event for one change: (detector, event, message).
fn describe(change: &DetectorChange) -> (String, HealthKind, String) {
    match change {
        DetectorChange::Loaded { name, build } => (
            name.clone(),
            HealthKind::Loaded,
            format!(
                "{} (version {}) started; it learns from the next event on",
                build.origin, build.version
            ),
        ),
        DetectorChange::Replaced {
            name,
            before,
            after,
            handover,
        } => {
            let what = replaced(name, before, after);
            match handover {
                Handover::Carried => (
                    name.clone(),
                    HealthKind::Reloaded,
                    format!("{what}; it goes on from the state the running version had learned"),
                ),
                Handover::Reset(why) => (
                    name.clone(),
                    HealthKind::StateReset,
                    format!("{what}; it starts learning afresh (its risk so far stays): {why}"),
                ),
            }
        }
        DetectorChange::Removed { name, build } => (
            name.clone(),
            HealthKind::Removed,
            format!(
                "{} (version {}) was removed; the detector stopped and its risk components were dropped",
                build.origin, build.version
            ),
        ),
    }
}

fn replaced(name: &str, before: &DetectorBuild, after: &DetectorBuild) -> String {
    match (&before.origin, &after.origin) {
        (Origin::File(path), Origin::Builtin) => format!(
            "{} was removed; the built-in {name} (version {}) runs again",
            path.display(),
            after.version
        ),
        (b, a) if b == a => format!(
            "{a} changed: version {} replaced version {}",
            after.version, before.version
        ),
        (b, a) => format!(
            "{a} (version {}) replaced {b} (version {})",
            after.version, before.version
        ),
    }
}

/// What identifies a file's content without reading it: when none of this
/// changed, neither did the content, so a rescan reads nothing (reading
/// would itself fire events on some systems).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    inode: (u64, u64),
    #[cfg(unix)]
    changed: (i64, i64),
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        let m = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt;
        Some(Stamp {
            len: m.len(),
            modified: m.modified().ok(),
            #[cfg(unix)]
            inode: (m.dev(), m.ino()),
            #[cfg(unix)]
            changed: (m.ctime(), m.ctime_nsec()),
        })
    }
}

/// What the watcher last saw of one file.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    stamp: Option<Stamp>,
    /// sha256 of the content last considered (loaded, refused or disabled).
    sha256: String,
    /// The detector running from this file, if any.
    running: Option<String>,
}

/// What DIR held when the plugins were loaded at start: the watcher's
/// first view. Take it with [`Baseline::scan`] *before*
/// [`ueba_engine::sandbox::plugins::load`], then name what was loaded with
/// [`Baseline::loaded`]: a file changed in between then looks changed to
/// the watcher and is loaded again, rather than missed.
#[derive(Clone, Debug, Default)]
pub struct Baseline {
    files: BTreeMap<PathBuf, Seen>,
}

impl Baseline {
    /// Record the plugin files in `dir` (nothing, if it cannot be read: the
    /// load that follows reports that).
    pub fn scan(dir: &Path) -> Self {
        let files = plugin_files(dir)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|path| {
                let stamp = Stamp::of(&path);
                let bytes = std::fs::read(&path).ok()?;
                let seen = Seen {
                    stamp,
                    sha256: sha256_hex(&bytes),
                    running: None,
                };
                Some((path, seen))
            })
            .collect();
        Baseline { files }
    }

    /// Note which detector each file runs, from the plugins loaded at start.
    pub fn loaded(mut self, plugins: &[LoadedPlugin]) -> Self {
        for p in plugins {
            if let Origin::File(path) = &p.origin
                && let Some(seen) = self.files.get_mut(path)
            {
                seen.running = Some(p.name().to_string());
            }
        }
        self
    }
}

/// The plugin files in `dir`, in the order [`ueba_engine::sandbox::plugins::load`] reads
/// them.
fn plugin_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| ueba_engine::sandbox::plugins::is_plugin_file(p) && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// The watcher's view of DIR and how to load from it.
struct Tracker {
    dir: PathBuf,
    runtime: Runtime,
    config: Config,
    files: BTreeMap<PathBuf, Seen>,
    /// A file was still being written at the last scan: scan again.
    unsettled: bool,
}

impl Tracker {
    fn new(dir: &Path, baseline: Baseline, runtime: Runtime, config: Config) -> Self {
        Tracker {
            dir: dir.to_path_buf(),
            runtime,
            config,
            files: baseline.files,
            unsettled: false,
        }
    }

    fn enabled(&self, name: &str) -> bool {
        self.config.detectors.get(name).is_none_or(|d| d.enabled)
    }

    /// Compare DIR with the last view, load what is new or changed, and
    /// return what the worker must do, if anything.
    fn scan(&mut self) -> Option<Reload> {
        self.unsettled = false;
        let listing = match plugin_files(&self.dir) {
            Ok(l) => l,
            Err(e) => {
                // A directory that vanished or became unreadable is more
                // likely a mistake than a wish to stop every plugin.
                tracing::warn!(
                    path = %self.dir.display(),
                    error = %e,
                    "cannot read the plugins directory {}: {e}; the running detectors are kept",
                    self.dir.display()
                );
                return None;
            }
        };
        let mut failures = Vec::new();
        let mut started: BTreeMap<PathBuf, LoadedPlugin> = BTreeMap::new();
        let mut next: BTreeMap<PathBuf, Seen> = BTreeMap::new();
        for path in listing {
            let before = self.files.get(&path);
            let stamp = Stamp::of(&path);
            if let Some(b) = before
                && stamp.is_some()
                && b.stamp == stamp
            {
                next.insert(path, b.clone());
                continue;
            }
            let running = before.and_then(|b| b.running.clone());
            let bytes = match std::fs::read(&path) {
                Ok(b) if Stamp::of(&path) == stamp => b,
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    // Unreadable (permissions): reported once, and read
                    // again when the file changes.
                    failures.push(LoadFailure {
                        plugin: running.clone().unwrap_or_else(|| file_name(&path)),
                        message: refused(
                            &path,
                            &format!("cannot read it: {e}"),
                            running.as_deref(),
                        ),
                    });
                    next.insert(
                        path,
                        Seen {
                            stamp,
                            sha256: String::new(),
                            running,
                        },
                    );
                    continue;
                }
                // Still being written, or gone again: look once more later.
                _ => {
                    self.unsettled = true;
                    if let Some(b) = before {
                        next.insert(path, b.clone());
                    }
                    continue;
                }
            };
            let sha256 = sha256_hex(&bytes);
            if before.is_some_and(|b| b.sha256 == sha256) {
                next.insert(
                    path,
                    Seen {
                        stamp,
                        sha256,
                        running,
                    },
                );
                continue;
            }
            let now_running = match ueba_engine::sandbox::plugins::load_file(
                &self.runtime,
                &self.config,
                &path,
                &bytes,
            ) {
                Ok(Some(plugin)) => {
                    let name = plugin.name().to_string();
                    started.insert(path.clone(), plugin);
                    Some(name)
                }
                // Disabled in the config: nothing runs from this file.
                Ok(None) => None,
                Err(e) => {
                    failures.push(LoadFailure {
                        plugin: running.clone().unwrap_or_else(|| file_name(&path)),
                        message: refused(&path, &e.to_string(), running.as_deref()),
                    });
                    running
                }
            };
            next.insert(
                path,
                Seen {
                    stamp,
                    sha256,
                    running: now_running,
                },
            );
        }
        self.refuse_duplicates(&mut next, &mut started, &mut failures);
        let (lineup, changed) = self.lineup(&next, &mut started, &mut failures);
        let notes = self.removal_notes(&next);
        self.files = next;
        if !changed && failures.is_empty() {
            return None;
        }
        Some(Reload {
            lineup: changed.then_some(lineup),
            failures,
            notes,
        })
    }

    /// A newly loaded plugin whose detector another file already provides
    /// is refused, as at start; the file keeps running what it ran before.
    fn refuse_duplicates(
        &self,
        next: &mut BTreeMap<PathBuf, Seen>,
        started: &mut BTreeMap<PathBuf, LoadedPlugin>,
        failures: &mut Vec<LoadFailure>,
    ) {
        loop {
            let clash = started.keys().rev().find_map(|path| {
                let name = next.get(path)?.running.clone()?;
                let other = next
                    .iter()
                    .find(|(p, s)| *p != path && s.running.as_deref() == Some(name.as_str()))?
                    .0
                    .clone();
                Some((path.clone(), name, other))
            });
            let Some((path, name, other)) = clash else {
                return;
            };
            started.remove(&path);
            let before = self.files.get(&path).and_then(|b| b.running.clone());
            let error = format!(
                "{} and {} are both detector `{name}`; keep one",
                other.display(),
                path.display()
            );
            failures.push(LoadFailure {
                plugin: name,
                message: refused(&path, &error, before.as_deref()),
            });
            if let Some(seen) = next.get_mut(&path) {
                seen.running = before;
            }
        }
    }

    /// The detectors to run, in [`ueba_engine::sandbox::plugins::load`]'s order (enabled
    /// built-ins no file replaces, then the files by name), and whether
    /// that differs from what runs now.
    fn lineup(
        &self,
        next: &BTreeMap<PathBuf, Seen>,
        started: &mut BTreeMap<PathBuf, LoadedPlugin>,
        failures: &mut Vec<LoadFailure>,
    ) -> (Vec<Lineup>, bool) {
        let from_files = |files: &BTreeMap<PathBuf, Seen>| -> Vec<(PathBuf, String)> {
            files
                .iter()
                .filter_map(|(p, s)| s.running.clone().map(|n| (p.clone(), n)))
                .collect()
        };
        let now = from_files(next);
        let mut changed = !started.is_empty() || now != from_files(&self.files);
        let mut lineup = Vec::new();
        for (builtin, _) in BUILTIN_PLUGINS {
            let replaced = |files: &BTreeMap<PathBuf, Seen>| {
                files
                    .values()
                    .any(|s| s.running.as_deref() == Some(*builtin))
            };
            if !self.enabled(builtin) || replaced(next) {
                continue;
            }
            if !replaced(&self.files) {
                lineup.push(Lineup::Keep(builtin.to_string()));
                continue;
            }
            // The file that replaced it is gone: the built-in runs again.
            match ueba_engine::sandbox::plugins::load_builtin(&self.runtime, &self.config, builtin)
            {
                Ok(Some(plugin)) => {
                    changed = true;
                    lineup.push(Lineup::Start(Box::new(plugin)));
                }
                Ok(None) => {}
                Err(e) => failures.push(LoadFailure {
                    plugin: builtin.to_string(),
                    message: format!("the built-in {builtin} could not be started again: {e}"),
                }),
            }
        }
        for (path, name) in now {
            lineup.push(match started.remove(&path) {
                Some(plugin) => Lineup::Start(Box::new(plugin)),
                None => Lineup::Keep(name),
            });
        }
        (lineup, changed)
    }

    /// What to say about each detector that stops now and that a restart on
    /// this directory would miss: its pin, or its config section.
    fn removal_notes(&self, next: &BTreeMap<PathBuf, Seen>) -> BTreeMap<String, String> {
        let mut notes = BTreeMap::new();
        for (path, seen) in &self.files {
            let Some(name) = &seen.running else { continue };
            if next.values().any(|s| s.running.as_ref() == Some(name)) {
                continue;
            }
            let file = file_name(path);
            let builtin = BUILTIN_PLUGINS.iter().any(|(n, _)| n == name);
            if !next.contains_key(path) && self.config.pins.contains_key(&file) {
                notes.insert(
                    name.clone(),
                    format!("[pins] names {file}, so ueba will not start again until it is back or the pin is removed"),
                );
            } else if !builtin && self.config.detectors.contains_key(name) {
                notes.insert(
                    name.clone(),
                    format!("the config has [detectors.{name}], so ueba will not start again until the plugin is back or the section is removed"),
                );
            }
        }
        notes
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The message for a file that could not be loaded.
fn refused(path: &Path, error: &str, running: Option<&str>) -> String {
    let keeps = match running {
        Some(name) => format!(
            "the running version of {name} keeps scoring; a restart would fail on this file"
        ),
        None => "nothing was loaded from it".into(),
    };
    format!("{} was not loaded: {error}; {keeps}", path.display())
}

/// Watches `--plugins DIR` and hands changes to the scoring worker until
/// it is stopped (or dropped, or the queue closes).
pub struct Watcher {
    watcher: Option<notify::RecommendedWatcher>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Stop watching and wait for a load in progress to finish; no change
    /// is handed over after this returns.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        // Dropping the notify watcher drops its event sender, which ends
        // the thread's wait.
        self.watcher.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// Start watching `dir`, whose plugins as loaded at start are `baseline`;
/// new versions are loaded with `runtime` and `config` as at start and
/// handed to the worker behind `queue`. DIR is scanned once at once, so a
/// change made while the service started is not missed.
pub fn watch(
    dir: &Path,
    baseline: Baseline,
    runtime: Runtime,
    config: Config,
    queue: Queue,
) -> Result<Watcher, ReloadError> {
    let (tx, rx) = channel();
    let mut watcher = notify::recommended_watcher(tx).map_err(|source| ReloadError::Watch {
        dir: dir.to_path_buf(),
        source,
    })?;
    watcher
        .watch(dir, RecursiveMode::NonRecursive)
        .map_err(|source| ReloadError::Watch {
            dir: dir.to_path_buf(),
            source,
        })?;
    let tracker = Tracker::new(dir, baseline, runtime, config);
    let thread = std::thread::Builder::new()
        .name("ueba-plugins".into())
        .spawn(move || follow(tracker, &rx, &queue))
        .map_err(ReloadError::Spawn)?;
    Ok(Watcher {
        watcher: Some(watcher),
        thread: Some(thread),
    })
}

/// The watcher thread: debounce events, scan, hand over.
fn follow(mut tracker: Tracker, rx: &Receiver<notify::Result<notify::Event>>, queue: &Queue) {
    let mut due = Some(Instant::now());
    loop {
        let received = match due {
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(at) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
        };
        match received {
            Ok(Ok(event)) => {
                if relevant(&event, &tracker.dir) {
                    due = Some(Instant::now() + QUIET);
                }
            }
            // Lost events (an overflowing kernel queue): look at everything.
            Ok(Err(_)) => due = Some(Instant::now() + QUIET),
            Err(RecvTimeoutError::Timeout) => {
                due = None;
                if let Some(reload) = tracker.scan()
                    && queue.reload(reload).is_err()
                {
                    return;
                }
                if tracker.unsettled {
                    due = Some(Instant::now() + QUIET);
                }
            }
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Whether an event may change which plugins DIR holds: not mere reads
/// (the scan's own reads fire those), and about a plugin file or DIR itself.
fn relevant(event: &notify::Event, dir: &Path) -> bool {
    let reads = matches!(
        event.kind,
        EventKind::Access(AccessKind::Open(_))
            | EventKind::Access(AccessKind::Read)
            | EventKind::Access(AccessKind::Close(AccessMode::Read))
    );
    !reads
        && (event.need_rescan()
            || event.paths.is_empty()
            || event
                .paths
                .iter()
                .any(|p| p == dir || ueba_engine::sandbox::plugins::is_plugin_file(p)))
}

#[cfg(test)]
#[path = "reload_tests.rs"]
mod tests;
