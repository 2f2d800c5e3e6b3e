//! From findings to risk and alerts: per-user risk that decays
//! ([`aggregate`]), the threshold an alert budget steers ([`budget`]),
//! analysts' exceptions ([`exceptions`]) and verdicts ([`verdicts`]),
//! alert episodes as incidents ([`incidents`]), risk per resource and
//! source ([`entities`]) and the record of every
//! finding ([`findings`]).

pub mod aggregate;
pub mod budget;
pub mod entities;
pub mod exceptions;
pub mod findings;
pub mod incidents;
pub mod verdicts;
