//! Alerts as ArcSight CEF lines, to a file or to a syslog receiver.
//!
//! `CEF:0|ueba|ueba|<version>|<detector>|<reason>|<severity>|<extension>`
//! where the signature id is the strongest finding's detector, the name its
//! reason, and the severity the risk divided by ten (0-10). The extension:
//! `rt` (epoch ms), `suser`, `cn1Label=risk cn1` (the risk rounded, as
//! `cnN` are integers) and `cfp1Label=risk cfp1` (exact), `cn2Label=threshold`,
//! `cs1Label=findings cs1` (the findings as JSON: the evidence),
//! `cs2Label=peerGroup`, `cs3Label=alertKind`, `cs4Label=alertId`,
//! `cs5Label=incident` (the alert's incident, so a SIEM can group an
//! episode's alerts as ECS and OCSF receivers do), `msg` and
//! `cat=insider-risk`. ArcSight truncates `csN` at 4000 characters; ueba
//! does not, so other receivers keep the whole evidence.
//!
//! Syslog delivery wraps each line in an RFC 5424 header (facility 13, log
//! audit; severity 2 from risk 90, 3 from 70, else 4) and sends one UDP
//! datagram per alert (its findings cut, and `cs6Label=findingsCut` added,
//! when the message would not fit in one: [`line_within`]), or over TCP with RFC 6587 octet counting
//! (`<length> <message>`), so receivers need no newline framing.

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::time::Duration;

use super::{SinkError, alert_ms, alert_uid, headline};
use ueba_engine::pipeline::AlertSink;
use ueba_engine::risk::aggregate::Alert;
use ueba_engine::sandbox::gate::is_unsafe_char;

/// How long a TCP connect or write to the syslog receiver may take.
pub const SYSLOG_TIMEOUT: Duration = Duration::from_secs(10);

/// Escape a CEF header field: `\` and `|`; line breaks become spaces;
/// other control and invisible characters are written as `\\u{..}` (an
/// escaped backslash, so a CEF parser reads the visible text).
pub fn escape_header(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '\n' | '\r' => out.push(' '),
            c if is_unsafe_char(c) => push_visible(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

/// `c` as the text `\u{..}` with its backslash escaped for CEF.
fn push_visible(out: &mut String, c: char) {
    use std::fmt::Write as _;
    let _ = write!(out, "\\\\u{{{:x}}}", c as u32);
}

/// Escape a CEF extension value: `\`, `=`, and line breaks as `\n`, `\r`;
/// other control and invisible characters as for [`escape_header`].
pub fn escape_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if is_unsafe_char(c) => push_visible(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

/// CEF severity (0-10) of a 0-100 risk.
pub fn severity(score: f64) -> u8 {
    (score / 10.0).round().clamp(0.0, 10.0) as u8
}

/// The alert as one CEF line (no newline).
pub fn line(alert: &Alert) -> String {
    line_within(alert, usize::MAX)
}

/// The largest UDP payload over IPv4 (65,535 less the IP and UDP
/// headers): a longer syslog message cannot be sent as one datagram at all.
pub const MAX_UDP_MESSAGE: usize = 65_507;

/// The alert as one CEF line of at most `max` bytes. The findings (`cs1`,
/// the evidence, nearly all of a large alert: escaping can make a field of
/// control characters seven times its size) are cut short where needed,
/// at a whole character of their JSON, and the line then says so with
/// `cs6Label=findingsCut cs6=<their full length in bytes>`. The rest of
/// an alert is bounded by the gate's limits and never cut, so the line
/// may still exceed a `max` smaller than those fields.
pub fn line_within(alert: &Alert, max: usize) -> String {
    let findings = serde_json::to_string(&alert.findings).unwrap_or_default();
    let full = build(alert, &findings, None);
    if full.len() <= max {
        return full;
    }
    // The longest prefix of the findings, ending at a whole character,
    // whose line fits: the line grows with the prefix, so a binary search
    // over the characters' ends finds it.
    let cut = Some(findings.len());
    let ends: Vec<usize> = findings
        .char_indices()
        .map(|(i, _)| i)
        .chain([findings.len()])
        .collect();
    let fitting = ends.partition_point(|&end| build(alert, &findings[..end], cut).len() <= max);
    let end = ends[fitting.saturating_sub(1)];
    build(alert, &findings[..end], cut)
}

fn build(alert: &Alert, findings: &str, cut_from: Option<usize>) -> String {
    let (detector, reason) = headline(alert);
    let mut ext = vec![
        format!("rt={}", alert_ms(alert)),
        format!("suser={}", escape_value(&alert.user)),
        format!("cn1Label=risk cn1={}", alert.score.round() as i64),
        format!("cfp1Label=risk cfp1={}", alert.score),
        format!("cn2Label=threshold cn2={}", alert.threshold.round() as i64),
        format!("cs3Label=alertKind cs3={}", escape_value(alert.kind)),
        format!("cs4Label=alertId cs4={}", alert_uid(alert)),
        format!("cs5Label=incident cs5={}", escape_value(&alert.incident)),
        "cat=insider-risk".to_string(),
        format!("msg={}", escape_value(reason)),
    ];
    if let Some(p) = &alert.peer_group {
        ext.push(format!("cs2Label=peerGroup cs2={}", escape_value(p)));
    }
    if let Some(n) = cut_from {
        ext.push(format!("cs6Label=findingsCut cs6={n}"));
    }
    ext.push(format!("cs1Label=findings cs1={}", escape_value(findings)));
    format!(
        "CEF:0|ueba|ueba|{}|{}|{}|{}|{}",
        escape_header(super::VERSION),
        escape_header(detector),
        escape_header(reason),
        severity(alert.score),
        ext.join(" ")
    )
}

/// Writes CEF lines.
pub struct CefLines<W: Write>(pub W);

impl<W: Write> AlertSink for CefLines<W> {
    fn emit(&mut self, alert: &Alert) -> std::io::Result<()> {
        self.0.write_all(line(alert).as_bytes())?;
        self.0.write_all(b"\n")
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

enum Transport {
    Udp(UdpSocket),
    Tcp(TcpStream),
}

/// Sends CEF lines to a syslog receiver over UDP or TCP.
pub struct Syslog {
    addr: String,
    host: String,
    transport: Transport,
}

impl Syslog {
    /// Connect to `url`: `udp://host:port` or `tcp://host:port`.
    pub fn connect(url: &str, host: String) -> Result<Self, SinkError> {
        let bad = || {
            SinkError::Address(format!(
                "--syslog `{url}` must be udp://host:port or tcp://host:port"
            ))
        };
        let (scheme, addr) = url.split_once("://").ok_or_else(bad)?;
        let target = addr
            .to_socket_addrs()
            .map_err(|_| bad())?
            .next()
            .ok_or_else(bad)?;
        let io = |source| SinkError::Syslog {
            addr: addr.to_string(),
            source,
        };
        let transport = match scheme {
            "udp" => {
                let local = if target.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                };
                let s = UdpSocket::bind(local).map_err(io)?;
                s.connect(target).map_err(io)?;
                Transport::Udp(s)
            }
            "tcp" => {
                let s = TcpStream::connect_timeout(&target, SYSLOG_TIMEOUT).map_err(io)?;
                s.set_write_timeout(Some(SYSLOG_TIMEOUT)).map_err(io)?;
                Transport::Tcp(s)
            }
            _ => return Err(bad()),
        };
        Ok(Syslog {
            addr: addr.to_string(),
            host,
            transport,
        })
    }

    /// The RFC 5424 message for one alert.
    pub fn message(alert: &Alert, host: &str) -> String {
        let head = Syslog::header(alert, host);
        format!("{head}{}", line(alert))
    }

    /// The RFC 5424 message for one alert in at most `max` bytes, its
    /// findings cut where needed ([`line_within`]).
    pub fn message_within(alert: &Alert, host: &str, max: usize) -> String {
        let head = Syslog::header(alert, host);
        let body = line_within(alert, max.saturating_sub(head.len()));
        format!("{head}{body}")
    }

    fn header(alert: &Alert, host: &str) -> String {
        let sev = match alert.score {
            s if s >= 90.0 => 2,
            s if s >= 70.0 => 3,
            _ => 4,
        };
        format!(
            "<{}>1 {} {} ueba {} alert - ",
            13 * 8 + sev,
            alert.time,
            if host.is_empty() { "-" } else { host },
            std::process::id(),
        )
    }
}

impl AlertSink for Syslog {
    fn emit(&mut self, alert: &Alert) -> std::io::Result<()> {
        let sent = match &mut self.transport {
            Transport::Udp(s) => {
                let msg = Syslog::message_within(alert, &self.host, MAX_UDP_MESSAGE);
                s.send(msg.as_bytes()).map(|_| ())
            }
            Transport::Tcp(s) => {
                let msg = Syslog::message(alert, &self.host);
                s.write_all(format!("{} {msg}", msg.len()).as_bytes())
            }
        };
        sent.map_err(|source| {
            SinkError::Syslog {
                addr: self.addr.clone(),
                source,
            }
            .into()
        })
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.transport {
            Transport::Tcp(s) => s.flush(),
            Transport::Udp(_) => Ok(()),
        }
    }
}

#[cfg(test)]
#[path = "cef_tests.rs"]
mod tests;
