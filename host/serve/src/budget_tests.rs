use super::*;

#[test]
fn reservations_share_the_limit_and_give_it_back() {
    let b = Budget::new(100);
    let mut a = b.reserve(60).unwrap();
    assert!(b.reserve(41).is_none());
    let c = b.reserve(40).unwrap();
    assert_eq!(b.used(), 100);
    assert!(!a.grow_to(61));
    assert!(a.grow_to(60));
    drop(c);
    assert!(a.grow_to(100));
    assert_eq!(b.used(), 100);
    drop(a);
    assert_eq!(b.used(), 0);
    assert!(b.reserve(usize::MAX).is_none());
    assert_eq!(b.used(), 0);
}
