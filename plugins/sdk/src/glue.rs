//! WebAssembly glue: converts between the WIT-generated types and the SDK's
//! plain Rust types. Only compiled for wasm32; detectors never see it.

use std::cell::RefCell;

use crate::{CONTRACT_VERSION, ConfigError, Detector, Event, Finding, Runtime, SymbolKind, Value};

#[allow(missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "ueba:detector/detector-plugin@0.5.0",
        pub_export_macro: true,
        export_macro_name: "__export_detector_plugin",
        default_bindings_module: "ueba_sdk::glue::bindings",
    });
}

use bindings::exports::ueba::detector0_5_0::detector as wit;

// The row<->column codec and the symbol-kind conversions, written once in
// the contract crate for the host's bindings and these.
ueba_contract::columns!(wit::Events);
ueba_contract::symbol_kinds!(wit::SymbolKind);

pub use bindings::__export_detector_plugin;
pub use wit::{
    Batch as WitBatch, ConfigError as WitConfigError, DetectorError as WitDetectorError,
    Finding as WitFinding, Guest, Info as WitInfo,
};

thread_local! {
    static STATE: RefCell<Option<Box<dyn std::any::Any>>> = const { RefCell::new(None) };
}

/// Run `f` on the plugin's one runtime, creating it on first use.
pub fn with_runtime<D: Detector + 'static, R>(f: impl FnOnce(&mut Runtime<D>) -> R) -> R {
    STATE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let any = slot.get_or_insert_with(|| Box::new(Runtime::<D>::default()));
        match any.downcast_mut::<Runtime<D>>() {
            Some(rt) => f(rt),
            // A plugin exports exactly one detector type, so the slot always
            // holds a Runtime<D>; reaching here is a broken build.
            None => unreachable!("plugin runtime holds another detector type"),
        }
    })
}

/// `describe` for detector `D`.
pub fn describe<D: Detector>() -> wit::Info {
    let info = D::info();
    wit::Info {
        name: info.name.into(),
        version: info.version.into(),
        description: info.description.into(),
        contract: CONTRACT_VERSION.into(),
        config: info
            .config
            .into_iter()
            .map(|k| wit::ConfigKey {
                name: k.name.into(),
                default: k.default.into(),
                description: k.description.into(),
            })
            .collect(),
    }
}

/// `configure`: apply pairs, mapping the SDK error to the WIT one.
pub fn configure<D: Detector>(
    rt: &mut Runtime<D>,
    config: Vec<(String, String)>,
) -> Result<(), wit::ConfigError> {
    rt.configure(config.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|e| match e {
            ConfigError::UnknownKey(k) => wit::ConfigError::UnknownKey(k),
            ConfigError::InvalidValue { key, message } => {
                wit::ConfigError::InvalidValue(wit::InvalidValue { key, message })
            }
        })
}

/// `observe`: store new symbols, convert events, run the detector.
pub fn observe<D: Detector>(
    rt: &mut Runtime<D>,
    batch: wit::Batch,
) -> Result<Vec<wit::Finding>, wit::DetectorError> {
    let events = events_of(&batch.events)?;
    let symbols = rt.symbols_mut();
    for s in batch.symbols {
        symbols.insert(SymbolKind::from(s.kind), s.id, s.text);
    }
    Ok(rt
        .observe(&events)
        .into_iter()
        .map(finding_to_wit)
        .collect())
}

/// The batch's columns as events. The host keeps every column the same
/// length; a batch that does not is refused rather than read short.
fn events_of(c: &wit::Events) -> Result<Vec<Event>, wit::DetectorError> {
    if !c.lengths_agree() {
        return Err(wit::DetectorError {
            message: format!(
                "batch columns differ in length: seq has {}, others {:?}",
                c.len(),
                c.column_lengths()
            ),
        });
    }
    Ok(c.iter().collect())
}

fn finding_to_wit(f: Finding) -> wit::Finding {
    wit::Finding {
        event: f.event,
        score: f.score,
        reason: f.reason,
        evidence: f
            .evidence
            .into_iter()
            .map(|(key, value)| wit::Evidence {
                key,
                value: match value {
                    Value::Int(i) => wit::EvidenceValue::Integer(i),
                    Value::Float(x) => wit::EvidenceValue::Float(x),
                    Value::Text(t) => wit::EvidenceValue::Text(t),
                },
            })
            .collect(),
    }
}

/// `restore`, mapping the SDK error to the WIT one.
pub fn restore<D: Detector>(rt: &mut Runtime<D>, state: &[u8]) -> Result<(), wit::DetectorError> {
    rt.restore(state).map_err(|e| wit::DetectorError {
        message: e.to_string(),
    })
}

/// `absorb`: the others' shares, mapping the SDK error to the WIT one.
pub fn absorb<D: Detector>(
    rt: &mut Runtime<D>,
    others: Vec<Vec<u8>>,
) -> Result<(), wit::DetectorError> {
    rt.absorb(&others)
        .map_err(|e| wit::DetectorError { message: e.0 })
}
