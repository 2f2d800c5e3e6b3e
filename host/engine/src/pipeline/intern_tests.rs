use super::*;

#[test]
fn ids_are_dense_per_kind_and_stable() {
    let mut i = Interner::default();
    assert_eq!(i.intern(SymbolKind::User, "alice"), Ok(0));
    assert_eq!(i.intern(SymbolKind::Resource, "alice"), Ok(0));
    assert_eq!(i.intern(SymbolKind::User, "bob"), Ok(1));
    assert_eq!(i.intern(SymbolKind::User, "alice"), Ok(0));
    assert_eq!(i.text(SymbolKind::User, 1), "bob");
    assert_eq!(i.text(SymbolKind::User, 9), "");
    assert_eq!(i.count(SymbolKind::User), 2);
}

#[test]
fn repeats_and_restores_keep_their_ids() {
    let mut i = Interner::default();
    let names = [
        "select", "select", "update", "select", "update", "update", "drop",
    ];
    let ids: Vec<u32> = names
        .iter()
        .map(|n| i.intern(SymbolKind::Action, n).unwrap())
        .collect();
    assert_eq!(ids, [0, 0, 1, 0, 1, 1, 2]);
    let mut restored = Interner::from_state(i.state()).unwrap();
    for (n, id) in names.iter().zip(&ids).rev() {
        assert_eq!(restored.intern(SymbolKind::Action, n), Ok(*id), "{n}");
    }
    assert_eq!(restored.intern(SymbolKind::Action, "grant"), Ok(3));
    assert_eq!(restored.log_len(), 4);
}

#[test]
fn log_sends_each_symbol_once() {
    let mut i = Interner::default();
    i.intern(SymbolKind::User, "alice").unwrap();
    let mark = i.log_len();
    i.intern(SymbolKind::User, "alice").unwrap();
    i.intern(SymbolKind::Action, "select").unwrap();
    let new: Vec<_> = i.since(mark).collect();
    assert_eq!(new, vec![(SymbolKind::Action, 0, "select")]);
    assert_eq!(i.since(0).count(), 2);
    assert_eq!(i.since(99).count(), 0);
}

#[test]
fn every_table_has_its_own_secret_seed() {
    // Names colliding in one table, or in one run, say nothing of another.
    let (a, b) = (SeededHash::default(), SeededHash::default());
    assert_ne!(a.hash_one("u0000001"), b.hash_one("u0000001"));
    assert_eq!(a.hash_one("u0000001"), a.clone().hash_one("u0000001"));
}

#[test]
fn names_past_the_budget_share_one_name_and_are_counted() {
    let mut i = Interner::default();
    // Room for two names of 8 bytes and their bookkeeping.
    i.set_budget(Some(2 * (8 + NAME_OVERHEAD_BYTES)));
    assert_eq!(i.intern(SymbolKind::Resource, "table-01"), Ok(0));
    assert_eq!(i.intern(SymbolKind::User, "alice-01"), Ok(0));
    let over = i.intern(SymbolKind::Resource, "table-02").unwrap();
    assert_eq!(i.text(SymbolKind::Resource, over), OVER_BUDGET_NAME);
    assert_eq!(i.intern(SymbolKind::Resource, "table-03"), Ok(over));
    assert_eq!(i.intern(SymbolKind::Resource, "table-02"), Ok(over));
    // Names held keep their ids; other kinds get their own pooled name.
    assert_eq!(i.intern(SymbolKind::Resource, "table-01"), Ok(0));
    assert_eq!(i.intern(SymbolKind::User, "alice-01"), Ok(0));
    let bob = i.intern(SymbolKind::User, "bob-0001").unwrap();
    assert_eq!(i.text(SymbolKind::User, bob), OVER_BUDGET_NAME);
    assert_eq!(i.over_budget(), [1, 3, 0, 0, 0]);
    // A restored interner counts what it holds against the budget.
    let mut restored = Interner::from_state(i.state()).unwrap();
    restored.set_budget(Some(2 * (8 + NAME_OVERHEAD_BYTES)));
    assert_eq!(restored.intern(SymbolKind::Resource, "table-04"), Ok(over));
    assert_eq!(restored.over_budget(), [0, 1, 0, 0, 0]);
    // With no budget nothing is pooled.
    let mut free = Interner::default();
    for n in 0..1000 {
        assert_eq!(free.intern(SymbolKind::Resource, &format!("t{n}")), Ok(n));
    }
}
