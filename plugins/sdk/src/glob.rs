//! The small glob matcher detectors (and the host's rule baselines) use for
//! resource patterns such as `*.customers` or `hr.*`: `*` matches any run of
//! characters (including none), `?` exactly one, anything else itself.
//! Hand-written because it is a dozen lines and runs once per resource.

/// Whether `text` matches `pattern` as a whole.
///
/// ```
/// use ueba_sdk::glob::matches;
/// assert!(matches("*.customers", "support.customers"));
/// assert!(matches("hr.*", "hr.salaries"));
/// assert!(!matches("hr.*", "chr.salaries"));
/// assert!(matches("db?.users", "db2.users"));
/// ```
pub fn matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was, and the text position it is matched up to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                // Let the last `*` swallow one more character and retry.
                Some((sp, st)) => {
                    star = Some((sp, st + 1));
                    pi = sp + 1;
                    ti = st + 1;
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn globs() {
        assert!(matches("*.customers", "support.customers"));
        assert!(matches("*.customers", ".customers"));
        assert!(!matches("*.customers", "support.customers_archive"));
        assert!(matches("hr.*", "hr.salaries"));
        assert!(!matches("hr.*", "chr.salaries"));
        assert!(matches("a?c", "abc"));
        assert!(!matches("a?c", "ac"));
        assert!(matches("*", ""));
        assert!(matches("", ""));
        assert!(!matches("", "x"));
        assert!(matches("*a*b*", "xxaxxbxx"));
        assert!(!matches("*a*b*", "xxbxxaxx"));
        assert!(matches("**.c??", "x.cab"));
        assert!(matches("auth.*", "auth.tokens"));
    }
}
