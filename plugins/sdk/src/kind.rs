//! Kinds of resources: tables, workstations, removable media, a file
//! share's documents.
//!
//! Habits are kept per kind where single resources say too little: how
//! often a user touches something new (`novel-table`), how a user's work
//! moves among the many resources of one kind (`volume`). An operator's
//! `kinds` setting maps globs to kinds (first match wins); a resource no
//! glob matches takes its kind from its shape ([`shape_kind`]).

use std::collections::BTreeMap;

/// The kind of `name`: that of the first `(glob, kind)` of `kinds` it
/// matches, else its shape ([`shape_kind`]).
///
/// ```
/// use ueba_sdk::kind::kind_of;
/// let kinds = vec![("PC-*".to_string(), "workstation".to_string())];
/// assert_eq!(kind_of(&kinds, "PC-1234"), "workstation");
/// assert_eq!(kind_of(&kinds, "support.customers"), "table");
/// ```
pub fn kind_of(kinds: &[(String, String)], name: &str) -> String {
    kinds
        .iter()
        .find(|(glob, _)| crate::glob::matches(glob, name))
        .map_or_else(|| shape_kind(name), |(_, kind)| kind.clone())
}

/// The id of kind `name` among `names` (`index` is where each name is in
/// `names`), adding it when there are fewer than `max`; `None` when it is
/// new and there is no room. Ids are the order kinds were first met, so a
/// detector can keep per-kind state in vectors.
///
/// ```
/// use std::collections::BTreeMap;
/// use ueba_sdk::kind::intern;
/// let (mut names, mut index) = (Vec::new(), BTreeMap::new());
/// assert_eq!(intern(&mut names, &mut index, "PC-#".into(), 2), Some(0));
/// assert_eq!(intern(&mut names, &mut index, "table".into(), 2), Some(1));
/// assert_eq!(intern(&mut names, &mut index, "PC-#".into(), 2), Some(0));
/// assert_eq!(intern(&mut names, &mut index, "removable-media".into(), 2), None);
/// ```
pub fn intern(
    names: &mut Vec<String>,
    index: &mut BTreeMap<String, u32>,
    name: String,
    max: usize,
) -> Option<u32> {
    if let Some(&k) = index.get(&name) {
        return Some(k);
    }
    if names.len() >= max {
        return None;
    }
    let k = u32::try_from(names.len()).ok()?;
    names.push(name.clone());
    index.insert(name, k);
    Some(k)
}

/// The kind of a resource by its shape, when no `kinds` glob matches.
///
/// * A path or URL (a name with `/` or `\`) is of the kind of its root,
///   with `*` for the rest: the first segment (`patient/123` is
///   `patient/*`), a URL's scheme and host (`s3://bucket/key` is
///   `s3://bucket/*`), a UNC path's server and share
///   (`\\fs01\finance\q1.xlsx` is `\\fs#\finance\*`). Files are
///   named by their folders and their own names say nothing of what they
///   are: a lock file `~$report.xlsx` and an Excel temp file `03922D83`
///   are the same sort of thing as the report itself.
/// * A dotted name (`schema.table`) is a `table`.
/// * Any other name is itself.
///
/// Every run of digits becomes `#`, so `PC-1234` and `PC-77` are both of
/// kind `PC-#` and `removable-media` is a kind of its own.
///
/// ```
/// use ueba_sdk::kind::shape_kind;
/// assert_eq!(shape_kind("support.customers"), "table");
/// assert_eq!(shape_kind("PC-1234"), "PC-#");
/// assert_eq!(shape_kind("removable-media"), "removable-media");
/// assert_eq!(shape_kind("patient/385574"), "patient/*");
/// assert_eq!(shape_kind("s3://acme-datalake/raw/part-0001.parquet"), "s3://acme-datalake/*");
/// assert_eq!(shape_kind(r"\\fs01\finance\2026\03922D83"), r"\\fs#\finance\*");
/// assert_eq!(shape_kind("/var/log/auth.log"), "/var/*");
/// ```
pub fn shape_kind(name: &str) -> String {
    if let Some((root, sep)) = path_root(name) {
        // A URL's scheme (`s3`) is a word, not a number.
        let scheme = root.find("://").map_or(0, |i| i + 3);
        let mut kind = root[..scheme].to_string();
        kind.push_str(&digits_as_hash(&root[scheme..]));
        kind.push(sep);
        kind.push('*');
        return kind;
    }
    if name.contains('.') {
        return "table".to_string();
    }
    digits_as_hash(name)
}

/// The root of a path or URL and the separator after it, or `None` for a
/// name without `/` or `\\` (see [`shape_kind`]).
fn path_root(name: &str) -> Option<(&str, char)> {
    let is_sep = |c: char| c == '/' || c == '\\';
    if !name.contains(is_sep) {
        return None;
    }
    // Where the root starts its last segment: after a URL's scheme, a UNC
    // path's server, or any leading separators.
    let (skip, segments) = if let Some(i) = name.find("://") {
        (i + 3, 1)
    } else if name.starts_with(r"\\") || name.starts_with("//") {
        (2, 2)
    } else {
        (name.len() - name.trim_start_matches(is_sep).len(), 1)
    };
    let mut end = skip;
    for n in 0..segments {
        let rest = &name[end..];
        match rest.find(is_sep) {
            Some(j) if n + 1 < segments => end += j + 1,
            Some(j) => end += j,
            None => return None,
        }
    }
    let sep = name[end..].chars().next()?;
    (end > 0).then_some((&name[..end], sep))
}

/// `name` with every run of ASCII digits replaced by `#`.
fn digits_as_hash(name: &str) -> String {
    let mut kind = String::with_capacity(name.len());
    let mut in_digits = false;
    for c in name.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                kind.push('#');
            }
            in_digits = true;
        } else {
            kind.push(c);
            in_digits = false;
        }
    }
    kind
}
