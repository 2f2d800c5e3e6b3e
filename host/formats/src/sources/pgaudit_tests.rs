use super::*;

fn run(p: &mut PgAuditParser, input: &str) -> Vec<Parsed> {
    let mut out = Vec::new();
    for (i, l) in input.lines().enumerate() {
        p.feed(l, i as u64 + 1, &mut out).unwrap();
    }
    p.finish(&mut out).unwrap();
    out
}

#[test]
fn prefixes_compile_and_refuse_ambiguity() {
    assert!(Prefix::compile(DEFAULT_PREFIX).is_ok());
    assert!(Prefix::compile("%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ").is_ok());
    assert!(Prefix::compile("%m %u%d ").is_err());
    assert!(Prefix::compile("%p %u ").is_err());
    assert!(Prefix::compile("%m %d ").is_err());
    assert!(Prefix::compile("%m %u %z").is_err());
}

#[test]
fn stderr_multiline_statement_and_relations() {
    let mut p = PgAuditParser::stderr(&FormatsConfig::default()).unwrap();
    let log = "2026-01-05 14:03:11.250 UTC [4711] mreyes@support LOG:  AUDIT: SESSION,3,1,READ,SELECT,TABLE,support.customers,\"select c.name,\n\t  t.subject\n\tfrom support.customers c join support.tickets t on t.cid = c.id\",<not logged>,42\n\
2026-01-05 14:03:11.250 UTC [4711] mreyes@support LOG:  AUDIT: SESSION,3,1,READ,SELECT,TABLE,support.tickets,\"select c.name,\n\t  t.subject\n\tfrom support.customers c join support.tickets t on t.cid = c.id\",<not logged>,42\n\
2026-01-05 14:03:12.000 UTC [99] LOG:  checkpoint starting: time\n";
    let out = run(&mut p, log);
    let evs: Vec<&AccessEvent> = out.iter().map(|r| r.as_ref().unwrap()).collect();
    assert_eq!(evs.len(), 2);
    assert_eq!(evs[0].resource, "support.customers");
    assert_eq!(evs[1].resource, "support.tickets");
    assert!(
        evs.iter()
            .all(|e| e.rows == 42 && e.user == "mreyes" && e.action == "select")
    );
    assert_eq!(evs[0].time_ms, 1_767_621_791_250);
    assert_eq!(p.skipped(), 1);
}

#[test]
fn session_without_object_uses_statement_or_skips() {
    let line = "2026-01-05 14:03:11 UTC [1] a@db LOG:  AUDIT: SESSION,2,1,READ,SELECT,,,select * from account,<not logged>";
    let mut p = PgAuditParser::stderr(&FormatsConfig::default()).unwrap();
    let out = run(&mut p, line);
    assert_eq!(out[0].as_ref().unwrap().resource, "db.account");
    let cfg = FormatsConfig {
        pg_session_without_object: WithoutObject::Skip,
        ..FormatsConfig::default()
    };
    let mut p = PgAuditParser::stderr(&cfg).unwrap();
    assert!(run(&mut p, line).is_empty());
    assert_eq!(p.skipped(), 1);
}

#[test]
fn csvlog_records_span_lines() {
    let mut p = PgAuditParser::csvlog(&FormatsConfig::default());
    let log = "2026-01-05 14:03:11.250 UTC,\"mreyes\",\"support\",4711,\"10.0.0.1:52314\",659c0f1f.1267,3,\"SELECT\",2026-01-05 14:00:00 UTC,3/12,0,LOG,00000,\"AUDIT: SESSION,1,1,READ,SELECT,TABLE,support.customers,\"\"select *\nfrom support.customers\"\",<not logged>,12\",,,,,,,,,\"psql\",\"client backend\",,0\n";
    let out = run(&mut p, log);
    let ev = out[0].as_ref().unwrap();
    assert_eq!(ev.user, "mreyes");
    assert_eq!(ev.source.as_deref(), Some("10.0.0.1"));
    assert_eq!(ev.rows, 12);
    assert_eq!(ev.resource, "support.customers");
}

/// Lines exactly as PostgreSQL 15.18 with pgAudit 1.7.0 (Debian 12)
/// wrote them under `scripts/pg-e2e`: log_line_prefix
/// `'%m [%p] %q%u@%d %h '`, log_connections and log_disconnections on.
const PG15_STDERR: &str = "2026-11-23 01:08:44.363 UTC [16721] LOG:  starting PostgreSQL 15.18 (Debian 15.18-0+deb12u1) on x86_64-pc-linux-gnu, compiled by gcc (Debian 12.2.0-14+deb12u1) 12.2.0, 64-bit
2026-11-23 01:08:50.645 UTC [16878] [unknown]@[unknown] 127.0.0.1 LOG:  connection received: host=127.0.0.1 port=45372
2026-11-23 01:08:50.854 UTC [16891] tthomas@helpdesk 127.0.0.1 LOG:  connection authorized: user=tthomas database=helpdesk application_name=psql
2026-11-23 01:08:51.313 UTC [16891] tthomas@helpdesk 127.0.0.1 LOG:  AUDIT: SESSION,3,1,READ,SELECT,,,SELECT pg_sleep(0.4);,<not logged>,1
2026-11-23 01:08:52.517 UTC [16891] tthomas@helpdesk 127.0.0.1 LOG:  AUDIT: SESSION,10,1,READ,SELECT,TABLE,support.customers,SELECT * FROM support.customers;,<not logged>,68000
2026-11-23 01:08:53.994 UTC [16878] nreyes@helpdesk 127.0.0.1 LOG:  AUDIT: SESSION,26,1,READ,SELECT,TABLE,support.tickets,\"SELECT c.name,
\t       t.subject, 'a, \"\"quoted\"\" value' AS note
\t  FROM support.tickets t
\t  JOIN support.customers c ON c.id = t.customer_id
\t WHERE t.id = 381;\",<not logged>,1
2026-11-23 01:08:53.994 UTC [16878] nreyes@helpdesk 127.0.0.1 LOG:  AUDIT: SESSION,26,1,READ,SELECT,TABLE,support.customers,\"SELECT c.name,
\t       t.subject, 'a, \"\"quoted\"\" value' AS note
\t  FROM support.tickets t
\t  JOIN support.customers c ON c.id = t.customer_id
\t WHERE t.id = 381;\",<not logged>,1
2026-11-23 01:08:54.048 UTC [16880] ncruz@helpdesk 127.0.0.1 LOG:  AUDIT: SESSION,25,1,WRITE,UPDATE,TABLE,support.tickets,UPDATE support.tickets SET status = 'pending' WHERE id = 575;,<not logged>,1
2026-11-23 01:08:55.754 UTC [16891] tthomas@helpdesk 127.0.0.1 LOG:  AUDIT: SESSION,17,1,READ,COPY,,,COPY  crm.contacts TO STDOUT WITH (FORMAT csv),<not logged>,0
2026-11-23 01:08:57.045 UTC [16891] tthomas@helpdesk 127.0.0.1 LOG:  disconnection: session time: 0:00:06.232 user=tthomas database=helpdesk host=127.0.0.1 port=45424
";

/// The same server's csvlog records.
const PG15_CSV: &str = "2026-11-23 01:08:44.658 UTC,,,16739,\"127.0.0.1:45354\",6b03921c.4163,1,\"\",2026-11-23 01:08:44 UTC,,0,LOG,00000,\"connection received: host=127.0.0.1 port=45354\",,,,,,,,,\"\",\"not initialized\",,0
2026-11-23 01:08:54.078 UTC,\"rreyes\",\"helpdesk\",16881,\"127.0.0.1:45392\",6b039222.41f1,28,\"SELECT\",2026-11-23 01:08:50 UTC,4/27,0,LOG,00000,\"AUDIT: SESSION,26,1,READ,SELECT,TABLE,support.tickets,\"\"SELECT c.name,
       t.subject, 'a, \"\"\"\"quoted\"\"\"\" value' AS note
  FROM support.tickets t
  JOIN support.customers c ON c.id = t.customer_id
 WHERE t.id = 284;\"\",<not logged>,1\",,,,,,,,,\"psql\",\"client backend\",,0
2026-11-23 01:08:54.078 UTC,\"rreyes\",\"helpdesk\",16881,\"127.0.0.1:45392\",6b039222.41f1,29,\"SELECT\",2026-11-23 01:08:50 UTC,4/27,0,LOG,00000,\"AUDIT: SESSION,26,1,READ,SELECT,TABLE,support.customers,\"\"SELECT c.name,
       t.subject, 'a, \"\"\"\"quoted\"\"\"\" value' AS note
  FROM support.tickets t
  JOIN support.customers c ON c.id = t.customer_id
 WHERE t.id = 284;\"\",<not logged>,1\",,,,,,,,,\"psql\",\"client backend\",,0
2026-11-23 01:08:55.754 UTC,\"tthomas\",\"helpdesk\",16891,\"127.0.0.1:45424\",6b039222.41fb,19,\"COPY\",2026-11-23 01:08:50 UTC,10/18,0,LOG,00000,\"AUDIT: SESSION,17,1,READ,COPY,,,COPY  crm.contacts TO STDOUT WITH (FORMAT csv),<not logged>,0\",,,,,,,,,\"psql\",\"client backend\",,0
";

const PG15_PREFIX: &str = "%m [%p] %q%u@%d %h ";

fn events(out: &[Parsed]) -> Vec<&AccessEvent> {
    out.iter()
        .map(|r| r.as_ref().unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

#[test]
fn real_pg15_stderr_log() {
    let cfg = FormatsConfig {
        pg_log_line_prefix: PG15_PREFIX.into(),
        ..FormatsConfig::default()
    };
    let mut p = PgAuditParser::stderr(&cfg).unwrap();
    let out = run(&mut p, PG15_STDERR);
    let evs = events(&out);
    let got: Vec<(&str, &str, &str, u64)> = evs
        .iter()
        .map(|e| {
            (
                e.user.as_str(),
                e.action.as_str(),
                e.resource.as_str(),
                e.rows,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("tthomas", "select", "support.customers", 68_000),
            ("nreyes", "select", "support.tickets", 1),
            ("nreyes", "select", "support.customers", 1),
            ("ncruz", "update", "support.tickets", 1),
            // pgAudit counts no rows for COPY and names no object.
            ("tthomas", "copy", "crm.contacts", 0),
        ]
    );
    assert!(evs.iter().all(|e| e.source.as_deref() == Some("127.0.0.1")));
    assert_eq!(evs[0].time_ms, 1_795_396_132_517);
    assert_eq!(evs[1].time_ms, evs[2].time_ms);
    // Startup, connection received/authorized, pg_sleep, disconnection.
    assert_eq!(p.skipped(), 5);
}

#[test]
fn real_pg15_csvlog() {
    let mut p = PgAuditParser::csvlog(&FormatsConfig::default());
    let out = run(&mut p, PG15_CSV);
    let evs = events(&out);
    let got: Vec<(&str, &str, &str, u64)> = evs
        .iter()
        .map(|e| {
            (
                e.user.as_str(),
                e.action.as_str(),
                e.resource.as_str(),
                e.rows,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("rreyes", "select", "support.tickets", 1),
            ("rreyes", "select", "support.customers", 1),
            ("tthomas", "copy", "crm.contacts", 0),
        ]
    );
    assert!(evs.iter().all(|e| e.source.as_deref() == Some("127.0.0.1")));
    assert_eq!(p.skipped(), 1);
}

#[test]
fn a_prefix_shorter_than_the_servers_is_an_error_not_silence() {
    // The default prefix lacks the server's trailing `%h `: the audit
    // record must not be skipped as if it were some other log line.
    let mut p = PgAuditParser::stderr(&FormatsConfig::default()).unwrap();
    let out = run(&mut p, PG15_STDERR);
    let errors: Vec<String> = out
        .iter()
        .filter_map(|r| r.as_ref().err().map(ToString::to_string))
        .collect();
    assert_eq!(errors.len(), 6, "{errors:#?}");
    assert!(errors[0].contains("pg_log_line_prefix"), "{}", errors[0]);
    assert!(out.iter().all(Result::is_err));
}

#[test]
fn copy_names_its_table() {
    assert_eq!(
        copy_table("COPY  crm.contacts TO STDOUT WITH (FORMAT csv)").as_deref(),
        Some("crm.contacts")
    );
    assert_eq!(
        copy_table("copy only \"Support\".\"Customers\"(id, name) to stdout").as_deref(),
        Some("Support.Customers")
    );
    assert_eq!(copy_table("COPY ( select * from t ) TO STDOUT"), None);
    assert_eq!(copy_table("copycat"), None);
    let line = "2026-01-05 14:03:11 UTC [1] a@db LOG:  AUDIT: SESSION,1,2,READ,COPY,,,\"COPY  ( select * from support.customers ) TO STDOUT \",<not logged>,0";
    let mut p = PgAuditParser::stderr(&FormatsConfig::default()).unwrap();
    assert!(run(&mut p, line).is_empty(), "COPY (query) adds nothing");
    assert_eq!(p.skipped(), 1);
}

/// A csvlog record cut inside a quoted field is an error naming its line,
/// not a record skipped as not data access, and the records after it are
/// read.
#[test]
fn a_csvlog_record_cut_in_a_quote_costs_one_line() {
    let good = PG15_CSV.lines().last().unwrap();
    let mut log =
        String::from("2026-01-05 14:03:13.754 UTC,\"tthomas\",\"helpdesk\",16891,\"127.\n");
    for _ in 0..5 {
        log.push_str(good);
        log.push('\n');
    }
    let mut p = PgAuditParser::csvlog(&FormatsConfig::default());
    let out = run(&mut p, &log);
    let errs: Vec<String> = out
        .iter()
        .filter_map(|r| r.as_ref().err().map(ToString::to_string))
        .collect();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("line 1") && errs[0].contains("quoted"),
        "{}",
        errs[0]
    );
    assert_eq!(out.iter().filter(|r| r.is_ok()).count(), 5);
    assert_eq!(p.skipped(), 0);
}

/// Audit records on lines the configured prefix does not match at all
/// (another server's `log_line_prefix`) are errors naming the line, not
/// lines skipped as not data access.
#[test]
fn audit_records_under_another_prefix_are_errors_not_skipped() {
    let log = "2026-01-05 14:03:14 UTC [16891]: user=tthomas,db=helpdesk LOG:  AUDIT: SESSION,10,1,READ,SELECT,TABLE,support.customers,SELECT * FROM support.customers;,<not logged>,68000\n\
               2026-01-05 14:03:15 UTC [16891]: user=tthomas,db=helpdesk LOG:  connection authorized\n";
    let mut p = PgAuditParser::stderr(&FormatsConfig::default()).unwrap();
    let out = run(&mut p, log);
    assert_eq!(out.len(), 1);
    let err = out[0].as_ref().unwrap_err().to_string();
    assert!(
        err.contains("line 1") && err.contains("pg_log_line_prefix"),
        "{err}"
    );
    assert_eq!(p.skipped(), 1);
}

/// A megabyte of words between the prefix and `LOG:  AUDIT:` is still
/// found to be a misplaced audit record (looking for one reads the line
/// backwards from its `AUDIT: `, once, not from every word on).
#[test]
fn a_misplaced_audit_record_after_a_megabyte_of_words_is_reported() {
    let line = format!(
        "2026-01-05 14:03:11.250 UTC [1] a@db {}LOG:  AUDIT: SESSION,1,1,READ,SELECT,TABLE,a.b,select 1,<not logged>,5",
        "a ".repeat(500_000)
    );
    let mut p = PgAuditParser::stderr(&FormatsConfig::default()).unwrap();
    let out = run(&mut p, &line);
    assert!(
        out[0]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("pg_log_line_prefix")
    );
}
