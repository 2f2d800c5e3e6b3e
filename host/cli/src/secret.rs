//! Secrets handed to ueba (the service's own token, a Splunk HEC token):
//! from a file or an environment variable, never from an argument, which
//! every user of the machine can read in `ps`.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};

/// The secret in `file` (named on the command line as `flag`) or in the
/// environment variable `env`, trimmed of surrounding whitespace (a file's
/// trailing newline); `None` when neither is given. Both at once is an
/// error, since it is unclear which one was meant. A file other users can
/// read is used, with a warning.
pub(crate) fn from_file_or_env(
    file: Option<&Path>,
    flag: &str,
    env: &str,
) -> Result<Option<String>> {
    let value = std::env::var_os(env);
    let text = match (file, value) {
        (Some(_), Some(_)) => bail!("both {flag} and {env} are set; use one"),
        (Some(path), None) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {flag} {}", path.display()))?;
            warn_if_readable_by_others(path);
            text
        }
        (None, Some(value)) => value
            .into_string()
            .map_err(|_| anyhow!("{env} is not valid UTF-8"))?,
        (None, None) => return Ok(None),
    };
    Ok(Some(text.trim().to_string()))
}

fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            "{} is readable by other users; `chmod 600` it",
            path.display()
        );
    }
}
