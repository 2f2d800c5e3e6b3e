//! Integration tests: the real `.wasm` components through the host, the
//! CLI as users run it, and detection quality end to end on generated data.

mod cli;
mod e2e;
mod pipeline;
mod sandbox;
mod util;
