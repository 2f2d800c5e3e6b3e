//! `ueba plugin new`: a standalone detector crate that builds, passes its
//! own tests, and passes `ueba plugin test --expect` straight away.
//!
//! The templates live in `template/` beside this file. The crate has its own
//! `[workspace]` so no workspace above it absorbs it, and depends on the SDK
//! either by path (this checkout's `plugins/sdk`, found through the source
//! directory the binary was built from) or by git (`--sdk-git`, or the
//! package's `repository` when it has one). Its `Cargo.lock` starts as a copy
//! of the built-in detectors' lock file, so it builds with the dependency
//! versions they are tested with, and without a registry update when those
//! are already downloaded.

use std::path::{Path, PathBuf};

use super::{AuthoringError, io};
use ueba_engine::sandbox::CONTRACT_VERSION;

const CARGO_TOML: &str = include_str!("template/Cargo.toml");
const LIB_RS: &str = include_str!("template/lib.rs");
const README: &str = include_str!("template/README.md");
const GITIGNORE: &str = include_str!("template/gitignore");
/// The sample events every new detector is tested on.
pub const SAMPLE_EVENTS: &str = include_str!("template/sample.jsonl");
/// What the template detector finds in [`SAMPLE_EVENTS`].
pub const EXPECTED_FINDINGS: &str = include_str!("template/expected.jsonl");
const LOCK_SEED: &str = include_str!("../../../plugins/Cargo.lock");

/// Type names the template already uses; a detector whose name would turn
/// into one of them gets a `Detector` suffix instead.
const TAKEN_TYPES: &[&str] = &[
    "Settings",
    "User",
    "Detector",
    "Event",
    "Finding",
    "Info",
    "Symbols",
    "ConfigError",
    "ConfigKey",
    "Table",
    "Runtime",
    "SymbolKind",
    "Serialize",
    "Deserialize",
];

/// Crate names cargo or rustc refuse.
const RESERVED: &[&str] = &[
    "test",
    "core",
    "std",
    "alloc",
    "proc-macro",
    "self",
    "super",
    "crate",
    "fn",
    "mod",
    "type",
    "impl",
    "use",
    "let",
    "match",
    "struct",
    "enum",
    "trait",
    "where",
    "async",
    "await",
    "dyn",
];

/// Where the new crate gets the SDK from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SdkSource {
    /// A path to an SDK crate directory (`plugins/sdk` of a checkout).
    Path(PathBuf),
    /// A git repository holding the ueba checkout, optionally at a revision.
    Git {
        /// Repository URL.
        url: String,
        /// Commit, tag or branch to pin; `None` follows the default branch.
        rev: Option<String>,
    },
}

impl SdkSource {
    /// Choose the SDK source: an explicit path or git URL wins; else this
    /// binary's own checkout when it still exists; else the package's
    /// `repository` URL when it has one.
    pub fn locate(
        path: Option<&Path>,
        git: Option<&str>,
        rev: Option<&str>,
    ) -> Result<SdkSource, AuthoringError> {
        if let Some(p) = path {
            let manifest = p.join("Cargo.toml");
            let canonical = p.canonicalize().map_err(io(p))?;
            if !manifest.is_file() {
                return Err(AuthoringError::Io {
                    path: manifest,
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "no Cargo.toml: --sdk-path must be the SDK crate directory (plugins/sdk)",
                    ),
                });
            }
            return Ok(SdkSource::Path(canonical));
        }
        if let Some(url) = git {
            return Ok(SdkSource::Git {
                url: url.to_string(),
                rev: rev.map(str::to_string),
            });
        }
        if let Some(p) = checkout_sdk() {
            return Ok(SdkSource::Path(p));
        }
        match option_env!("CARGO_PKG_REPOSITORY") {
            Some(url) if !url.is_empty() => Ok(SdkSource::Git {
                url: url.to_string(),
                rev: rev.map(str::to_string),
            }),
            _ => Err(AuthoringError::NoSdk),
        }
    }

    /// The `ueba-sdk = ...` line for the new crate's `[dependencies]`.
    pub fn dependency(&self) -> String {
        match self {
            SdkSource::Path(p) => format!(
                "ueba-sdk = {{ path = {} }}",
                toml_string(&p.display().to_string())
            ),
            SdkSource::Git { url, rev: None } => {
                format!("ueba-sdk = {{ git = {} }}", toml_string(url))
            }
            SdkSource::Git { url, rev: Some(r) } => format!(
                "ueba-sdk = {{ git = {}, rev = {} }}",
                toml_string(url),
                toml_string(r)
            ),
        }
    }
}

/// This binary's checkout's SDK, if the source tree it was built from is
/// still there.
pub fn checkout_sdk() -> Option<PathBuf> {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/sdk");
    sdk.join("Cargo.toml")
        .is_file()
        .then(|| sdk.canonicalize().ok())
        .flatten()
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Check that `name` works as a cargo package, a crate and a detector name:
/// lower-case ASCII letters, digits and single hyphens, starting with a
/// letter, at most 64 characters.
pub fn validate_name(name: &str) -> Result<(), AuthoringError> {
    let bad = |reason| {
        Err(AuthoringError::InvalidName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() || name.len() > 64 {
        return bad("use 1 to 64 characters");
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return bad("start with a lower-case letter");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return bad("use only lower-case letters, digits and hyphens");
    }
    if name.ends_with('-') || name.contains("--") {
        return bad("hyphens must separate words");
    }
    if RESERVED.contains(&name) {
        return bad("it is reserved by Rust or cargo");
    }
    Ok(())
}

/// The Rust type name for a detector name: `rare-action` → `RareAction`.
pub fn type_name(name: &str) -> String {
    let camel: String = name
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect();
    if TAKEN_TYPES.contains(&camel.as_str()) {
        camel + "Detector"
    } else {
        camel
    }
}

/// What [`scaffold`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scaffold {
    /// The crate directory.
    pub dir: PathBuf,
    /// The files written, relative to `dir`.
    pub files: Vec<PathBuf>,
}

/// Write a new detector crate named `name` into `dir`, which must not exist
/// or be empty.
pub fn scaffold(name: &str, dir: &Path, sdk: &SdkSource) -> Result<Scaffold, AuthoringError> {
    validate_name(name)?;
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(io(dir))?;
        if entries.next().is_some() {
            return Err(AuthoringError::NotEmpty {
                path: dir.to_path_buf(),
            });
        }
    }
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{type_name}}", &type_name(name))
            .replace("{{sdk_dependency}}", &sdk.dependency())
            .replace("{{contract}}", CONTRACT_VERSION)
    };
    let files: [(&str, String); 7] = [
        ("Cargo.toml", fill(CARGO_TOML)),
        ("Cargo.lock", LOCK_SEED.to_string()),
        ("src/lib.rs", fill(LIB_RS)),
        ("README.md", fill(README)),
        (".gitignore", GITIGNORE.to_string()),
        ("sample.jsonl", SAMPLE_EVENTS.to_string()),
        ("expected.jsonl", EXPECTED_FINDINGS.to_string()),
    ];
    std::fs::create_dir_all(dir.join("src")).map_err(io(dir.join("src")))?;
    let mut written = Vec::with_capacity(files.len());
    for (rel, text) in files {
        let path = dir.join(rel);
        std::fs::write(&path, text).map_err(io(&path))?;
        written.push(PathBuf::from(rel));
    }
    Ok(Scaffold {
        dir: dir.to_path_buf(),
        files: written,
    })
}

#[cfg(test)]
#[path = "scaffold_tests.rs"]
mod tests;
