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
