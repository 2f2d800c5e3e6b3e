use super::*;

fn parser(mapping: FieldMapping, cfg: CsvConfig) -> CsvParser {
    CsvParser::new(mapping, &cfg).unwrap()
}

/// Feed `lines` (numbered from 1) and finish: the events and errors.
fn run(p: &mut CsvParser, lines: &[&str]) -> Result<Vec<Parsed>, FormatError> {
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        p.feed(l, i as u64 + 1, &mut out)?;
    }
    p.finish(&mut out)?;
    Ok(out)
}

#[test]
fn a_third_party_logon_export_reads_with_a_mapping_and_a_time_format() {
    // A CERT-style logon export: its own column names and US dates.
    let mapping = FieldMapping {
        resource: Some("pc".into()),
        source: Some("pc".into()),
        ..FieldMapping::default()
    };
    let cfg = CsvConfig {
        time_format: Some("%m/%d/%Y %H:%M:%S".into()),
        ..CsvConfig::default()
    };
    let mut p = parser(mapping, cfg);
    let out = run(
        &mut p,
        &[
            "id,date,user,pc,activity",
            "{X1D9},01/02/2010 06:49:00,NGF0157,PC-6056,Logon",
            "",
            "{G2B3},01/02/2010 18:05:11,NGF0157,PC-6056,Logoff",
        ],
    )
    .unwrap();
    let e: Vec<AccessEvent> = out.into_iter().map(Result::unwrap).collect();
    assert_eq!(e.len(), 2);
    assert_eq!(e[0].user.as_str(), "NGF0157");
    assert_eq!(e[0].action.as_str(), "logon");
    assert_eq!(e[0].resource.as_str(), "PC-6056");
    assert_eq!(e[0].source.as_deref(), Some("PC-6056"));
    assert_eq!(e[0].rows, 1);
    assert_eq!(
        e[0].time_ms,
        parse_timestamp_text("2010-01-02T06:49:00Z").unwrap()
    );
}

#[test]
fn a_fixed_value_stands_for_a_missing_column_and_times_follow_the_zone() {
    let cfg = CsvConfig {
        time_zone: "Asia/Manila".into(),
        fixed: FieldMapping {
            resource: Some("removable-media".into()),
            ..FieldMapping::default()
        },
        ..CsvConfig::default()
    };
    let mut p = parser(FieldMapping::default(), cfg);
    let out = run(
        &mut p,
        &["Date,User,Activity", "2010-01-04 09:00:00,ana,Connect"],
    )
    .unwrap();
    let e = out.into_iter().next().unwrap().unwrap();
    assert_eq!(e.resource.as_str(), "removable-media");
    assert_eq!(e.action.as_str(), "connect");
    assert_eq!(
        e.time_ms,
        parse_timestamp_text("2010-01-04T01:00:00Z").unwrap(),
        "09:00 in Manila is 01:00 UTC"
    );
}

#[test]
fn quoted_fields_hold_delimiters_quotes_and_line_breaks() {
    let cfg = CsvConfig {
        delimiter: "\\t".into(),
        ..CsvConfig::default()
    };
    let mut p = parser(FieldMapping::default(), cfg);
    let out = run(
        &mut p,
        &[
            "timestamp\tuser\taction\tresource\trows",
            "2026-01-05T14:03:11Z\t\"o\"\"brien\"\tselect\t\"two",
            "lines\"\t12",
            "1767621791250\tmreyes\tselect\tsupport.customers\t",
        ],
    )
    .unwrap();
    let e: Vec<AccessEvent> = out.into_iter().map(Result::unwrap).collect();
    assert_eq!(e[0].user.as_str(), "o\"brien");
    assert_eq!(e[0].resource.as_str(), "two\nlines");
    assert_eq!(e[0].rows, 12);
    assert_eq!(e[1].rows, 1, "an empty rows field is the default");
    assert_eq!(p.pending_line(), None);
}

#[test]
fn bad_lines_name_their_line_and_column() {
    let mut p = parser(FieldMapping::default(), CsvConfig::default());
    let out = run(
        &mut p,
        &[
            "time,user,action,resource,rows",
            "yesterday,ana,select,t,1",
            "2026-01-05T14:03:11Z,ana,select,t,many",
            "2026-01-05T14:03:11Z,ana,select",
            "2026-01-05T14:03:11Z,,select,t,1",
            "2026-01-05T14:03:11Z,ana,select,\"t,1",
        ],
    )
    .unwrap();
    let errs: Vec<String> = out
        .into_iter()
        .map(|r| r.unwrap_err().to_string())
        .collect();
    assert_eq!(errs.len(), 5, "{errs:?}");
    assert!(
        errs[0].contains("line 2") && errs[0].contains("time"),
        "{}",
        errs[0]
    );
    assert!(
        errs[1].contains("line 3") && errs[1].contains("rows"),
        "{}",
        errs[1]
    );
    assert!(
        errs[2].contains("3 fields where the header has 5"),
        "{}",
        errs[2]
    );
    assert!(
        errs[3].contains("user") && errs[3].contains("empty"),
        "{}",
        errs[3]
    );
    assert!(
        errs[4].contains("line 6") && errs[4].contains("quoted"),
        "{}",
        errs[4]
    );
}

#[test]
fn a_header_without_a_needed_column_stops_the_run_naming_its_columns() {
    let mut p = parser(FieldMapping::default(), CsvConfig::default());
    let err = run(&mut p, &["date,user,activity,detail"]).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("no resource column"), "{msg}");
    assert!(msg.contains("date, user, activity, detail"), "{msg}");
    let mapping = FieldMapping {
        resource: Some("machine".into()),
        ..FieldMapping::default()
    };
    let mut p = parser(mapping, CsvConfig::default());
    let msg = run(&mut p, &["date,user,pc,activity"])
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("formats.mapping.resource: column `machine`"),
        "{msg}"
    );
}

#[test]
fn a_bad_delimiter_or_zone_is_refused_before_reading() {
    for cfg in [
        CsvConfig {
            delimiter: ";;".into(),
            ..CsvConfig::default()
        },
        CsvConfig {
            time_zone: "Mars/Olympus".into(),
            ..CsvConfig::default()
        },
    ] {
        assert!(CsvParser::new(FieldMapping::default(), &cfg).is_err());
    }
}

/// A field whose opening quote is never closed costs its own line only:
/// when the input ends (or the record passes its size limit) inside it, the
/// rows after it are read again as rows, so none is lost unseen.
#[test]
fn a_stray_quote_costs_one_line_not_the_rest_of_the_input() {
    let mut p = parser(FieldMapping::default(), CsvConfig::default());
    let row = "2026-01-05T14:03:12Z,ana,select,t,1,h";
    let mut lines = vec![
        "timestamp,user,action,resource,rows,source",
        "2026-01-05T14:03:11Z,\"ana,select,t,1,h",
    ];
    lines.extend(std::iter::repeat_n(row, 5));
    let out = run(&mut p, &lines).unwrap();
    let errs: Vec<String> = out
        .iter()
        .filter_map(|r| r.as_ref().err().map(ToString::to_string))
        .collect();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("line 2") && errs[0].contains("quoted"));
    assert_eq!(out.iter().filter(|r| r.is_ok()).count(), 5);

    // Past the size limit the same: one line lost, the rest read.
    let mut p = parser(FieldMapping::default(), CsvConfig::default());
    let mut out = Vec::new();
    p.feed(lines[0], 1, &mut out).unwrap();
    p.feed(lines[1], 2, &mut out).unwrap();
    let n = MAX_RECORD / row.len() + 10;
    for i in 0..n {
        p.feed(row, i as u64 + 3, &mut out).unwrap();
    }
    p.finish(&mut out).unwrap();
    assert_eq!(out.iter().filter(|r| r.is_err()).count(), 1);
    assert_eq!(out.iter().filter(|r| r.is_ok()).count(), n);
}

/// A spreadsheet export with `;` (or a TSV) is read as such when the
/// header is one column by the configured `,`; a header that reads by the
/// configured delimiter is never second-guessed.
#[test]
fn a_header_of_one_column_by_the_delimiter_is_read_by_the_one_it_has() {
    for (d, name) in [(';', "semicolon"), ('\t', "tab"), ('|', "bar")] {
        let text = format!(
            "timestamp{d}user{d}action{d}resource{d}rows\n2026-01-05 10:00:00{d}a{d}select{d}t{d}3\n"
        );
        let mut p = CsvParser::new(FieldMapping::default(), &CsvConfig::default()).unwrap();
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            p.feed(line, i as u64 + 1, &mut out).unwrap();
        }
        assert_eq!(out.len(), 1, "{name}");
        let ev = out[0].as_ref().expect(name);
        assert_eq!((ev.user.as_str(), ev.rows), ("a", 3), "{name}");
    }
    // Commas first: a file whose values hold semicolons stays a CSV.
    let mut p = CsvParser::new(FieldMapping::default(), &CsvConfig::default()).unwrap();
    let mut out = Vec::new();
    p.feed("timestamp,user,action,resource", 1, &mut out)
        .unwrap();
    p.feed("2026-01-05 10:00:00,a;b,select,t;u", 2, &mut out)
        .unwrap();
    let ev = out[0].as_ref().unwrap();
    assert_eq!((ev.user.as_str(), ev.resource.as_str()), ("a;b", "t;u"));
}

#[test]
fn a_logon_export_reads_its_machine_and_a_file_export_its_file() {
    // CERT-style exports with no mapping: the logon's machine is what was
    // touched; where a file or URL is named, it is.
    // Their file and web exports name no action: a fixed one stands in.
    let cfg = || CsvConfig {
        time_format: Some("%m/%d/%Y %H:%M:%S".into()),
        fixed: FieldMapping {
            action: Some("open".into()),
            ..FieldMapping::default()
        },
        ..CsvConfig::default()
    };
    let read = |lines: &[&str]| -> AccessEvent {
        let mut p = parser(FieldMapping::default(), cfg());
        let mut out = run(&mut p, lines).unwrap();
        out.remove(0).unwrap()
    };
    let logon = read(&[
        "id,date,user,pc,activity",
        "{X1D9},01/02/2010 06:49:00,NGF0157,PC-6056,Logon",
    ]);
    assert_eq!(logon.resource.as_str(), "PC-6056");
    assert_eq!(logon.action.as_str(), "logon");
    let file = read(&[
        "id,date,user,pc,filename,content",
        "{F1},01/02/2010 07:01:00,NGF0157,PC-6056,R:\\plans\\q1.doc,text",
    ]);
    assert_eq!(file.resource.as_str(), "R:\\plans\\q1.doc");
    let web = read(&[
        "id,date,user,pc,url,content",
        "{H1},01/02/2010 07:02:00,NGF0157,PC-6056,http://example.com/a,text",
    ]);
    assert_eq!(web.resource.as_str(), "http://example.com/a");
}
