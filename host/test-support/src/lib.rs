//! Helpers shared by the tests of ueba's crates, written once: the fixture
//! detectors (built for tests only, by this crate's build script), the
//! built-in detectors' bytes, a "rebuilt" copy of a component, and an event
//! builder.
#![deny(missing_docs)]

use std::path::PathBuf;

use ueba_engine::event::{AccessEvent, Outcome};

/// The directory holding the fixture components (`hostile.wasm`,
/// `contract-liar.wasm`).
pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("UEBA_FIXTURE_DIR"))
}

/// The bytes of the fixture component `name` (e.g. `hostile.wasm`).
pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The embedded component of the built-in detector `name`.
pub fn builtin(name: &str) -> &'static [u8] {
    ueba_engine::sandbox::BUILTIN_PLUGINS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no built-in detector {name}"))
        .1
}

/// The same component with a custom section appended: another build
/// (another sha256) that behaves identically, as a rebuild with another
/// toolchain would be.
pub fn rebuilt(bytes: &[u8], tag: &str) -> Vec<u8> {
    let name = b"ueba-test-build";
    let mut section = vec![name.len() as u8];
    section.extend_from_slice(name);
    section.extend_from_slice(tag.as_bytes());
    let mut out = bytes.to_vec();
    out.push(0);
    out.push(section.len() as u8);
    out.extend_from_slice(&section);
    out
}

/// A successful `select` by `user` of `rows` rows of `resource` at
/// `time_ms`, from 10.0.0.1.
pub fn event(time_ms: i64, user: &str, resource: &str, rows: u64) -> AccessEvent {
    AccessEvent {
        time_ms,
        user: user.into(),
        action: "select".into(),
        resource: resource.into(),
        rows,
        bytes: None,
        source: Some("10.0.0.1".into()),
        peer_group: None,
        outcome: Outcome::Success,
    }
}
