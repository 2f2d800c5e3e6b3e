use super::*;

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
