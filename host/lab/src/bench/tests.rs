use super::*;

#[test]
fn spread_is_median_and_range() {
    let s = Spread::of(&[3.0, 1.0, 2.0]);
    assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
    let s = Spread::of(&[4.0, 1.0]);
    assert_eq!(s.median, 2.5);
}

#[test]
fn groups_thousands() {
    assert_eq!(group(1_234_567.0), "1,234,567");
    assert_eq!(group(999.0), "999");
    assert_eq!(group(1000.0), "1,000");
}

#[test]
fn refuses_empty_options() {
    let o = Options {
        reps: 0,
        ..Options::quick()
    };
    assert!(o.check().is_err());
    assert!(Options::standard().check().is_ok());
}
