//! One instantiated detector in its own store: the calls of the contract
//! (`describe`, `configure`, `observe`, `snapshot`, `restore`, `population`,
//! `absorb`), each under
//! the plugin's limits, and the classification of a failed call by type.

use std::time::Duration;

use wasmtime::Store;

use super::gate::plugin_message;
use super::older::{v0_1, v0_2, v0_3, v0_4};
use super::runtime::*;

/// What a plugin said about itself in `describe`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PluginInfo {
    /// Unique detector name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// One line on what it detects.
    pub description: String,
    /// Contract version it was built for.
    pub contract: String,
    /// Accepted config keys as (name, default, description).
    pub config: Vec<(String, String, String)>,
}

/// One instantiated detector in its own store.
pub struct Plugin {
    pub(crate) store: Store<StoreState>,
    pub(crate) bindings: Bindings,
    pub(crate) limits: Limits,
    pub(crate) info: PluginInfo,
}

impl Plugin {
    /// What the plugin said about itself.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// The sandbox limits it runs under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub(crate) fn with_deadline<T>(
        &mut self,
        call: &'static str,
        f: impl FnOnce(&mut Self) -> wasmtime::Result<T>,
    ) -> Result<T, PluginError> {
        let budget = self.limits.budget(call);
        self.store.set_epoch_deadline(ticks(budget));
        self.store
            .set_hostcall_fuel(self.limits.hostcall_fuel(call));
        self.store.data_mut().memory_refused = false;
        f(self).map_err(|e| {
            let failure = classify(&e, self.store.data().memory_refused, call);
            let message = match failure {
                Failure::Time => {
                    format!("ran past its time limit of {budget:?}")
                }
                Failure::Memory => format!(
                    "tried to grow its memory past the {} MiB limit ({e:#})",
                    self.limits.memory_bytes >> 20
                ),
                _ => format!("{e:#}"),
            };
            self.call_error(call, message, failure)
        })
    }

    /// A failed `call` of this plugin.
    fn call_error(&self, call: &'static str, message: String, failure: Failure) -> PluginError {
        PluginError::Call {
            plugin: self.info.name.clone(),
            call,
            message,
            failure,
        }
    }

    /// State (`what`: a snapshot, a population share) that `call` returned,
    /// refused past the snapshot size limit.
    fn bounded(
        &self,
        call: &'static str,
        what: &str,
        bytes: Vec<u8>,
    ) -> Result<Vec<u8>, PluginError> {
        if bytes.len() > self.limits.max_snapshot_bytes {
            return Err(self.call_error(
                call,
                format!(
                    "{what} is {} bytes; the limit is {}",
                    bytes.len(),
                    self.limits.max_snapshot_bytes
                ),
                Failure::Snapshot,
            ));
        }
        Ok(bytes)
    }

    /// Send configuration pairs (values as TOML text).
    pub fn configure(&mut self, pairs: &[(String, String)]) -> Result<(), PluginError> {
        let name = self.info.name.clone();
        let result = self.with_deadline("configure", |p| match &p.bindings {
            Bindings::Current(b) => b
                .ueba_detector0_5_0_detector()
                .call_configure(&mut p.store, pairs),
            Bindings::V0_4(b) => b
                .ueba_detector_detector()
                .call_configure(&mut p.store, pairs)
                .map(|r| r.map_err(v0_4::config_error)),
            Bindings::V0_3(b) => b
                .ueba_detector_detector()
                .call_configure(&mut p.store, pairs)
                .map(|r| r.map_err(v0_3::config_error)),
            Bindings::V0_2(b) => b
                .ueba_detector_detector()
                .call_configure(&mut p.store, pairs)
                .map(|r| r.map_err(v0_2::config_error)),
            Bindings::V0_1(b) => b
                .ueba_detector_detector()
                .call_configure(&mut p.store, pairs)
                .map(|r| r.map_err(v0_1::config_error)),
        })?;
        result.map_err(|e| match e {
            wit::ConfigError::UnknownKey(key) => PluginError::Config {
                plugin: name,
                key: plugin_message(&key),
                message: "unknown key".into(),
            },
            wit::ConfigError::InvalidValue(v) => PluginError::Config {
                plugin: name,
                key: plugin_message(&v.key),
                message: plugin_message(&v.message),
            },
        })
    }

    /// Observe one batch and return its findings.
    pub fn observe(&mut self, batch: &wit::Batch) -> Result<Vec<wit::Finding>, PluginError> {
        let result = self.with_deadline("observe", |p| match &p.bindings {
            Bindings::Current(b) => b
                .ueba_detector0_5_0_detector()
                .call_observe(&mut p.store, batch),
            Bindings::V0_4(b) => b
                .ueba_detector_detector()
                .call_observe(&mut p.store, &v0_4::batch(batch))
                .map(|r| {
                    r.map(|f| f.into_iter().map(v0_4::finding).collect())
                        .map_err(v0_4::detector_error)
                }),
            Bindings::V0_3(b) => b
                .ueba_detector_detector()
                .call_observe(&mut p.store, &v0_3::batch(batch))
                .map(|r| {
                    r.map(|f| f.into_iter().map(v0_3::finding).collect())
                        .map_err(v0_3::detector_error)
                }),
            Bindings::V0_2(b) => b
                .ueba_detector_detector()
                .call_observe(&mut p.store, &v0_2::batch(batch))
                .map(|r| {
                    r.map(|f| f.into_iter().map(v0_2::finding).collect())
                        .map_err(v0_2::detector_error)
                }),
            Bindings::V0_1(b) => b
                .ueba_detector_detector()
                .call_observe(&mut p.store, &v0_1::batch(batch))
                .map(|r| {
                    r.map(|f| f.into_iter().map(v0_1::finding).collect())
                        .map_err(v0_1::detector_error)
                }),
        })?;
        let findings = result
            .map_err(|e| self.call_error("observe", plugin_message(&e.message), Failure::Error))?;
        if findings.len() > self.limits.max_findings {
            return Err(self.call_error(
                "observe",
                format!(
                    "returned {} findings for one batch; the limit is {}",
                    findings.len(),
                    self.limits.max_findings
                ),
                Failure::Findings,
            ));
        }
        Ok(findings)
    }

    /// Serialise the plugin's state.
    pub fn snapshot(&mut self) -> Result<Vec<u8>, PluginError> {
        let snap = self.with_deadline("snapshot", |p| match &p.bindings {
            Bindings::Current(b) => b.ueba_detector0_5_0_detector().call_snapshot(&mut p.store),
            Bindings::V0_4(b) => b.ueba_detector_detector().call_snapshot(&mut p.store),
            Bindings::V0_3(b) => b.ueba_detector_detector().call_snapshot(&mut p.store),
            Bindings::V0_2(b) => b.ueba_detector_detector().call_snapshot(&mut p.store),
            Bindings::V0_1(b) => b.ueba_detector_detector().call_snapshot(&mut p.store),
        })?;
        self.bounded("snapshot", "snapshot", snap)
    }

    /// Restore state from a snapshot.
    pub fn restore(&mut self, state: &[u8]) -> Result<(), PluginError> {
        let result = self.with_deadline("restore", |p| match &p.bindings {
            Bindings::Current(b) => b
                .ueba_detector0_5_0_detector()
                .call_restore(&mut p.store, state),
            Bindings::V0_4(b) => b
                .ueba_detector_detector()
                .call_restore(&mut p.store, state)
                .map(|r| r.map_err(v0_4::detector_error)),
            Bindings::V0_3(b) => b
                .ueba_detector_detector()
                .call_restore(&mut p.store, state)
                .map(|r| r.map_err(v0_3::detector_error)),
            Bindings::V0_2(b) => b
                .ueba_detector_detector()
                .call_restore(&mut p.store, state)
                .map(|r| r.map_err(v0_2::detector_error)),
            Bindings::V0_1(b) => b
                .ueba_detector_detector()
                .call_restore(&mut p.store, state)
                .map(|r| r.map_err(v0_1::detector_error)),
        })?;
        result.map_err(|e| self.call_error("restore", plugin_message(&e.message), Failure::Error))
    }
}

impl Plugin {
    /// Whether the plugin takes part in the population exchange between
    /// shards (contract 0.4.0 and later); older ones keep their own
    /// shard's population.
    pub fn shares_population(&self) -> bool {
        matches!(self.bindings, Bindings::Current(_) | Bindings::V0_4(_))
    }

    /// The plugin's own population share (`population`), bounded like a
    /// snapshot; empty from a plugin that shares nothing or predates the
    /// exchange.
    pub fn population(&mut self) -> Result<Vec<u8>, PluginError> {
        if !self.shares_population() {
            return Ok(Vec::new());
        }
        let share = self.with_deadline("population", |p| match &p.bindings {
            Bindings::Current(b) => b
                .ueba_detector0_5_0_detector()
                .call_population(&mut p.store),
            Bindings::V0_4(b) => b.ueba_detector_detector().call_population(&mut p.store),
            _ => Ok(Vec::new()),
        })?;
        self.bounded("population", "population share", share)
    }

    /// Hand the plugin the other instances' shares (`absorb`); nothing for
    /// a plugin that predates the exchange.
    pub fn absorb(&mut self, others: &[Vec<u8>]) -> Result<(), PluginError> {
        if !self.shares_population() {
            return Ok(());
        }
        let result = self.with_deadline("absorb", |p| match &p.bindings {
            Bindings::Current(b) => b
                .ueba_detector0_5_0_detector()
                .call_absorb(&mut p.store, others),
            Bindings::V0_4(b) => b
                .ueba_detector_detector()
                .call_absorb(&mut p.store, others)
                .map(|r| r.map_err(v0_4::detector_error)),
            _ => Ok(Ok(())),
        })?;
        result.map_err(|e| self.call_error("absorb", plugin_message(&e.message), Failure::Error))
    }
}

/// Which limit a failed call hit, from the error wasmtime returned, whether
/// the memory limiter refused a growth during the call, and which export was
/// called.
pub(crate) fn classify(e: &wasmtime::Error, memory_refused: bool, call: &str) -> Failure {
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => Failure::Time,
        Some(wasmtime::Trap::StackOverflow) => Failure::Stack,
        _ if memory_refused => Failure::Memory,
        Some(_) => Failure::Trap,
        None if result_too_large(e) => {
            if call == "snapshot" || call == "population" {
                Failure::Snapshot
            } else {
                Failure::Findings
            }
        }
        None => Failure::Trap,
    }
}

/// Whether a call that failed without a [`wasmtime::Trap`] failed because
/// its result was more than the call's hostcall fuel
/// ([`Limits::hostcall_fuel`]) lets wasmtime copy out of the guest.
///
/// wasmtime 48 offers no type to ask this directly: it reports the
/// exhausted budget with an error type private to it
/// (`HostcallFuelExhausted`, in `runtime/component/func/options.rs`), not
/// a `Trap` variant, and counts the budget down in a lifting context of its
/// own, so `Store::hostcall_fuel` still returns the budget that was set. So the
/// answer is by elimination, on types alone. The linker is empty, so no
/// host function runs during a call, and everything the guest's code does
/// wrong (a trap, the epoch deadline, a stack overflow) is a `Trap`: an
/// error that is not one comes from wasmtime copying the call's data
/// between host and guest. Copying fails either because the guest's result
/// is malformed (a pointer out of bounds or misaligned, a bad discriminant,
/// char or UTF-8), which wasmtime reports as a message (`&str` or
/// `String`) or as the standard library's decoding error, or because the
/// budget ran out, which it reports as neither. Unit tests provoke both
/// with real components, so a wasmtime that reports them differently fails
/// them rather than misfiling a plugin's failures.
fn result_too_large(e: &wasmtime::Error) -> bool {
    let malformed = e.is::<&'static str>()
        || e.is::<String>()
        || e.is::<std::str::Utf8Error>()
        || e.is::<std::char::CharTryFromError>()
        || e.is::<std::char::DecodeUtf16Error>();
    !malformed && !e.is::<wasmtime::Trap>()
}

pub(crate) fn ticks(timeout: Duration) -> u64 {
    (timeout.as_micros() / EPOCH_TICK.as_micros()).max(1) as u64 + 1
}
