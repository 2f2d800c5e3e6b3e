//! `ueba-c-build`: builds a ueba detector plugin written in C.
//!
//! ```text
//! ueba-c-build PLUGIN_DIR --wit WIT_DIR --out PLUGIN.wasm [--work DIR]
//! ```
//!
//! 1. generates the C bindings of the `detector-plugin` world with
//!    `wit-bindgen-c` (a header, its C file, and an object holding the
//!    world's type for the component wrapper);
//! 2. compiles `PLUGIN_DIR/*.c` with the bindings using clang for
//!    `wasm32-unknown-unknown`, freestanding, with no libc: the plugin
//!    supplies the few functions the bindings call (see its `include/`);
//! 3. wraps the core module as a component with `wit-component`, exactly as
//!    the host's build script wraps the Rust plugins.
//!
//! `$CLANG` names the compiler (default `clang`); it needs the `wasm32`
//! target and `wasm-ld` (Debian: `apt-get install clang lld`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use wit_bindgen_core::wit_parser::Resolve;

/// The world every detector plugin implements.
const WORLD: &str = "detector-plugin";

/// Why a build failed; each says what to do about it.
#[derive(Debug)]
enum BuildError {
    /// The command line is wrong.
    Usage(String),
    /// Reading or writing a file failed.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The WIT could not be read or the bindings not generated.
    Bindings(String),
    /// clang could not be run at all.
    NoClang {
        clang: String,
        source: std::io::Error,
    },
    /// clang ran and failed.
    Compile { status: std::process::ExitStatus },
    /// The core module could not be wrapped as a component.
    Component(String),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Usage(m) => write!(
                f,
                "{m}\nusage: ueba-c-build PLUGIN_DIR --wit WIT_DIR --out PLUGIN.wasm [--work DIR]"
            ),
            BuildError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            BuildError::Bindings(m) => write!(f, "generating the C bindings: {m}"),
            BuildError::NoClang { clang, source } => write!(
                f,
                "could not run `{clang}` ({source}); C plugins need clang with the wasm32 target and wasm-ld: on Debian, `apt-get install clang lld`"
            ),
            BuildError::Compile { status } => write!(
                f,
                "clang failed ({status}); check `clang --print-targets` lists wasm32 and that wasm-ld (package lld) is installed"
            ),
            BuildError::Component(m) => write!(f, "wrapping the module as a component: {m}"),
        }
    }
}

struct Args {
    plugin: PathBuf,
    wit: PathBuf,
    out: PathBuf,
    work: PathBuf,
}

fn parse_args() -> Result<Args, BuildError> {
    let mut plugin = None;
    let mut wit = None;
    let mut out = None;
    let mut work = None;
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .map(PathBuf::from)
                .ok_or_else(|| BuildError::Usage(format!("{name} needs a value")))
        };
        match a.to_str() {
            Some("--wit") => wit = Some(value("--wit")?),
            Some("--out") => out = Some(value("--out")?),
            Some("--work") => work = Some(value("--work")?),
            Some(s) if s.starts_with("--") => {
                return Err(BuildError::Usage(format!("unknown option {s}")));
            }
            _ if plugin.is_none() => plugin = Some(PathBuf::from(a)),
            _ => return Err(BuildError::Usage("more than one plugin directory".into())),
        }
    }
    let plugin = plugin.ok_or_else(|| BuildError::Usage("no plugin directory".into()))?;
    let out = out.ok_or_else(|| BuildError::Usage("no --out".into()))?;
    let work = work.unwrap_or_else(|| out.with_extension("build"));
    Ok(Args {
        plugin,
        wit: wit.ok_or_else(|| BuildError::Usage("no --wit".into()))?,
        out,
        work,
    })
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Generate the bindings into `dir`; returns the files written.
fn bindings(wit: &Path, dir: &Path) -> Result<Vec<PathBuf>, BuildError> {
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve
        .push_dir(wit)
        .map_err(|e| BuildError::Bindings(format!("{e:#}")))?;
    let world = resolve
        .select_world(&[pkg], Some(WORLD))
        .map_err(|e| BuildError::Bindings(format!("{e:#}")))?;
    let mut files = wit_bindgen_core::Files::default();
    wit_bindgen_c::Opts::default()
        .build()
        .generate(&mut resolve, world, &mut files)
        .map_err(|e| BuildError::Bindings(format!("{e:#}")))?;
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut written = Vec::new();
    for (name, bytes) in files.iter() {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(io(&path))?;
        written.push(path);
    }
    Ok(written)
}

/// The plugin's own C files, sorted so builds are reproducible.
fn sources(dir: &Path) -> Result<Vec<PathBuf>, BuildError> {
    let mut c: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    c.sort();
    if c.is_empty() {
        return Err(BuildError::Usage(format!(
            "{} holds no .c files",
            dir.display()
        )));
    }
    Ok(c)
}

fn compile(args: &Args, generated: &[PathBuf], core: &Path) -> Result<(), BuildError> {
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang".into());
    let mut cmd = Command::new(&clang);
    cmd.args([
        "--target=wasm32-unknown-unknown",
        "-O2",
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Werror",
        // The generated bindings leave some parameters unused.
        "-Wno-unused-parameter",
        "-ffreestanding",
        "-nostdlib",
        "-fno-builtin",
        "-mbulk-memory",
        "-Wl,--no-entry",
        "-Wl,--strip-debug",
        "-Wl,-z,stack-size=1048576",
    ]);
    cmd.arg("-I").arg(args.plugin.join("include"));
    cmd.arg("-I").arg(&args.work);
    cmd.args(sources(&args.plugin)?);
    cmd.args(
        generated
            .iter()
            .filter(|p| p.extension().is_some_and(|x| x == "c" || x == "o")),
    );
    cmd.arg("-o").arg(core);
    let status = cmd.status().map_err(|source| BuildError::NoClang {
        clang: clang.clone(),
        source,
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(BuildError::Compile { status })
    }
}

fn run() -> Result<(), BuildError> {
    let args = parse_args()?;
    let generated = bindings(&args.wit, &args.work)?;
    let core = args.work.join("core.wasm");
    compile(&args, &generated, &core)?;
    let module = std::fs::read(&core).map_err(io(&core))?;
    let component = ueba_wasm_build::encode(&core.display().to_string(), &module)
        .map_err(|e| BuildError::Component(e.to_string()))?;
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    std::fs::write(&args.out, component).map_err(io(&args.out))?;
    println!("{}", args.out.display());
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
