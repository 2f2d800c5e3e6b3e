//! Parsing configuration values.
//!
//! The host passes each key of a detector's `[detectors.NAME]` table as the
//! value's TOML text (`7`, `0.5`, `"hr.*"`, `["*.customers", "hr.*"]`).
//! [`parse`] turns that text into any serde type and names the key on error.

use crate::ConfigError;

/// Parse a TOML value's text into `T`, e.g. `parse::<u32>("learning_days", "7")`.
/// An error names the key and says what is wrong, and the host shows it
/// with the detector's name.
///
/// ```
/// use ueba_sdk::config::parse;
/// let days: u32 = parse("learning_days", "7").unwrap();
/// let globs: Vec<String> = parse("sensitive", r#"["hr.*", "*.customers"]"#).unwrap();
/// assert_eq!((days, globs.len()), (7, 2));
/// assert!(parse::<u32>("learning_days", "-1").is_err());
/// ```
pub fn parse<T: serde::de::DeserializeOwned>(key: &str, value: &str) -> Result<T, ConfigError> {
    #[derive(serde::Deserialize)]
    struct Wrap<T> {
        v: T,
    }
    toml::from_str::<Wrap<T>>(&format!("v = {value}"))
        .map(|w| w.v)
        .map_err(|e| ConfigError::InvalidValue {
            key: key.to_string(),
            message: e.message().to_string(),
        })
}

/// Like [`parse`] for a number that must lie in `lo..=hi` (NaN is refused),
/// for settings such as a score threshold or a probability factor.
///
/// ```
/// use ueba_sdk::config::parse_in_range;
/// assert_eq!(parse_in_range("min_score", "20", 0.0, 100.0).unwrap(), 20.0);
/// let err = parse_in_range("min_score", "500", 0.0, 100.0).unwrap_err();
/// assert_eq!(err.to_string(), "invalid value for `min_score`: 500 is outside 0..=100");
/// ```
pub fn parse_in_range(key: &str, value: &str, lo: f64, hi: f64) -> Result<f64, ConfigError> {
    let v: f64 = parse(key, value)?;
    if v.is_nan() || v < lo || v > hi {
        return Err(ConfigError::InvalidValue {
            key: key.to_string(),
            message: format!("{v} is outside {lo}..={hi}"),
        });
    }
    Ok(v)
}

/// Like [`parse`] for a whole number of at most `max`, which `what` names
/// in the error (a span of time, say), for settings such as hours or days.
///
/// ```
/// use ueba_sdk::config::parse_at_most;
/// assert_eq!(parse_at_most("repeat_days", "7", 28, "four weeks").unwrap(), 7);
/// let err = parse_at_most("repeat_days", "30", 28, "four weeks").unwrap_err();
/// assert_eq!(err.to_string(), "invalid value for `repeat_days`: 30 is more than four weeks (28)");
/// ```
pub fn parse_at_most(key: &str, value: &str, max: u32, what: &str) -> Result<u32, ConfigError> {
    let v: u32 = parse(key, value)?;
    if v > max {
        return Err(ConfigError::InvalidValue {
            key: key.to_string(),
            message: format!("{v} is more than {what} ({max})"),
        });
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_toml_values() {
        assert_eq!(parse::<u32>("k", "7").unwrap(), 7);
        assert_eq!(parse::<f64>("k", "0.5").unwrap(), 0.5);
        assert_eq!(parse::<String>("k", "\"hr.*\"").unwrap(), "hr.*");
        assert_eq!(
            parse::<Vec<String>>("k", "[\"*.customers\", \"hr.*\"]").unwrap(),
            vec!["*.customers".to_string(), "hr.*".to_string()]
        );
    }

    #[test]
    fn errors_name_the_key() {
        let e = parse::<u32>("learning_days", "\"seven\"").unwrap_err();
        assert!(matches!(e, ConfigError::InvalidValue { ref key, .. } if key == "learning_days"));
        assert!(parse_in_range("half", "2.0", 0.0, 1.0).is_err());
        assert!(parse_in_range("half", "nan", 0.0, 1.0).is_err());
    }
}
