use super::*;

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

#[test]
fn roc_auc_of_perfect_reversed_tied_and_mixed_rankings() {
    let perfect = [(0.9, true), (0.8, true), (0.3, false), (0.1, false)];
    assert!(close(roc_auc(&perfect), 1.0));
    let reversed = [(0.9, false), (0.8, false), (0.3, true), (0.1, true)];
    assert!(close(roc_auc(&reversed), 0.0));
    let all_tied = [(0.5, true), (0.5, false), (0.5, false)];
    assert!(close(roc_auc(&all_tied), 0.5));
    // Positives 0.8, 0.4; negatives 0.6, 0.4, 0.2: pairs won
    // 0.8: 3; 0.4: beats 0.2, ties 0.4 = 1.5; total 4.5 of 6.
    let mixed = [
        (0.8, true),
        (0.6, false),
        (0.4, true),
        (0.4, false),
        (0.2, false),
    ];
    assert!(close(roc_auc(&mixed), 0.75));
    assert_eq!(roc_auc(&[(1.0, true)]), None);
    assert_eq!(roc_auc(&[(1.0, false)]), None);
    assert_eq!(roc_auc(&[]), None);
}

#[test]
fn average_precision_by_hand() {
    let perfect = [(0.9, true), (0.8, true), (0.3, false)];
    assert!(close(average_precision(&perfect), 1.0));
    // Ranked: +, -, +, -: precision at the positives 1/1 and 2/3.
    let ranked = [(0.9, true), (0.7, false), (0.5, true), (0.1, false)];
    assert!(close(average_precision(&ranked), (1.0 + 2.0 / 3.0) / 2.0));
    // A tie group of one positive and three negatives first: precision
    // 1/4 for that positive, then 2/5 for the next.
    let tied = [
        (0.9, true),
        (0.9, false),
        (0.9, false),
        (0.9, false),
        (0.2, true),
    ];
    assert!(close(average_precision(&tied), (0.25 + 0.4) / 2.0));
    let reversed = [(0.9, false), (0.1, true)];
    assert!(close(average_precision(&reversed), 0.5));
    assert_eq!(average_precision(&[(1.0, false)]), None);
}

#[test]
fn recall_at_fpr_by_hand() {
    // 4 positives, 10 negatives.
    let mut items = vec![(0.95, true), (0.9, true), (0.85, false), (0.8, true)];
    items.extend((0..9).map(|i| (0.5 - f64::from(i) * 0.01, false)));
    items.push((0.1, true));
    // FPR 0: only above the first negative: 2 of 4.
    assert!(close(recall_at_fpr(&items, 0.0), 0.5));
    // FPR 10% allows one negative: 3 of 4.
    assert!(close(recall_at_fpr(&items, 0.1), 0.75));
    assert!(close(recall_at_fpr(&items, 0.05), 0.5));
    assert!(close(recall_at_fpr(&items, 1.0), 1.0));
    // A tie group straddling the limit cannot be split.
    let tied = [(0.9, true), (0.9, false), (0.1, true), (0.1, false)];
    assert!(close(recall_at_fpr(&tied, 0.4), 0.0));
    assert!(close(recall_at_fpr(&tied, 0.5), 0.5));
}

#[test]
fn operating_points_at_cutoff_and_recall() {
    let items = [
        (90.0, true),
        (70.0, false),
        (60.0, true),
        (60.0, false),
        (20.0, true),
        (0.0, false),
    ];
    let p = at_cutoff(&items, 60.0);
    assert_eq!((p.flagged, p.true_positives), (4, 2));
    assert!(close(p.recall, 2.0 / 3.0));
    assert!(close(p.precision, 0.5));
    // Recall 1/3 needs one positive: cut-off 90 flags just it.
    let r = at_recall(&items, 1.0 / 3.0);
    assert_eq!((r.cutoff, r.flagged, r.true_positives), (Some(90.0), 1, 1));
    assert!(close(r.precision, 1.0));
    // Recall 0.5 needs two: down to the 60 tie group.
    let r = at_recall(&items, 0.5);
    assert_eq!((r.cutoff, r.flagged, r.true_positives), (Some(60.0), 4, 2));
    let r = at_recall(&items, 1.0);
    assert_eq!((r.cutoff, r.flagged), (Some(20.0), 5));
    let none = at_recall(&items, 0.0);
    assert_eq!((none.cutoff, none.flagged, none.precision), (None, 0, None));
    let all = at_recall(&items, 2.0);
    assert_eq!(all.flagged, 6);
}
