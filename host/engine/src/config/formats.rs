//! `[formats]` in `ueba.toml`: what the log sources cannot guess. The
//! sources themselves live in `ueba-formats`; the section is defined here so
//! that the whole configuration file is one type read in one place.

use serde::Deserialize;

/// PostgreSQL's default `log_line_prefix` with pgAudit's usual additions:
/// timestamp, process id, then `user@database` on session lines.
pub const DEFAULT_PG_PREFIX: &str = "%m [%p] %q%u@%d ";

/// `[formats]` in `ueba.toml`: what the built-in mappings cannot guess.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FormatsConfig {
    /// PostgreSQL's `log_line_prefix`, to split stderr log lines.
    pub pg_log_line_prefix: String,
    /// pgAudit SESSION lines without an object name (`SELECT` with
    /// `log_relation` off): `"statement"` takes the tables from the
    /// statement text, `"skip"` counts and skips them.
    pub pg_session_without_object: WithoutObject,
    /// Field-mapping overrides for custom schemas.
    pub mapping: FieldMapping,
    /// How `--format csv` reads its files: delimiter, time format, and
    /// values for fields a file has no column for.
    pub csv: CsvConfig,
}

impl Default for FormatsConfig {
    fn default() -> Self {
        FormatsConfig {
            pg_log_line_prefix: DEFAULT_PG_PREFIX.to_string(),
            pg_session_without_object: WithoutObject::Statement,
            mapping: FieldMapping::default(),
            csv: CsvConfig::default(),
        }
    }
}

/// What to do with an audit record that names no object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WithoutObject {
    /// Take the tables from the statement text (the tables the statement names); skip
    /// when none is found.
    Statement,
    /// Skip the record and count it.
    Skip,
}

/// `[formats.mapping]`: where to find each event field when a source does
/// not follow its format's usual names. For the JSON formats (ECS, OCSF,
/// MySQL) each value is a dotted path (`labels.db_table`), matching nested
/// objects, dotted keys or a mix; for CEF and LEEF it is an extension key
/// (`cs4`, `dvchost`) or a custom label (`table` for `cs1Label=table`). A
/// mapped field is looked up first; when absent the built-in names are tried.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FieldMapping {
    /// Event time.
    pub time: Option<String>,
    /// Who acted.
    pub user: Option<String>,
    /// What was done.
    pub action: Option<String>,
    /// What was touched.
    pub resource: Option<String>,
    /// Rows read or written.
    pub rows: Option<String>,
    /// Bytes transferred.
    pub bytes: Option<String>,
    /// Client address.
    pub source: Option<String>,
    /// Success or failure.
    pub outcome: Option<String>,
}

/// `[formats.csv]`: what a delimited file with a header row cannot say
/// itself. Columns are named by `[formats.mapping]` (else the native field
/// names); these settings cover the rest.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CsvConfig {
    /// The field delimiter, one ASCII character (`","`, `";"`, `"\t"`).
    pub delimiter: String,
    /// A `strftime` format for times written in none of the usual forms
    /// (RFC 3339, epoch milliseconds, `YYYY-MM-DD HH:MM:SS`), e.g.
    /// `"%m/%d/%Y %H:%M:%S"`. Tried first when set.
    pub time_format: Option<String>,
    /// The IANA zone of times that carry no offset (`"UTC"` when unset).
    pub time_zone: String,
    /// A fixed value for a field the file has no column for, e.g.
    /// `resource = "removable-media"` for a removable-media log that names
    /// only the machine. A column, when present, wins.
    pub fixed: FieldMapping,
}

impl Default for CsvConfig {
    fn default() -> Self {
        CsvConfig {
            delimiter: ",".to_string(),
            time_format: None,
            time_zone: "UTC".to_string(),
            fixed: FieldMapping::default(),
        }
    }
}
