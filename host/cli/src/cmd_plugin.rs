//! `ueba plugin new|build|test|inspect`: writing a custom detector, from an
//! empty directory to a component `ueba score --plugins DIR` loads. The work
//! is in [`ueba_authoring`]; this file is the command line around it.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

use ueba_authoring::build::{Checked, cargo_build, check, componentize, manifest_for};
use ueba_authoring::golden::{Record, compare, to_jsonl};
use ueba_authoring::harness;
use ueba_authoring::scaffold::{SdkSource, scaffold};
use ueba_authoring::surface::Surface;
use ueba_engine::identity::Identities;
use ueba_engine::sandbox::{SUPPORTED_CONTRACTS, sha256_hex};
use ueba_formats::sources::InputFormat;

use crate::{load_config, runtime_for};

/// `ueba plugin ...`.
#[derive(Args)]
pub(crate) struct PluginArgs {
    #[command(subcommand)]
    command: PluginCommand,
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Create a detector crate that builds and passes its tests straight away.
    ///
    /// Writes Cargo.toml (its own workspace, cdylib + rlib), src/lib.rs (a
    /// small working detector with unit tests), sample.jsonl,
    /// expected.jsonl and a README into --dir (default ./NAME).
    New(NewArgs),
    /// Build a detector crate for wasm32-unknown-unknown and wrap it as a component.
    ///
    /// PATH is the crate directory or its Cargo.toml (default: the current
    /// directory), or an already-built .wasm core module or component to
    /// wrap and check. The result is loaded through this host to check it
    /// imports nothing and targets a contract this host supports.
    Build(BuildArgs),
    /// Run one plugin over an events file and print or check its findings.
    ///
    /// Runs under the production sandbox limits (and `--config`'s
    /// `[sandbox]` and `[detectors.NAME]`); with --expect compares the findings
    /// with a JSON-lines golden file and fails on any difference.
    Test(TestArgs),
    /// Show a plugin's contract, imports, exports, config keys, size and sha256.
    Inspect(InspectArgs),
}

#[derive(Args)]
struct NewArgs {
    /// Detector name: lower-case letters, digits and hyphens (also the package name).
    name: String,
    /// Directory to create the crate in (default ./NAME); must not exist or be empty.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Depend on the SDK crate at this path (a checkout's plugins/sdk).
    #[arg(long, conflicts_with = "sdk_git")]
    sdk_path: Option<PathBuf>,
    /// Depend on the SDK from this git repository (a ueba checkout's URL).
    #[arg(long)]
    sdk_git: Option<String>,
    /// With --sdk-git: the commit, tag or branch to pin.
    #[arg(long, requires = "sdk_git")]
    sdk_rev: Option<String>,
}

#[derive(Args)]
struct BuildArgs {
    /// Crate directory, its Cargo.toml, or a .wasm module or component.
    path: Option<PathBuf>,
    /// Write the component here (default: `<target dir>/plugin/<package>.wasm`
    /// for a crate, `<file>.component.wasm` beside a core module).
    #[arg(long, short = 'o')]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct TestArgs {
    /// The plugin component (`ueba plugin build` prints where it is).
    plugin: PathBuf,
    /// Events to run it over.
    #[arg(long, short = 'e')]
    events: PathBuf,
    /// Identity CSV: columns `user`, `peer_group`, `timezone` (IANA), found by name (README "Identity file").
    #[arg(long, short = 'i')]
    identities: Option<PathBuf>,
    /// Configuration file: `[sandbox]`, `input.batch_size` and `[detectors.NAME]` apply.
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// Events format, as for `ueba score`.
    #[arg(long, value_parser = crate::input_format(), default_value = "auto")]
    format: InputFormat,
    /// Compare the findings with this JSON-lines file; any difference fails.
    #[arg(long)]
    expect: Option<PathBuf>,
    /// Write the findings to the --expect file instead of comparing.
    #[arg(long, requires = "expect")]
    bless: bool,
}

#[derive(Args)]
struct InspectArgs {
    /// The plugin component.
    plugin: PathBuf,
}

/// Run `ueba plugin ...`.
pub(crate) fn run(a: PluginArgs) -> Result<()> {
    match a.command {
        PluginCommand::New(a) => new(a),
        PluginCommand::Build(a) => build(a),
        PluginCommand::Test(a) => test(a),
        PluginCommand::Inspect(a) => inspect(a),
    }
}

fn new(a: NewArgs) -> Result<()> {
    let dir = a.dir.unwrap_or_else(|| PathBuf::from(&a.name));
    let sdk = SdkSource::locate(
        a.sdk_path.as_deref(),
        a.sdk_git.as_deref(),
        a.sdk_rev.as_deref(),
    )?;
    let made = scaffold(&a.name, &dir, &sdk)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "created detector `{}` in {}",
        a.name,
        made.dir.display()
    )?;
    for f in &made.files {
        writeln!(out, "  {}", f.display())?;
    }
    writeln!(out, "SDK: {}", sdk.dependency())?;
    let d = made.dir.display();
    writeln!(
        out,
        "\nnext:\n  cd {d} && cargo test\n  ueba plugin build {d}\n  ueba plugin test <the .wasm build printed> --events {d}/sample.jsonl --expect {d}/expected.jsonl"
    )?;
    Ok(())
}

fn build(a: BuildArgs) -> Result<()> {
    let path = a.path.unwrap_or_else(|| PathBuf::from("."));
    let is_wasm = path.is_file() && path.extension().is_some_and(|x| x == "wasm");
    let (component, out) = if is_wasm {
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let component = componentize(&path, &bytes)?;
        let out = match a.out {
            Some(o) => Some(o),
            None if component != bytes => Some(path.with_extension("component.wasm")),
            None => None,
        };
        (component, out)
    } else {
        let built = cargo_build(&manifest_for(&path))?;
        let bytes = std::fs::read(&built.module)
            .with_context(|| format!("reading {}", built.module.display()))?;
        let component = componentize(&built.module, &bytes)?;
        (component, Some(a.out.unwrap_or(built.default_out)))
    };
    let shown = out.clone().unwrap_or_else(|| path.clone());
    let runtime = runtime_for(&load_config(None)?)?;
    let checked = check(&runtime, &shown, &component)?;
    if let Some(out) = &out {
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(out, &component).with_context(|| format!("writing {}", out.display()))?;
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "built {}", shown.display())?;
    describe(&mut stdout, &shown, &checked, true)?;
    Ok(())
}

/// The lines `build` and `inspect` share: what the plugin is and how to pin it.
fn describe(out: &mut impl Write, path: &Path, c: &Checked, file_lines: bool) -> Result<()> {
    let i = &c.info;
    writeln!(
        out,
        "  detector  {} {}: {}",
        i.name, i.version, i.description
    )?;
    writeln!(
        out,
        "  contract  {} (this host supports {})",
        i.contract,
        SUPPORTED_CONTRACTS.join(", ")
    )?;
    if file_lines {
        writeln!(out, "  size      {} bytes", c.size)?;
        writeln!(out, "  sha256    {}", c.sha256)?;
    }
    if i.config.is_empty() {
        writeln!(out, "  config    (no keys)")?;
    } else {
        writeln!(out, "  config    [detectors.{}]", i.name)?;
        let width = i
            .config
            .iter()
            .map(|(k, d, _)| k.len() + d.len())
            .max()
            .unwrap_or(0)
            + 3;
        for (key, default, description) in &i.config {
            let kv = format!("{key} = {default}");
            writeln!(out, "    {kv:<width$}  # {description}")?;
        }
    }
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    writeln!(out, "  pin       [pins] \"{file}\" = \"{}\"", c.sha256)?;
    Ok(())
}

fn inspect(a: InspectArgs) -> Result<()> {
    let bytes =
        std::fs::read(&a.plugin).with_context(|| format!("reading {}", a.plugin.display()))?;
    let surface = Surface::read(&a.plugin, &bytes)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", a.plugin.display())?;
    let contracts = surface.contracts();
    writeln!(
        out,
        "  contract  {}",
        if contracts.is_empty() {
            "none (exports no ueba:detector/detector interface)".to_string()
        } else {
            contracts.join(", ")
        }
    )?;
    let list = |v: &[String]| {
        if v.is_empty() {
            "(none)".to_string()
        } else {
            v.join(", ")
        }
    };
    writeln!(out, "  exports   {}", list(&surface.exports))?;
    writeln!(out, "  imports   {}", list(&surface.imports))?;
    writeln!(out, "  size      {} bytes", bytes.len())?;
    writeln!(out, "  sha256    {}", sha256_hex(&bytes))?;
    out.flush()?;
    let runtime = runtime_for(&load_config(None)?)?;
    let checked = check(&runtime, &a.plugin, &bytes)
        .with_context(|| format!("{} does not load in this host", a.plugin.display()))?;
    writeln!(out, "  loads     yes")?;
    describe(&mut out, &a.plugin, &checked, false)?;
    Ok(())
}

fn test(a: TestArgs) -> Result<()> {
    let cfg = load_config(a.config.as_deref())?;
    let identities = match &a.identities {
        Some(p) => Identities::load(p)?,
        None => Identities::default(),
    };
    let bytes =
        std::fs::read(&a.plugin).with_context(|| format!("reading {}", a.plugin.display()))?;
    let events = harness::read_events(&a.events, a.format, &cfg)?;
    let runtime = runtime_for(&cfg)?;
    let outcome = harness::run(
        &runtime,
        &a.plugin.display().to_string(),
        &bytes,
        &cfg,
        identities,
        events,
    )?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} {}: {} findings from {} events in {} batches",
        outcome.info.name,
        outcome.info.version,
        outcome.findings.len(),
        outcome.events,
        outcome.batches
    )?;
    write!(out, "{}", table(&outcome.findings))?;
    let per_event = outcome.observing.as_secs_f64() * 1e6 / outcome.events.max(1) as f64;
    writeln!(
        out,
        "pace: {per_event:.2} µs an event in observe; {} of {} batches slower than the host allows (longest run {}, {} in a row quarantine)",
        outcome.slow_batches, outcome.batches, outcome.slow_run, cfg.sandbox.max_slow_batches,
    )?;
    let Some(expect) = &a.expect else {
        return Ok(());
    };
    if a.bless {
        std::fs::write(expect, to_jsonl(&outcome.findings))
            .with_context(|| format!("writing {}", expect.display()))?;
        writeln!(
            out,
            "wrote {} findings to {}",
            outcome.findings.len(),
            expect.display()
        )?;
        return Ok(());
    }
    let text = std::fs::read_to_string(expect)
        .with_context(|| format!("reading {} (create it with --bless)", expect.display()))?;
    match compare(expect, &text, &outcome.findings)? {
        None => {
            writeln!(out, "ok: the findings match {}", expect.display())?;
            Ok(())
        }
        Some(diff) => {
            write!(out, "\n{diff}")?;
            out.flush()?;
            let (missing, unexpected) = diff.counts();
            bail!(
                "the findings differ from {}: {missing} expected findings not found, {unexpected} found but not expected; if the change is intended, rerun with --bless",
                expect.display()
            )
        }
    }
}

/// The findings as an aligned table, one line each.
fn table(findings: &[Record]) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    if findings.is_empty() {
        return s;
    }
    let _ = writeln!(
        s,
        "{:>6}  {:<24}  {:<12}  {:>5}  {:<20}  reason",
        "event", "time", "user", "score", "resource"
    );
    for f in findings {
        let _ = writeln!(
            s,
            "{:>6}  {:<24}  {:<12}  {:>5.1}  {:<20}  {}",
            f.event,
            f.time,
            clip(&f.user, 12),
            f.score,
            clip(&f.resource, 20),
            f.reason
        );
    }
    s
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n.saturating_sub(1)).chain(['…']).collect()
    }
}
