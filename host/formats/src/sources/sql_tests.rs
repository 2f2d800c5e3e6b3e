use super::*;
use crate::sources::MAX_EVENTS_PER_RECORD;

#[test]
fn finds_tables_after_from_join_into_update() {
    assert_eq!(
        tables("SELECT * FROM support.customers c JOIN support.tickets t ON c.id=t.cid"),
        ["support.customers", "support.tickets"]
    );
    assert_eq!(
        tables("select a from x, y as yy, \"My\".\"T\" where 1"),
        ["x", "y", "My.T"]
    );
    assert_eq!(tables("INSERT INTO `db`.`t1` (a) VALUES (1)"), ["db.t1"]);
    assert_eq!(tables("update low_priority t set a = 'from z'"), ["t"]);
    assert_eq!(
        tables("DELETE FROM t -- from comment\n WHERE a IN (SELECT b FROM u)"),
        ["t", "u"]
    );
    assert_eq!(tables("select 1 from (select 2) q"), Vec::<String>::new());
    assert_eq!(tables("TRUNCATE TABLE hr.salaries"), ["hr.salaries"]);
    assert_eq!(
        tables("select 'it''s from x' /* from y */"),
        Vec::<String>::new()
    );
    assert_eq!(verb("  /* hint */ SELECT 1"), Some("select".into()));
}

/// A statement joining many tables names each of them once, however many
/// there are: the bound on events per record is the caller's, so a table
/// past it is refused with a count rather than dropped unseen.
#[test]
fn names_every_table_once_past_the_event_bound() {
    let names: Vec<String> = (0..80).map(|i| format!("t{i}")).collect();
    let sql = format!("select * from {} join t0 on 1=1", names.join(", "));
    assert_eq!(tables(&sql), names);
    let e = At { line: 9 };
    let err = each_table(&sql, e, "sqltext").unwrap_err();
    assert_eq!((err.line, err.field.as_deref()), (9, Some("sqltext")));
    assert!(err.message.contains("80 tables"), "{}", err.message);
    let within = format!(
        "select * from {}",
        names[..MAX_EVENTS_PER_RECORD].join(", ")
    );
    assert_eq!(
        each_table(&within, e, "sqltext").unwrap().len(),
        MAX_EVENTS_PER_RECORD
    );
}
