//! The older contract versions this host still loads (`docs/contract.md`):
//! their generated bindings and the conversions between their types and the
//! current ones. The scoring code only ever sees the current types;
//! everything version-specific about calling an older plugin is here.
//!
//! - [`v0_1`]: events as a list of records, options for missing values.
//! - [`v0_2`]: events as columns, as today, without the `learn` column
//!   (0.3.0): such a plugin learns from every event it is given.
//! - [`v0_3`]: today's calls without `population` and `absorb` (0.4.0):
//!   such a plugin keeps its own shard's population.
//! - [`v0_4`]: today's calls and columns without `manager` (0.5.0): such a
//!   plugin is not told who manages whom.

use super::wit;

/// Writes the conversions every older version shares, because their
/// findings, `describe` answers and errors have the current shapes: call it
/// in a module that names the version's types `old`.
macro_rules! same_shapes {
    () => {
        ueba_contract::symbol_kinds!(old::SymbolKind);

        fn symbol(s: &wit::Symbol) -> old::Symbol {
            old::Symbol {
                kind: ueba_contract::SymbolKind::from(s.kind).into(),
                id: s.id,
                text: s.text.clone(),
            }
        }

        /// A finding of this version as a current one.
        pub fn finding(f: old::Finding) -> wit::Finding {
            wit::Finding {
                event: f.event,
                score: f.score,
                reason: f.reason,
                evidence: f
                    .evidence
                    .into_iter()
                    .map(|e| wit::Evidence {
                        key: e.key,
                        value: match e.value {
                            old::EvidenceValue::Integer(i) => wit::EvidenceValue::Integer(i),
                            old::EvidenceValue::Float(x) => wit::EvidenceValue::Float(x),
                            old::EvidenceValue::Text(t) => wit::EvidenceValue::Text(t),
                        },
                    })
                    .collect(),
            }
        }

        /// A `describe` answer of this version as a current one.
        pub fn info(i: old::Info) -> wit::Info {
            wit::Info {
                name: i.name,
                version: i.version,
                description: i.description,
                contract: i.contract,
                config: i
                    .config
                    .into_iter()
                    .map(|k| wit::ConfigKey {
                        name: k.name,
                        default: k.default,
                        description: k.description,
                    })
                    .collect(),
            }
        }

        /// A configuration error of this version as a current one.
        pub fn config_error(e: old::ConfigError) -> wit::ConfigError {
            match e {
                old::ConfigError::UnknownKey(k) => wit::ConfigError::UnknownKey(k),
                old::ConfigError::InvalidValue(v) => {
                    wit::ConfigError::InvalidValue(wit::InvalidValue {
                        key: v.key,
                        message: v.message,
                    })
                }
            }
        }

        /// A detector error of this version as a current one.
        pub fn detector_error(e: old::DetectorError) -> wit::DetectorError {
            wit::DetectorError { message: e.message }
        }
    };
}

/// The columns every columnar version shares, copied from the current
/// batch `$e` into that version's `old::Events`, with `$extra` columns the
/// version also has.
macro_rules! columns {
    ($e:expr $(, $extra:ident)*) => {{
        let e = $e;
        old::Events {
            seq: e.seq.clone(),
            time_ms: e.time_ms.clone(),
            utc_offset_minutes: e.utc_offset_minutes.clone(),
            user: e.user.clone(),
            peer_group: e.peer_group.clone(),
            action: e.action.clone(),
            resource: e.resource.clone(),
            source: e.source.clone(),
            rows: e.rows.clone(),
            bytes: e.bytes.clone(),
            outcome: e.outcome.clone(),
            $($extra: e.$extra.clone(),)*
        }
    }};
}

/// Contract 0.1.0: one record per event.
pub mod v0_1 {
    use super::wit;
    use crate::sandbox::Event;

    /// Generated bindings for the frozen 0.1.0 contract
    /// (`wit/deps/detector-0.1.0/detector.wit`).
    #[allow(missing_docs)]
    pub mod bindings {
        wasmtime::component::bindgen!({
            path: "../../wit/deps/detector-0.1.0",
            world: "ueba:detector/detector-plugin@0.1.0",
        });
    }

    /// The 0.1.0 types.
    pub use bindings::exports::ueba::detector::detector as old;

    same_shapes!();

    /// A current batch in 0.1.0's form: one record per event, options for
    /// the values the columns mark with sentinels.
    pub fn batch(batch: &wit::Batch) -> old::Batch {
        old::Batch {
            symbols: batch.symbols.iter().map(symbol).collect(),
            events: batch.events.iter().map(|e| event(&e)).collect(),
        }
    }

    fn event(e: &Event) -> old::Event {
        old::Event {
            seq: e.seq,
            time_ms: e.time_ms,
            utc_offset_minutes: e.utc_offset_minutes,
            user: e.user,
            peer_group: e.peer_group,
            action: e.action,
            resource: e.resource,
            source: e.source,
            rows: e.rows,
            bytes: e.bytes,
            outcome: match e.outcome {
                crate::event::Outcome::Unknown => old::Outcome::Unknown,
                crate::event::Outcome::Success => old::Outcome::Success,
                crate::event::Outcome::Failure => old::Outcome::Failure,
            },
        }
    }
}

/// Writes the module of a columnar contract version: its generated
/// bindings (from `$path`, world `$world`), its types as `old`, the
/// conversions every older version shares, and `batch`, which copies the
/// columns every columnar version has and the version's `$extra` ones.
macro_rules! columnar_version {
    ($(#[$doc:meta])* $name:ident, $path:tt, $world:tt $(, $extra:ident)*) => {
        $(#[$doc])*
        pub mod $name {
            use super::wit;

            /// Generated bindings for this frozen contract version.
            #[allow(missing_docs)]
            pub mod bindings {
                wasmtime::component::bindgen!({
                    path: $path,
                    world: $world,
                });
            }

            /// This version's types.
            pub use bindings::exports::ueba::detector::detector as old;

            same_shapes!();

            /// A current batch in this version's form: the columns it has,
            /// as its types.
            pub fn batch(batch: &wit::Batch) -> old::Batch {
                old::Batch {
                    symbols: batch.symbols.iter().map(symbol).collect(),
                    events: columns!(&batch.events $(, $extra)*),
                }
            }
        }
    };
}

columnar_version!(
    /// Contract 0.2.0 (`wit/deps/detector-0.2.0`): the current columns
    /// without `learn`.
    v0_2,
    "../../wit/deps/detector-0.2.0",
    "ueba:detector/detector-plugin@0.2.0"
);

columnar_version!(
    /// Contract 0.3.0 (`wit/deps/detector-0.3.0`): the current columns
    /// without `manager`, and the current calls without the population
    /// exchange.
    v0_3,
    "../../wit/deps/detector-0.3.0",
    "ueba:detector/detector-plugin@0.3.0",
    learn
);

columnar_version!(
    /// Contract 0.4.0 (`wit/deps/detector-0.4.0`): the current calls, and
    /// the current columns without `manager`.
    v0_4,
    "../../wit/deps/detector-0.4.0",
    "ueba:detector/detector-plugin@0.4.0",
    learn
);
