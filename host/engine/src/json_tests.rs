use super::*;

/// One character of each class the red-team test found written raw, by
/// its escape as ueba must write it.
const HIDDEN: [(char, &str); 23] = [
    ('\u{7f}', "\\u007f"),
    ('\u{80}', "\\u0080"),
    ('\u{85}', "\\u0085"),
    ('\u{9f}', "\\u009f"),
    ('\u{202a}', "\\u202a"),
    ('\u{202b}', "\\u202b"),
    ('\u{202c}', "\\u202c"),
    ('\u{202d}', "\\u202d"),
    ('\u{202e}', "\\u202e"),
    ('\u{2066}', "\\u2066"),
    ('\u{2067}', "\\u2067"),
    ('\u{2068}', "\\u2068"),
    ('\u{2069}', "\\u2069"),
    ('\u{200e}', "\\u200e"),
    ('\u{200f}', "\\u200f"),
    ('\u{061c}', "\\u061c"),
    ('\u{200b}', "\\u200b"),
    ('\u{200c}', "\\u200c"),
    ('\u{200d}', "\\u200d"),
    ('\u{2060}', "\\u2060"),
    ('\u{feff}', "\\ufeff"),
    ('\u{2028}', "\\u2028"),
    ('\u{2029}', "\\u2029"),
];

#[test]
fn every_hidden_character_is_written_as_an_escape_and_reads_back() {
    for (c, escape) in HIDDEN {
        let text = format!("a{c}b");
        let json = to_string(&text).unwrap();
        assert_eq!(json, format!("\"a{escape}b\""), "U+{:04X}", c as u32);
        assert_eq!(serde_json::from_str::<String>(&json).unwrap(), text);
    }
}

#[test]
fn ordinary_text_is_written_as_serde_json_writes_it() {
    for text in [
        "mreyes",
        "é",
        "日本",
        "josé@日本.example",
        "tab\tquote\"back\\",
        "\u{1f600}",
    ] {
        assert_eq!(
            to_string(text).unwrap(),
            serde_json::to_string(text).unwrap()
        );
    }
    assert_eq!(to_string("é日本").unwrap(), "\"é日本\"");
}

#[test]
fn mixed_text_in_keys_and_values_reads_back_identically() {
    let name = "admin\u{202e}txt.exe\u{85}\u{7f}é日本\u{feff}\n\u{200b}";
    let value = serde_json::json!({ name: [name, { "note": name }], "n": 1.5 });
    let json = to_string(&value).unwrap();
    assert!(!json.chars().any(is_unsafe_char), "{json}");
    assert!(json.contains("admin\\u202etxt.exe\\u0085\\u007fé日本\\ufeff\\n\\u200b"));
    let back: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(back, value);
    let mut written = Vec::new();
    to_writer(&mut written, &value).unwrap();
    assert_eq!(written, to_vec(&value).unwrap());
    assert_eq!(written, json.as_bytes());
}
