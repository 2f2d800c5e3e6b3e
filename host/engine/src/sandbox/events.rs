//! The events of a batch: one row per event on the host's side, columns in
//! the contract.
//!
//! The host thinks in rows ([`Event`]); the contract carries a batch as the
//! columns of [`wit::Events`], because a list of plain integers crosses into
//! a plugin as one copy where a list of records is lowered field by field.
//! The row type, the sentinels for missing values and the codec are the
//! contract crate's, shared with the detector SDK; this is where the host's
//! generated bindings get them.

use super::wit;

pub use ueba_contract::{Event, NO_BYTES, NO_ID};

ueba_contract::columns!(wit::Events);
ueba_contract::symbol_kinds!(wit::SymbolKind);
