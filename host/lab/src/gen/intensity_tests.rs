use std::collections::HashMap;
use std::path::Path;

use super::super::{GenConfig, Scenario, generate, generate_with};
use super::*;

fn cfg() -> GenConfig {
    GenConfig {
        users: 60,
        days: 21,
        seed: 3,
        ..GenConfig::default()
    }
}

fn run(intensity: Option<&Intensity>, dir: &Path) -> Vec<Scenario> {
    generate_with(&cfg(), intensity, dir, &mut |_, _| {})
        .expect("generate")
        .scenarios
}

fn scenario<'a>(s: &'a [Scenario], name: &str) -> &'a Scenario {
    s.iter().find(|x| x.name == name).expect("scenario")
}

/// Minutes after midnight of the first `HH:MM` after `marker` in `text`.
fn clock_after(text: &str, marker: &str) -> i64 {
    let at = text.find(marker).expect("marker") + marker.len();
    let t = text[at..].trim_start();
    let h: i64 = t[0..2].parse().expect("hour");
    let m: i64 = t[3..5].parse().expect("minute");
    h * 60 + m
}

const WEAK: Intensity = Intensity {
    exfil_factor: 1.5,
    off_hours_shift_hours: 1.0,
    novel: NovelTables::PeerUsed,
};
const STRONG: Intensity = Intensity {
    exfil_factor: 1000.0,
    off_hours_shift_hours: 10.0,
    novel: NovelTables::NeverUsed,
};

#[test]
fn no_intensity_is_the_default_generator() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    generate(&cfg(), a.path(), &mut |_, _| {}).unwrap();
    run(None, b.path());
    for f in ["events.jsonl", "identities.csv", "labels.json"] {
        assert!(
            std::fs::read(a.path().join(f)).unwrap() == std::fs::read(b.path().join(f)).unwrap(),
            "{f} differs"
        );
    }
}

#[test]
fn the_same_people_attack_at_every_intensity_with_the_asked_strength() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let weak = run(Some(&WEAK), a.path());
    let strong = run(Some(&STRONG), b.path());
    let users = |s: &[Scenario]| s.iter().map(|x| x.user.clone()).collect::<Vec<_>>();
    assert_eq!(users(&weak), users(&strong));

    for (s, factor) in [(&weak, 1.5), (&strong, 1000.0)] {
        let d = &scenario(s, "slow-exfiltration").description;
        let at = d.find("about ").expect("factor") + 6;
        let got: f64 = d[at..d[at..].find('×').expect("×") + at]
            .parse()
            .expect("number");
        assert!(
            (got / factor - 1.0).abs() < 0.2,
            "asked {factor}×, got: {d}"
        );
    }
    for (s, hours) in [(&weak, 1), (&strong, 10)] {
        let d = &scenario(s, "off-hours").description;
        let end = clock_after(d, "–");
        let start = clock_after(d, "between");
        let after = (start - end).rem_euclid(24 * 60);
        assert!(
            (hours * 60..=hours * 60 + 15).contains(&after),
            "{hours} h after the shift: {d}"
        );
    }
    let never = &scenario(&strong, "novel-table").description;
    assert!(never.contains("hr.salaries"), "{never}");
    let peer = &scenario(&weak, "novel-table").description;
    assert!(
        peer.contains("which their peer group reads and they never have"),
        "{peer}"
    );
}

#[test]
fn peer_used_tables_are_read_by_peers_and_new_to_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let s = run(Some(&WEAK), dir.path());
    let novel = scenario(&s, "novel-table");
    let group: HashMap<String, String> = std::fs::read_to_string(dir.path().join("identities.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split(',');
            Some((f.next()?.to_string(), f.next()?.to_string()))
        })
        .collect();
    let table = novel.description.split_whitespace().nth(4).expect("table");
    let (mut peers, mut own_before) = (0, 0);
    for line in std::fs::read_to_string(dir.path().join("events.jsonl"))
        .unwrap()
        .lines()
    {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        if e["resource"] != table {
            continue;
        }
        let user = e["user"].as_str().unwrap();
        if user == novel.user {
            own_before += usize::from(
                e["timestamp"].as_str().unwrap() < novel.start.as_deref().unwrap_or(""),
            );
        } else if group[user] == group[&novel.user] {
            peers += 1;
        }
    }
    assert!(peers > 0, "no peer reads {table}: {}", novel.description);
    assert_eq!(own_before, 0, "{} read {table} before", novel.user);
}

#[test]
fn out_of_range_intensities_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for bad in [
        Intensity {
            exfil_factor: 1.0,
            ..WEAK
        },
        Intensity {
            exfil_factor: f64::NAN,
            ..WEAK
        },
        Intensity {
            off_hours_shift_hours: 15.0,
            ..WEAK
        },
    ] {
        let e = generate_with(&cfg(), Some(&bad), dir.path(), &mut |_, _| {});
        assert!(matches!(e, Err(GenError::InvalidConfig(_))), "{bad:?}");
    }
}
