//! Guest SDK for ueba detector plugins.
//!
//! A detector is plain Rust: a type that implements [`Detector`], derives
//! serde's `Serialize`/`Deserialize` (that is its snapshot), and turns batches
//! of [`Event`]s into [`Finding`]s. It never touches the WIT glue, so the same
//! code compiles natively for fast unit tests (drive it with [`Runtime`]) and
//! for `wasm32-unknown-unknown`, where [`export_detector!`] wires it to the
//! contract in `wit/detector.wit`.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use ueba_sdk::{ConfigKey, Detector, Event, Finding, Info, Symbols};
//!
//! /// Flags any read of more than `limit` rows.
//! #[derive(Default, Serialize, Deserialize)]
//! struct BigRead {
//!     limit: Option<u64>,
//! }
//!
//! impl Detector for BigRead {
//!     fn info() -> Info {
//!         Info {
//!             name: "big-read",
//!             version: "0.1.0",
//!             description: "reads of more rows than a fixed limit",
//!             config: vec![ConfigKey { name: "limit", default: "10000", description: "rows" }],
//!         }
//!     }
//!     fn configure(&mut self, key: &str, value: &str) -> Result<(), ueba_sdk::ConfigError> {
//!         match key {
//!             "limit" => self.limit = Some(ueba_sdk::config::parse(key, value)?),
//!             _ => return Err(ueba_sdk::ConfigError::UnknownKey(key.into())),
//!         }
//!         Ok(())
//!     }
//!     fn observe(&mut self, symbols: &Symbols, events: &[Event], out: &mut Vec<Finding>) {
//!         let limit = self.limit.unwrap_or(10_000);
//!         for e in events.iter().filter(|e| e.rows > limit) {
//!             out.push(
//!                 Finding::new(e.seq, 50.0, format!("read {} rows of {}", e.rows, symbols.resource(e.resource)))
//!                     .with("rows", e.rows)
//!                     .with("limit", limit),
//!             );
//!         }
//!     }
//! }
//!
//! // In the plugin crate: ueba_sdk::export_detector!(BigRead);
//! let mut rt = ueba_sdk::Runtime::<BigRead>::default();
//! rt.symbols_mut().insert(ueba_sdk::SymbolKind::Resource, 0, "support.customers");
//! let e = Event { rows: 68_000, ..Event::default() };
//! assert_eq!(rt.observe(&[e]).len(), 1);
//! ```
#![deny(missing_docs)]

pub mod calibrate;
pub mod config;
pub mod glob;
pub mod kind;
pub mod novelty;
pub mod population;
mod runtime;
pub mod table;
mod types;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod glue;

pub use calibrate::score_from_p;
pub use runtime::{PopulationError, Runtime, SnapshotError, decode_state};
pub use types::*;

/// The contract version this SDK implements; reported by `describe`, and
/// compared by the host with the versions it loads (a plugin built for
/// another one is refused with both versions named).
///
/// ```
/// assert_eq!(ueba_sdk::CONTRACT_VERSION, "0.5.0");
/// ```
pub const CONTRACT_VERSION: &str = "0.5.0";

/// A detector: plain Rust logic that turns events into findings.
///
/// Every method but `info` and `observe` has a default, so a detector is its
/// maths plus a few lines. Its serde form is its snapshot: everything that
/// affects future findings (configuration included) must be in the fields
/// that serialise, and nothing else should be, so that snapshot → restore
/// gives exactly the same findings afterwards.
///
/// Detectors must be deterministic and use event time only: there is no
/// clock, no randomness and no I/O inside the sandbox.
pub trait Detector: Default + serde::Serialize + serde::de::DeserializeOwned {
    /// Name, version, description and config keys. The name is how alerts,
    /// config sections and `--plugins` replacement refer to the detector.
    fn info() -> Info;

    /// Apply one configuration key. Called before the first batch, once per
    /// key the operator set; keys not set keep their defaults. The default
    /// implementation accepts no keys.
    fn configure(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let _ = value;
        Err(ConfigError::UnknownKey(key.to_string()))
    }

    /// Observe a batch of events, in the host's processing order, and push
    /// findings about any of them onto `out`. `symbols` already holds the
    /// text of every id these events use.
    fn observe(&mut self, symbols: &Symbols, events: &[Event], out: &mut Vec<Finding>);

    /// Carry over the state an earlier version of this detector wrote,
    /// when its layout differs from this version's: `version` is the
    /// version that wrote the snapshot (`None` for snapshots from before
    /// versions were recorded) and `state` the snapshot's body, which
    /// [`decode_state`] reads as `(Symbols, that version's detector)` given
    /// the detector's own copy of the earlier types, to be converted. Called on restore whenever the snapshot's version is not
    /// this one, before the state is tried as this version's. `None`, the
    /// default, leaves it to that try: a state of the same layout is read,
    /// any other is refused and the detector starts afresh, losing what it
    /// had learned (an upgrade of ueba would then relearn every baseline).
    ///
    /// The configuration of the returned state does not matter: the
    /// runtime configures it as the running instance is configured.
    fn upgrade(version: Option<&str>, state: &[u8]) -> Option<(Symbols, Self)> {
        let _ = (version, state);
        None
    }

    /// What this instance has learned about populations (peer groups, the
    /// organisation) from its own users only, encoded for [`Detector::absorb`] of
    /// another instance of the same detector (see [`population`] for the
    /// helpers). Empty, the default, when the detector keeps no population
    /// figures or shares none.
    ///
    /// With `--shards N` every user's events go to one of N instances, and
    /// each instance sees only its users. The host exchanges populations at
    /// fixed points of event time: it asks every instance for its own share
    /// and hands each the others' shares. Figures such as "9 of 199 users
    /// have touched it" then count every shard's users, an exchange
    /// interval late for the other shards. Never include what
    /// [`absorb`](Detector::absorb) gave: shares are summed by the receiver,
    /// so a share that carried others' figures would count them twice.
    fn population(&self) -> Vec<u8> {
        Vec::new()
    }

    /// Replace what this instance knows of the other instances' users with
    /// `others`: the latest [`population`](Detector::population) of each
    /// other instance, in shard order. Called with the full set every time,
    /// so a detector keeps the sum of the last set (in its snapshot) and
    /// never adds the same share twice. Bytes that do not decode are an
    /// error, and the detector's state must stay as it was.
    fn absorb(&mut self, others: &[&[u8]]) -> Result<(), String> {
        let _ = others;
        Ok(())
    }
}

/// Export a [`Detector`] as the plugin's implementation of the contract.
///
/// Put it once in a detector crate's `lib.rs`. On `wasm32` it generates the
/// component exports; natively it expands to nothing, so the crate's unit
/// tests and the host's native benchmarks use the type directly.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use ueba_sdk::{Detector, Event, Finding, Info, Symbols};
///
/// #[derive(Default, Serialize, Deserialize)]
/// pub struct Silent;
///
/// impl Detector for Silent {
///     fn info() -> Info {
///         Info { name: "silent", version: "0.1.0", description: "finds nothing", config: vec![] }
///     }
///     fn observe(&mut self, _: &Symbols, _: &[Event], _: &mut Vec<Finding>) {}
/// }
///
/// ueba_sdk::export_detector!(Silent);
/// ```
#[macro_export]
macro_rules! export_detector {
    ($detector:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __UebaPlugin;
            impl $crate::glue::Guest for __UebaPlugin {
                fn describe() -> $crate::glue::WitInfo {
                    $crate::glue::describe::<$detector>()
                }
                fn configure(
                    config: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                ) -> ::std::result::Result<(), $crate::glue::WitConfigError> {
                    $crate::glue::with_runtime::<$detector, _>(|rt| $crate::glue::configure(rt, config))
                }
                fn observe(
                    batch: $crate::glue::WitBatch,
                ) -> ::std::result::Result<::std::vec::Vec<$crate::glue::WitFinding>, $crate::glue::WitDetectorError> {
                    $crate::glue::with_runtime::<$detector, _>(|rt| $crate::glue::observe(rt, batch))
                }
                fn snapshot() -> ::std::vec::Vec<u8> {
                    $crate::glue::with_runtime::<$detector, _>(|rt| rt.snapshot())
                }
                fn restore(
                    state: ::std::vec::Vec<u8>,
                ) -> ::std::result::Result<(), $crate::glue::WitDetectorError> {
                    $crate::glue::with_runtime::<$detector, _>(|rt| $crate::glue::restore(rt, &state))
                }
                fn population() -> ::std::vec::Vec<u8> {
                    $crate::glue::with_runtime::<$detector, _>(|rt| rt.population())
                }
                fn absorb(
                    others: ::std::vec::Vec<::std::vec::Vec<u8>>,
                ) -> ::std::result::Result<(), $crate::glue::WitDetectorError> {
                    $crate::glue::with_runtime::<$detector, _>(|rt| $crate::glue::absorb(rt, others))
                }
            }
            $crate::glue::__export_detector_plugin!(__UebaPlugin with_types_in $crate::glue::bindings);
        };
    };
}
