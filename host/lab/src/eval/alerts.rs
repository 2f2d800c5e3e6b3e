//! Reading alerts already produced by `ueba score` (`ueba eval --alerts`):
//! each line's fields checked, errors naming the line and field.

use std::io::BufRead;
use std::path::Path;

use super::EvalError;
use ueba_engine::event::{clip, parse_timestamp_text};

/// One alert line's fields that evaluation uses.
pub(super) struct AlertLine {
    pub(super) time_ms: i64,
    pub(super) user: String,
    pub(super) score: f64,
    pub(super) threshold: Option<f64>,
    /// (detector, score, time ms, event)
    pub(super) findings: Vec<(String, f64, i64, Option<u64>)>,
}

/// Parse one alert line; errors name the field.
pub(super) fn parse_alert(text: &str) -> Result<AlertLine, String> {
    use serde_json::{Map, Value};
    let v: Value = serde_json::from_str(text)
        .map_err(|e| format!("not a JSON object ({e}); each line must be one alert"))?;
    let obj = v
        .as_object()
        .ok_or("not a JSON object; each line must be one alert")?;
    fn get<'a>(o: &'a Map<String, Value>, name: &str) -> Result<&'a Value, String> {
        o.get(name)
            .ok_or_else(|| format!("field `{name}`: missing"))
    }
    fn string(o: &Map<String, Value>, name: &str) -> Result<String, String> {
        let v = get(o, name)?;
        v.as_str().map(str::to_string).ok_or_else(|| {
            format!(
                "field `{name}`: expected a string, got `{}`",
                clip(&v.to_string())
            )
        })
    }
    // Scores and thresholds are risks, on the 0 to 100 scale: anything
    // else is no alert `ueba score` wrote, and would be drawn off the chart.
    fn risk(o: &Map<String, Value>, name: &str) -> Result<f64, String> {
        let v = get(o, name)?;
        v.as_f64()
            .filter(|x| (0.0..=100.0).contains(x))
            .ok_or_else(|| {
                format!(
                    "field `{name}`: expected a risk from 0 to 100, got `{}`",
                    clip(&v.to_string())
                )
            })
    }
    fn time(o: &Map<String, Value>, name: &str) -> Result<i64, String> {
        parse_timestamp_text(&string(o, name)?).map_err(|m| format!("field `{name}`: {m}"))
    }
    let threshold = match obj.get("threshold") {
        None | Some(Value::Null) => None,
        Some(_) => Some(risk(obj, "threshold")?),
    };
    let mut findings = Vec::new();
    match obj.get("findings") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (j, f) in items.iter().enumerate() {
                let at = |m: String| format!("findings[{j}]: {m}");
                let f = f
                    .as_object()
                    .ok_or_else(|| at("expected an object".into()))?;
                let event = match f.get("event") {
                    None | Some(Value::Null) => None,
                    Some(e) => Some(e.as_u64().ok_or_else(|| {
                        at(format!(
                            "field `event`: expected a whole number, got `{}`",
                            clip(&e.to_string())
                        ))
                    })?),
                };
                findings.push((
                    string(f, "detector").map_err(at)?,
                    risk(f, "score").map_err(at)?,
                    time(f, "time").map_err(at)?,
                    event,
                ));
            }
        }
        Some(other) => {
            return Err(format!(
                "field `findings`: expected an array, got `{other}`"
            ));
        }
    }
    Ok(AlertLine {
        time_ms: time(obj, "time")?,
        user: string(obj, "user")?,
        score: risk(obj, "score")?,
        threshold,
        findings,
    })
}

/// Alerts and findings read from a `ueba score` output file.
pub(super) struct ReadAlerts {
    pub(super) alerts: Vec<(String, i64, f64)>,
    pub(super) threshold: Option<f64>,
    pub(super) detectors: Vec<String>,
    pub(super) findings: Vec<(usize, i64, f64)>,
}

pub(super) fn read_alerts(path: &Path) -> Result<ReadAlerts, EvalError> {
    let io = |source| EvalError::Io {
        path: path.into(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut out = ReadAlerts {
        alerts: Vec::new(),
        threshold: None,
        detectors: Vec::new(),
        findings: Vec::new(),
    };
    // A finding is repeated in every alert that lists it; count it once.
    let mut seen: std::collections::HashSet<(String, i64, Option<u64>)> = Default::default();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line_no = i as u64 + 1;
        let bad = |message: String| EvalError::Alerts {
            path: path.into(),
            line: line_no,
            message,
        };
        let line = match line {
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(bad("not valid UTF-8".into()));
            }
            line => line.map_err(io)?,
        };
        if line.trim().is_empty() {
            continue;
        }
        let a = parse_alert(&line).map_err(bad)?;
        out.threshold = out.threshold.or(a.threshold);
        out.alerts.push((a.user, a.time_ms, a.score));
        for (detector, score, time, event) in a.findings {
            if !seen.insert((detector.clone(), time, event)) {
                continue;
            }
            let d = match out.detectors.iter().position(|d| *d == detector) {
                Some(d) => d,
                None => {
                    out.detectors.push(detector);
                    out.detectors.len() - 1
                }
            };
            out.findings.push((d, time, score));
        }
    }
    Ok(out)
}
