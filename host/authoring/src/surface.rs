//! What a `.wasm` file imports and exports, read with wasmparser without
//! compiling it, so that `ueba plugin inspect` can describe a plugin the
//! host refuses, and `ueba plugin build` can catch WASI imports in a core
//! module before wrapping it (with a better message than the encoder's).

use std::path::Path;

use wasmparser::{Parser, Payload};

use super::AuthoringError;
use ueba_engine::sandbox::SUPPORTED_CONTRACTS;

/// The export name prefix of the detector interface; the version follows `@`.
pub const DETECTOR_EXPORT_PREFIX: &str = "ueba:detector/detector@";

/// Whether a file is a core module (what cargo builds) or a component
/// (what the host loads).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A core WebAssembly module.
    Module,
    /// A component-model component.
    Component,
}

/// The top-level imports and exports of a module or component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Surface {
    /// Module or component.
    pub kind: Kind,
    /// Import names: `module::name` for a core module, the extern name
    /// (e.g. `wasi:filesystem/types@0.2.0`) for a component.
    pub imports: Vec<String>,
    /// Export names.
    pub exports: Vec<String>,
}

impl Surface {
    /// Read the surface of `bytes`; `path` names the file in errors.
    pub fn read(path: &Path, bytes: &[u8]) -> Result<Surface, AuthoringError> {
        let kind = if Parser::is_component(bytes) {
            Kind::Component
        } else if Parser::is_core_wasm(bytes) {
            Kind::Module
        } else {
            return Err(AuthoringError::NotWasm {
                path: path.to_path_buf(),
            });
        };
        let malformed = |e: wasmparser::BinaryReaderError| AuthoringError::Malformed {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let mut surface = Surface {
            kind,
            imports: Vec::new(),
            exports: Vec::new(),
        };
        // Nested modules and components come through `parse_all` too, each
        // opened by a Version payload and closed by End; only depth 1 is
        // the file's own surface.
        let mut depth = 0usize;
        for payload in Parser::new(0).parse_all(bytes) {
            match payload.map_err(malformed)? {
                Payload::Version { .. } => depth += 1,
                Payload::End(_) => depth = depth.saturating_sub(1),
                Payload::ImportSection(s) if depth == 1 => {
                    for import in s.into_imports() {
                        let import = import.map_err(malformed)?;
                        surface
                            .imports
                            .push(format!("{}::{}", import.module, import.name));
                    }
                }
                Payload::ExportSection(s) if depth == 1 => {
                    for export in s {
                        surface.exports.push(export.map_err(malformed)?.name.into());
                    }
                }
                Payload::ComponentImportSection(s) if depth == 1 => {
                    for import in s {
                        surface
                            .imports
                            .push(import.map_err(malformed)?.name.name.into());
                    }
                }
                Payload::ComponentExportSection(s) if depth == 1 => {
                    for export in s {
                        surface
                            .exports
                            .push(export.map_err(malformed)?.name.name.into());
                    }
                }
                _ => {}
            }
        }
        Ok(surface)
    }

    /// The contract versions of the detector interfaces exported, e.g.
    /// `["0.2.0"]`; empty when the file exports no detector.
    pub fn contracts(&self) -> Vec<&str> {
        self.exports
            .iter()
            .filter_map(|e| e.strip_prefix(DETECTOR_EXPORT_PREFIX))
            .collect()
    }

    /// Whether it exports a contract version this host loads.
    pub fn supported(&self) -> bool {
        self.contracts()
            .iter()
            .any(|c| SUPPORTED_CONTRACTS.contains(c))
    }

    /// The first import that asks for WASI, if any.
    pub fn wasi_import(&self) -> Option<&str> {
        self.imports
            .iter()
            .map(String::as_str)
            .find(|i| i.starts_with("wasi"))
    }
}

#[cfg(test)]
#[path = "surface_tests.rs"]
mod tests;
