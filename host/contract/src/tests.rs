//! The codec on a columns type shaped like the generated ones.

use super::*;

/// The fields every generated `Events` type has.
#[derive(Clone, Debug, PartialEq)]
struct Columns {
    seq: Vec<u64>,
    time_ms: Vec<i64>,
    utc_offset_minutes: Vec<i32>,
    user: Vec<u32>,
    peer_group: Vec<u32>,
    manager: Vec<u32>,
    action: Vec<u32>,
    resource: Vec<u32>,
    source: Vec<u32>,
    rows: Vec<u64>,
    bytes: Vec<u64>,
    outcome: Vec<u8>,
    learn: Vec<bool>,
}

columns!(Columns);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GeneratedKind {
    User,
    Resource,
    Action,
    Source,
    PeerGroup,
}

symbol_kinds!(GeneratedKind);

fn sample() -> Vec<Event> {
    vec![
        Event {
            seq: 7,
            time_ms: -5,
            utc_offset_minutes: -300,
            user: 1,
            peer_group: Some(0),
            manager: Some(4),
            action: 2,
            resource: 3,
            source: None,
            rows: 68_000,
            bytes: Some(0),
            outcome: Outcome::Failure,
            learn: false,
        },
        Event {
            seq: 8,
            peer_group: None,
            source: Some(NO_ID - 1),
            bytes: None,
            outcome: Outcome::Success,
            ..Event::default()
        },
    ]
}

#[test]
fn rows_survive_the_columns() {
    let rows = sample();
    let cols: Columns = rows.iter().collect();
    assert_eq!(cols.len(), 2);
    assert!(cols.lengths_agree());
    assert_eq!(cols.iter().collect::<Vec<_>>(), rows);
    assert_eq!(cols.get(2), None);
}

#[test]
fn missing_values_become_the_documented_sentinels() {
    let cols: Columns = sample().iter().collect();
    assert_eq!(cols.source[0], u32::MAX);
    assert_eq!(cols.peer_group[1], u32::MAX);
    assert_eq!(cols.manager, vec![4, u32::MAX]);
    assert_eq!(cols.bytes[1], u64::MAX);
    assert_eq!(cols.outcome, vec![2, 1]);
}

#[test]
fn a_byte_count_equal_to_the_sentinel_stays_known() {
    let e = Event {
        bytes: Some(u64::MAX),
        ..Event::default()
    };
    let cols: Columns = [e].iter().collect();
    assert_eq!(cols.get(0).and_then(|e| e.bytes), Some(u64::MAX - 1));
}

#[test]
fn ragged_columns_are_noticed_and_never_read_past() {
    let mut cols: Columns = sample().iter().collect();
    cols.outcome.pop();
    assert!(!cols.lengths_agree());
    assert_eq!(cols.column_lengths(), [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 2]);
    assert_eq!(cols.iter().count(), 1);
}

#[test]
fn undefined_outcome_codes_read_as_unknown() {
    for o in [Outcome::Unknown, Outcome::Success, Outcome::Failure] {
        assert_eq!(Outcome::from_code(o.code()), o);
    }
    assert_eq!(Outcome::from_code(200), Outcome::Unknown);
}

#[test]
fn symbol_kinds_convert_both_ways() {
    for k in SymbolKind::ALL {
        assert_eq!(SymbolKind::from(GeneratedKind::from(k)), k);
        assert_eq!(SymbolKind::ALL[k.index()], k);
    }
}

#[test]
fn local_time_follows_the_offset() {
    // 2026-01-05T02:30Z is a Monday; in Chicago (UTC-6) it is Sunday 20:30.
    let e = Event {
        time_ms: 1_767_571_200_000 + 2 * HOUR_MS + 30 * 60_000,
        utc_offset_minutes: -360,
        ..Event::default()
    };
    assert_eq!(e.local_hour(), 20);
    assert_eq!(e.local_weekday(), 6);
    assert!(e.is_weekend());
    assert_eq!(e.local_day(), e.time_ms.div_euclid(DAY_MS) - 1);
}

#[test]
fn runs_of_events_copy_and_clear_column_by_column() {
    let rows = sample();
    let all: Columns = rows.iter().collect();
    let mut second = Columns::default();
    assert!(second.is_empty());
    second.extend_from(&all, 1..2);
    assert_eq!(second.iter().collect::<Vec<_>>(), rows[1..]);
    assert_eq!(second.byte_len(), 4 * 8 + 7 * 4 + 2);
    second.clear();
    assert!(second.is_empty() && second.lengths_agree());
}
