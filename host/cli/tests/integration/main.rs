//! Integration tests: the real `.wasm` components through the host, the
//! CLI as users run it, and detection quality end to end on generated data.

mod bench;
mod c_detector;
mod cli;
mod e2e;
mod eval;
mod explain;
mod feedback;
mod formats;
mod fuzz;
mod gate;
mod golden;
mod hostile;
mod logs;
mod nats;
mod pg;
mod pipeline;
mod plugin_cmd;
mod reload;
mod sandbox;
mod serve;
mod shards;
mod state;
mod util;
