//! Holds a detector with its symbol table, and owns its snapshot format.
//!
//! The WebAssembly glue and native tests drive a detector through the same
//! [`Runtime`], so what a unit test checks is what runs in the sandbox.

use crate::{ConfigError, Detector, Event, Finding, Symbols};

const MAGIC: &[u8; 8] = b"UEBASNAP";
/// Format 2 adds the detector's version after its name; format 1 snapshots
/// (without it) are still read.
const FORMAT: u16 = 2;
/// The header of a population share: this, then the detector's name
/// (u16 length, bytes), then the detector's own encoding.
const POPULATION_MAGIC: &[u8; 8] = b"UEBAPOPU";

/// Why a snapshot could not be restored. A failed restore leaves the
/// detector's state as it was, so the host can fall back to a fresh start.
///
/// ```
/// use ueba_sdk::{Runtime, SnapshotError};
/// # #[derive(Default, serde::Serialize, serde::Deserialize)]
/// # struct Quiet;
/// # impl ueba_sdk::Detector for Quiet {
/// #     fn info() -> ueba_sdk::Info {
/// #         ueba_sdk::Info { name: "quiet", version: "0", description: "", config: vec![] }
/// #     }
/// #     fn observe(&mut self, _: &ueba_sdk::Symbols, _: &[ueba_sdk::Event], _: &mut Vec<ueba_sdk::Finding>) {}
/// # }
/// let mut rt = Runtime::<Quiet>::default();
/// assert_eq!(rt.restore(b"not a snapshot"), Err(SnapshotError::NotASnapshot));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotError {
    /// The bytes do not start with the snapshot header.
    NotASnapshot,
    /// Written by a newer or older SDK snapshot format.
    UnsupportedFormat(u16),
    /// Written by another detector.
    WrongDetector {
        /// This detector's name.
        expected: String,
        /// The name in the snapshot.
        found: String,
    },
    /// The header is right but the state does not decode.
    Corrupt(String),
    /// The restored state refused this runtime's configuration: a change
    /// its learned state cannot follow, such as the prefix by which
    /// networks were learned.
    Config(String),
    /// Written by another version of this detector whose state this one
    /// does not read (its state's layout changed): the usual case after an
    /// upgrade, and no sign of damage.
    OtherVersion {
        /// The version that wrote the snapshot; `None` for snapshots from
        /// before versions were recorded (format 1).
        saved: Option<String>,
        /// This detector's version.
        running: String,
        /// What failed to decode.
        detail: String,
    },
}

impl std::fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SnapshotError::NotASnapshot => write!(f, "not a ueba detector snapshot"),
            SnapshotError::UnsupportedFormat(v) => {
                write!(
                    f,
                    "snapshot format {v} is not supported (this SDK writes {FORMAT})"
                )
            }
            SnapshotError::WrongDetector { expected, found } => {
                write!(f, "snapshot is of detector `{found}`, not `{expected}`")
            }
            SnapshotError::Corrupt(m) => write!(f, "snapshot is corrupt: {m}"),
            SnapshotError::Config(m) => {
                write!(f, "the restored state refused the configuration: {m}")
            }
            SnapshotError::OtherVersion {
                saved: Some(saved),
                running,
                detail,
            } => write!(
                f,
                "snapshot was written by version {saved}, whose state version {running} does not read ({detail})"
            ),
            SnapshotError::OtherVersion {
                saved: None,
                running,
                detail,
            } => write!(
                f,
                "snapshot was written by a version before {running} that did not record itself, and its state does not read as {running}'s ({detail})"
            ),
        }
    }
}

impl std::error::Error for SnapshotError {}

/// A detector plus everything the SDK keeps for it: the symbol table and
/// the snapshot format.
///
/// In the sandbox the export glue drives it; in native tests you drive it
/// the same way (insert symbols, configure, observe, snapshot, restore),
/// so a unit test checks exactly what runs in the plugin.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use ueba_sdk::{Detector, Event, Finding, Info, Runtime, SymbolKind, Symbols};
///
/// /// Counts events per user and flags every 100th.
/// #[derive(Default, Serialize, Deserialize)]
/// struct Every100 {
///     seen: Vec<u64>,
/// }
///
/// impl Detector for Every100 {
///     fn info() -> Info {
///         Info { name: "every-100", version: "0.1.0", description: "every 100th event", config: vec![] }
///     }
///     fn observe(&mut self, symbols: &Symbols, events: &[Event], out: &mut Vec<Finding>) {
///         for e in events {
///             let i = e.user as usize;
///             if self.seen.len() <= i {
///                 self.seen.resize(i + 1, 0);
///             }
///             self.seen[i] += 1;
///             if self.seen[i] % 100 == 0 {
///                 out.push(Finding::new(e.seq, 10.0, format!("{}'s 100th", symbols.user(e.user))));
///             }
///         }
///     }
/// }
///
/// let mut rt = Runtime::<Every100>::default();
/// rt.symbols_mut().insert(SymbolKind::User, 0, "alice");
/// let events: Vec<Event> = (0..150).map(|seq| Event { seq, ..Event::default() }).collect();
/// let found = rt.observe(&events[..120]);
/// assert_eq!(found[0].reason, "alice's 100th");
///
/// // A fresh instance restored from a snapshot carries on identically.
/// let mut restored = Runtime::<Every100>::default();
/// restored.restore(&rt.snapshot()).unwrap();
/// assert_eq!(restored.detector().seen, rt.detector().seen);
/// assert_eq!(restored.symbols().user(0), "alice");
/// assert_eq!(restored.observe(&events[120..]), rt.observe(&events[120..]));
/// ```
#[derive(Default)]
pub struct Runtime<D: Detector> {
    symbols: Symbols,
    detector: D,
    /// The configuration pairs accepted so far, in order: applied again to
    /// a restored state, so the operator's configuration now wins over the
    /// one the snapshot was taken under.
    configured: Vec<(String, String)>,
}

impl<D: Detector> Runtime<D> {
    /// Wrap an already-built detector.
    pub fn new(detector: D) -> Self {
        Runtime {
            symbols: Symbols::default(),
            detector,
            configured: Vec::new(),
        }
    }

    /// The detector, e.g. to inspect its state in a test.
    pub fn detector(&self) -> &D {
        &self.detector
    }

    /// The symbols received so far.
    pub fn symbols(&self) -> &Symbols {
        &self.symbols
    }

    /// Add symbols, as the host does before the events that use them.
    pub fn symbols_mut(&mut self) -> &mut Symbols {
        &mut self.symbols
    }

    /// Apply configuration pairs in order; stops at the first refused key.
    pub fn configure<'a>(
        &mut self,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), ConfigError> {
        for (k, v) in pairs {
            self.detector.configure(k, v)?;
            self.configured.push((k.to_string(), v.to_string()));
        }
        Ok(())
    }

    /// Observe a batch and return the findings.
    pub fn observe(&mut self, events: &[Event]) -> Vec<Finding> {
        let mut out = Vec::new();
        self.detector.observe(&self.symbols, events, &mut out);
        out
    }

    /// Serialise the detector and its symbols, after a header naming the
    /// detector and its version.
    ///
    /// The state is measured first and written once into a buffer of its
    /// exact size: a detector near its memory limit (a few hundred bytes
    /// per user × resource pair on a log of documents) needs room for one
    /// copy of its state to be snapshotted, not the three or four that a
    /// growing buffer and a second copy took, which ran it out of memory.
    pub fn snapshot(&self) -> Vec<u8> {
        let info = D::info();
        let mut header = Vec::with_capacity(64);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&FORMAT.to_le_bytes());
        for field in [info.name, info.version] {
            let field = &field.as_bytes()[..field.len().min(usize::from(u16::MAX))];
            header.extend_from_slice(&(field.len() as u16).to_le_bytes());
            header.extend_from_slice(field);
        }
        let body = (&self.symbols, &self.detector);
        let size = postcard::serialize_with_flavor::<_, _, usize>(
            &body,
            postcard::ser_flavors::Size::default(),
        )
        .unwrap_or(0);
        let mut out = Vec::with_capacity(header.len() + size);
        out.extend_from_slice(&header);
        // Serialising plain data cannot fail; an error here would mean a
        // detector type whose serde impl itself errors, which is a bug in
        // that detector, so fall back to an empty (header-only) state.
        postcard::to_extend(&body, out).unwrap_or(header)
    }

    /// Replace state with a snapshot taken by [`Runtime::snapshot`] (this
    /// format or format 1). A snapshot of another version of the detector
    /// is carried over by [`Detector::upgrade`] if the detector knows that
    /// version's layout, else read if its state still decodes; otherwise
    /// the error says which version wrote it
    /// ([`SnapshotError::OtherVersion`]).
    ///
    /// The restored detector is configured as this runtime was, not as the
    /// snapshot's was: each key [`Detector::info`] declares, in its order,
    /// at the value last given to [`Runtime::configure`], else at its
    /// default. A run resumed with a changed configuration therefore uses
    /// it, learned state and all, and a key no longer set is back at its
    /// default. A detector may refuse a change its learned state cannot
    /// follow (the restore then fails with [`SnapshotError::Config`] and
    /// the host starts it afresh), so it must accept a key set to the value
    /// it already has.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        let rest = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or(SnapshotError::NotASnapshot)?;
        let (fmt, rest) = split_u16(rest).ok_or(SnapshotError::NotASnapshot)?;
        if fmt != FORMAT && fmt != 1 {
            return Err(SnapshotError::UnsupportedFormat(fmt));
        }
        let (name, rest) = split_field(rest)?;
        let info = D::info();
        if name != info.name.as_bytes() {
            return Err(SnapshotError::WrongDetector {
                expected: info.name.to_string(),
                found: String::from_utf8_lossy(name).into_owned(),
            });
        }
        let (saved, body) = if fmt == 1 {
            (None, rest)
        } else {
            let (version, body) = split_field(rest)?;
            (Some(String::from_utf8_lossy(version).into_owned()), body)
        };
        let upgraded = if saved.as_deref() == Some(info.version) {
            None
        } else {
            D::upgrade(saved.as_deref(), body)
        };
        let (symbols, mut detector) = match upgraded {
            Some(state) => state,
            None => postcard::from_bytes::<(Symbols, D)>(body).map_err(|e| {
                if saved.as_deref() == Some(info.version) {
                    SnapshotError::Corrupt(e.to_string())
                } else {
                    SnapshotError::OtherVersion {
                        saved: saved.clone(),
                        running: info.version.to_string(),
                        detail: e.to_string(),
                    }
                }
            })?,
        };
        // Each declared key once, in declared order, at its value now: the
        // last one configured, else its default. Once, because a detector
        // may refuse to change a key its learned state depends on, and a
        // default applied on the way to the configured value would be such
        // a change.
        for key in &info.config {
            let value = self
                .configured
                .iter()
                .rev()
                .find(|(k, _)| k == key.name)
                .map_or(key.default, |(_, v)| v.as_str());
            detector
                .configure(key.name, value)
                .map_err(|e| SnapshotError::Config(e.to_string()))?;
        }
        self.symbols = symbols;
        self.detector = detector;
        Ok(())
    }
}

/// Read the body of a snapshot an earlier version of a detector wrote as
/// its symbols and state `T`: `T` is that version's layout, declared by
/// the detector in [`Detector::upgrade`](crate::Detector::upgrade). `None`
/// if the body is not of that layout.
pub fn decode_state<T: serde::de::DeserializeOwned>(state: &[u8]) -> Option<(Symbols, T)> {
    postcard::from_bytes(state).ok()
}

/// Why the population shares given to [`Runtime::absorb`] were refused;
/// the detector's state is left as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PopulationError(pub String);

impl std::fmt::Display for PopulationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PopulationError {}

impl<D: Detector> Runtime<D> {
    /// The detector's own population share with a header naming it, or
    /// nothing when it shares none ([`Detector::population`]).
    pub fn population(&self) -> Vec<u8> {
        let body = self.detector.population();
        if body.is_empty() {
            return body;
        }
        let name = D::info().name.as_bytes();
        let mut out = Vec::with_capacity(body.len() + 10 + name.len());
        out.extend_from_slice(POPULATION_MAGIC);
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(&body);
        out
    }

    /// Hand the detector the other instances' shares ([`Detector::absorb`]).
    /// Empty shares (instances that have nothing yet) are passed over; a
    /// share without this detector's header is refused before the detector
    /// sees any of them.
    pub fn absorb<B: AsRef<[u8]>>(&mut self, others: &[B]) -> Result<(), PopulationError> {
        let expected = D::info().name;
        let mut bodies = Vec::with_capacity(others.len());
        for (i, share) in others.iter().map(AsRef::as_ref).enumerate() {
            if share.is_empty() {
                continue;
            }
            let refused = |why: &str| PopulationError(format!("population share {i}: {why}"));
            let rest = share
                .strip_prefix(POPULATION_MAGIC.as_slice())
                .ok_or_else(|| refused("not a ueba population share"))?;
            let (len, rest) = split_u16(rest).ok_or_else(|| refused("truncated header"))?;
            let (name, body) = rest
                .split_at_checked(usize::from(len))
                .ok_or_else(|| refused("truncated header"))?;
            if name != expected.as_bytes() {
                return Err(refused(&format!(
                    "it is of detector `{}`, not `{expected}`",
                    String::from_utf8_lossy(name)
                )));
            }
            bodies.push(body);
        }
        self.detector.absorb(&bodies).map_err(PopulationError)
    }
}

fn split_u16(b: &[u8]) -> Option<(u16, &[u8])> {
    let (head, rest) = b.split_first_chunk::<2>()?;
    Some((u16::from_le_bytes(*head), rest))
}

/// A header field: its u16 length, then its bytes.
fn split_field(b: &[u8]) -> Result<(&[u8], &[u8]), SnapshotError> {
    let (len, rest) = split_u16(b).ok_or(SnapshotError::NotASnapshot)?;
    let len = usize::from(len);
    if rest.len() < len {
        return Err(SnapshotError::Corrupt("truncated header".into()));
    }
    Ok(rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Info, SymbolKind};
    use serde::{Deserialize, Serialize};

    #[derive(Default, Serialize, Deserialize)]
    struct Counter {
        seen: u64,
    }

    impl Detector for Counter {
        fn info() -> Info {
            Info {
                name: "counter",
                version: "0",
                description: "counts",
                config: vec![],
            }
        }
        fn observe(&mut self, _: &Symbols, events: &[Event], out: &mut Vec<Finding>) {
            for e in events {
                self.seen += 1;
                if self.seen.is_multiple_of(3) {
                    out.push(Finding::new(e.seq, self.seen as f32, "every third"));
                }
            }
        }
    }

    #[test]
    fn snapshot_round_trip_gives_same_findings() {
        let events: Vec<Event> = (0..10)
            .map(|i| Event {
                seq: i,
                ..Event::default()
            })
            .collect();
        let mut a = Runtime::<Counter>::default();
        a.symbols_mut().insert(SymbolKind::User, 0, "alice");
        a.observe(&events[..4]);
        let mut b = Runtime::<Counter>::default();
        b.restore(&a.snapshot()).unwrap();
        assert_eq!(b.symbols().user(0), "alice");
        assert_eq!(a.observe(&events[4..]), b.observe(&events[4..]));
    }

    #[test]
    fn foreign_and_corrupt_snapshots_are_refused() {
        let mut rt = Runtime::<Counter>::default();
        assert_eq!(rt.restore(b"garbage"), Err(SnapshotError::NotASnapshot));
        let mut snap = rt.snapshot();
        snap[8] = 9;
        assert_eq!(rt.restore(&snap), Err(SnapshotError::UnsupportedFormat(9)));
        let mut snap = rt.snapshot();
        snap[12..19].copy_from_slice(b"volume_");
        assert!(matches!(
            rt.restore(&snap),
            Err(SnapshotError::WrongDetector { .. })
        ));
        let mut snap = rt.snapshot();
        snap.truncate(snap.len() - 1);
        assert!(matches!(rt.restore(&snap), Err(SnapshotError::Corrupt(_))));
    }

    /// A snapshot's header as format 1 wrote it (no version), or as
    /// format 2 with `version`, then `body`.
    fn with_header(version: Option<&str>, body: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&(if version.is_some() { 2u16 } else { 1 }).to_le_bytes());
        for field in std::iter::once("counter").chain(version) {
            out.extend_from_slice(&(field.len() as u16).to_le_bytes());
            out.extend_from_slice(field.as_bytes());
        }
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn snapshots_of_other_versions_are_read_or_named() {
        let mut a = Runtime::<Counter>::default();
        a.observe(&[Event::default(), Event::default()]);
        let body = postcard::to_allocvec(&(a.symbols(), a.detector())).unwrap();
        // Format 1, and another version whose state still decodes: read.
        let mut b = Runtime::<Counter>::default();
        b.restore(&with_header(None, &body)).unwrap();
        assert_eq!(b.detector().seen, 2);
        let mut c = Runtime::<Counter>::default();
        c.restore(&with_header(Some("0.9.0"), &body)).unwrap();
        assert_eq!(c.detector().seen, 2);
        // Another version whose state does not decode: named, not called
        // corrupt; this version's own undecodable state is corrupt.
        let err = c.restore(&with_header(Some("0.9.0"), &[0xff])).unwrap_err();
        assert!(
            matches!(err, SnapshotError::OtherVersion { saved: Some(ref v), .. } if v == "0.9.0")
        );
        assert!(
            err.to_string().contains("written by version 0.9.0"),
            "{err}"
        );
        let err = c.restore(&with_header(None, &[0xff])).unwrap_err();
        assert!(
            matches!(err, SnapshotError::OtherVersion { saved: None, .. }),
            "{err}"
        );
        let own = Counter::info().version;
        assert!(matches!(
            c.restore(&with_header(Some(own), &[0xff])),
            Err(SnapshotError::Corrupt(_))
        ));
        assert_eq!(
            c.detector().seen,
            2,
            "a refused snapshot leaves the state as it was"
        );
    }

    /// Counts events per instance and shares the count, summing others'.
    #[derive(Default, Serialize, Deserialize)]
    struct Census {
        own: u64,
        others: u64,
    }

    impl Detector for Census {
        fn info() -> Info {
            Info {
                name: "census",
                version: "0",
                description: "counts everyone",
                config: vec![],
            }
        }
        fn observe(&mut self, _: &Symbols, events: &[Event], _: &mut Vec<Finding>) {
            self.own += events.len() as u64;
        }
        fn population(&self) -> Vec<u8> {
            crate::population::encode(&self.own)
        }
        fn absorb(&mut self, others: &[&[u8]]) -> Result<(), String> {
            let mut sum = 0u64;
            for o in others {
                sum += crate::population::decode::<u64>(o)?;
            }
            self.others = sum;
            Ok(())
        }
    }

    #[test]
    fn population_shares_go_between_instances_of_one_detector_only() {
        let events = vec![Event::default(); 3];
        let mut a = Runtime::<Census>::default();
        let mut b = Runtime::<Census>::default();
        a.observe(&events);
        b.observe(&events[..1]);
        // Absorbing replaces: the same share twice counts once.
        for _ in 0..2 {
            b.absorb(&[a.population()]).unwrap();
        }
        assert_eq!((b.detector().own, b.detector().others), (1, 3));
        // A detector that shares nothing sends nothing, and nothing is skipped.
        assert!(Runtime::<Counter>::default().population().is_empty());
        b.absorb(&[Vec::new()]).unwrap();
        assert_eq!(b.detector().others, 0);
        // Another detector's share, or garbage, is refused and changes nothing.
        b.absorb(&[a.population()]).unwrap();
        let mut foreign = a.population();
        foreign[10..16].copy_from_slice(b"volume");
        let err = b.absorb(&[foreign]).unwrap_err();
        assert!(err.0.contains("detector `volume`"), "{err}");
        assert!(b.absorb(&[b"junk".to_vec()]).is_err());
        assert_eq!(b.detector().others, 3);
    }

    #[test]
    fn unknown_config_key_is_refused() {
        let mut rt = Runtime::<Counter>::default();
        assert_eq!(
            rt.configure([("nope", "1")]),
            Err(ConfigError::UnknownKey("nope".into()))
        );
    }

    /// A detector with a setting and a layout that changed: version 2.0.0
    /// keeps `seen` as a u64 and `every` as its setting; 1.0.0 kept the
    /// count as a u8 and no setting.
    #[derive(Default, Serialize, Deserialize)]
    struct Every {
        every: u64,
        seen: u64,
    }

    #[derive(Serialize, Deserialize)]
    struct EveryV1 {
        seen: u8,
    }

    impl Detector for Every {
        fn info() -> Info {
            Info {
                name: "counter",
                version: "2.0.0",
                description: "every n-th event",
                config: vec![crate::ConfigKey {
                    name: "every",
                    default: "3",
                    description: "which events to report",
                }],
            }
        }
        fn configure(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
            match key {
                "every" => self.every = crate::config::parse_in_range(key, value, 1.0, 1e9)? as u64,
                _ => return Err(ConfigError::UnknownKey(key.into())),
            }
            Ok(())
        }
        fn observe(&mut self, _: &Symbols, events: &[Event], out: &mut Vec<Finding>) {
            for e in events {
                self.seen += 1;
                if self.seen.is_multiple_of(self.every) {
                    out.push(Finding::new(e.seq, 1.0, "n-th"));
                }
            }
        }
        fn upgrade(version: Option<&str>, state: &[u8]) -> Option<(Symbols, Self)> {
            if version != Some("1.0.0") {
                return None;
            }
            let (symbols, old): (Symbols, EveryV1) = decode_state(state)?;
            Some((
                symbols,
                Every {
                    every: 0,
                    seen: u64::from(old.seen),
                },
            ))
        }
    }

    fn configured(pairs: &[(&str, &str)]) -> Runtime<Every> {
        let mut rt = Runtime::<Every>::default();
        rt.configure(Every::info().config.iter().map(|k| (k.name, k.default)))
            .unwrap();
        rt.configure(pairs.iter().copied()).unwrap();
        rt
    }

    #[test]
    fn a_restored_state_takes_the_configuration_of_now_not_of_the_snapshot() {
        let mut before = configured(&[("every", "5")]);
        before.observe(&[Event::default(); 7]);
        // Resumed with another setting: it applies from the next event.
        let mut now = configured(&[("every", "2")]);
        now.restore(&before.snapshot()).unwrap();
        assert_eq!((now.detector().seen, now.detector().every), (7, 2));
        assert_eq!(
            now.observe(&[Event::default()]).len(),
            1,
            "the 8th of every 2"
        );
        // Resumed without setting it: back at the default, not the 5 the
        // snapshot was taken under.
        let mut plain = configured(&[]);
        plain.restore(&before.snapshot()).unwrap();
        assert_eq!(plain.detector().every, 3);
    }

    #[test]
    fn an_earlier_layout_is_carried_over_by_upgrade() {
        let mut symbols = Symbols::default();
        symbols.insert(SymbolKind::User, 0, "alice");
        let body = postcard::to_allocvec(&(&symbols, EveryV1 { seen: 200 })).unwrap();
        let mut rt = configured(&[("every", "4")]);
        rt.restore(&with_header(Some("1.0.0"), &body)).unwrap();
        assert_eq!(rt.detector().seen, 200);
        assert_eq!(rt.detector().every, 4, "configured as the runtime is");
        assert_eq!(rt.symbols().user(0), "alice");
        // A version the detector does not know: named, and nothing changes.
        let err = rt
            .restore(&with_header(Some("0.5.0"), &[0xff]))
            .unwrap_err();
        assert!(matches!(err, SnapshotError::OtherVersion { .. }), "{err}");
        assert_eq!(rt.detector().seen, 200);
    }
}
