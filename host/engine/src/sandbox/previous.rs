//! Contract 0.1.0, the previous version: its generated bindings and the
//! conversions between its types and the current ones.
//!
//! A plugin built for 0.1.0 keeps loading for one contract version of grace
//! (`docs/contract.md`). The scoring code only ever sees the current types;
//! everything version-specific about calling such a plugin is here.

use super::{Event, wit};

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

ueba_contract::symbol_kinds!(old::SymbolKind);

/// A current batch in 0.1.0's form: one record per event, options for the
/// values the columns mark with sentinels.
pub fn batch(batch: &wit::Batch) -> old::Batch {
    old::Batch {
        symbols: batch.symbols.iter().map(symbol).collect(),
        events: batch.events.iter().map(|e| event(&e)).collect(),
    }
}

fn symbol(s: &wit::Symbol) -> old::Symbol {
    old::Symbol {
        kind: ueba_contract::SymbolKind::from(s.kind).into(),
        id: s.id,
        text: s.text.clone(),
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

/// A 0.1.0 finding as a current one (the shapes are the same).
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

/// A 0.1.0 `describe` answer as a current one.
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

/// A 0.1.0 configuration error as a current one.
pub fn config_error(e: old::ConfigError) -> wit::ConfigError {
    match e {
        old::ConfigError::UnknownKey(k) => wit::ConfigError::UnknownKey(k),
        old::ConfigError::InvalidValue(v) => wit::ConfigError::InvalidValue(wit::InvalidValue {
            key: v.key,
            message: v.message,
        }),
    }
}

/// A 0.1.0 detector error as a current one.
pub fn detector_error(e: old::DetectorError) -> wit::DetectorError {
    wit::DetectorError { message: e.message }
}
