//! Ranking metrics over scored items (user-days): ROC-AUC, PR-AUC, recall at
//! a false-positive rate, and operating points at a cut-off or a recall.
//!
//! Items are `(score, positive)`. Everything is computed by sorting once by
//! score, highest first, and walking groups of equal scores: a cut-off flags
//! every item scoring at least it, so tied items are always flagged together
//! and no metric depends on the order of ties.

use serde::Serialize;

/// Counts behind the metrics: groups of tied scores, highest first, with the
/// running totals of positives and negatives flagged down to each.
struct Curve {
    /// (score, positives flagged at this cut-off, negatives flagged).
    steps: Vec<(f64, usize, usize)>,
    positives: usize,
    negatives: usize,
}

fn curve(items: &[(f64, bool)]) -> Curve {
    let mut sorted: Vec<(f64, bool)> = items.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut steps: Vec<(f64, usize, usize)> = Vec::new();
    let (mut tp, mut fp) = (0usize, 0usize);
    for (i, &(score, positive)) in sorted.iter().enumerate() {
        if positive {
            tp += 1;
        } else {
            fp += 1;
        }
        let last_of_group = sorted.get(i + 1).is_none_or(|next| next.0 != score);
        if last_of_group {
            steps.push((score, tp, fp));
        }
    }
    Curve {
        steps,
        positives: tp,
        negatives: fp,
    }
}

/// Area under the ROC curve: the probability that a random positive scores
/// above a random negative, ties counting one half (the Mann–Whitney U
/// statistic). `None` without both positives and negatives.
pub fn roc_auc(items: &[(f64, bool)]) -> Option<f64> {
    let c = curve(items);
    if c.positives == 0 || c.negatives == 0 {
        return None;
    }
    // Trapezoids between successive tie groups: a group's positives beat
    // the negatives below it and tie (half) with the negatives in it.
    let (mut area, mut prev_tp, mut prev_fp) = (0.0, 0usize, 0usize);
    for &(_, tp, fp) in &c.steps {
        let d_fp = (fp - prev_fp) as f64;
        area += d_fp * (prev_tp as f64 + tp as f64) / 2.0;
        prev_tp = tp;
        prev_fp = fp;
    }
    Some(area / (c.positives as f64 * c.negatives as f64))
}

/// Area under the precision–recall curve as average precision: the mean,
/// over positives, of the precision at the cut-off that first flags them
/// (a tie group is flagged at once, at its combined precision). It is the
/// step-wise area, which unlike the trapezoid does not reward interpolating
/// between operating points that cannot be reached. `None` without positives.
pub fn average_precision(items: &[(f64, bool)]) -> Option<f64> {
    let c = curve(items);
    if c.positives == 0 {
        return None;
    }
    let (mut ap, mut prev_tp) = (0.0, 0usize);
    for &(_, tp, fp) in &c.steps {
        if tp > prev_tp {
            ap += (tp - prev_tp) as f64 * tp as f64 / (tp + fp) as f64;
        }
        prev_tp = tp;
    }
    Some(ap / c.positives as f64)
}

/// The highest recall reachable while flagging at most `max_fpr` of the
/// negatives (with a cut-off that flags tie groups whole; flagging nothing
/// gives recall 0). `None` without both positives and negatives.
pub fn recall_at_fpr(items: &[(f64, bool)], max_fpr: f64) -> Option<f64> {
    let c = curve(items);
    if c.positives == 0 || c.negatives == 0 {
        return None;
    }
    let best = c
        .steps
        .iter()
        .filter(|&&(_, _, fp)| fp as f64 / c.negatives as f64 <= max_fpr + 1e-12)
        .map(|&(_, tp, _)| tp)
        .max()
        .unwrap_or(0);
    Some(best as f64 / c.positives as f64)
}

/// What flagging at one cut-off gives.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OperatingPoint {
    /// Items scoring at least this are flagged; `None` for a fixed rule or
    /// when nothing needs flagging.
    pub cutoff: Option<f64>,
    /// Items flagged (alert volume).
    pub flagged: usize,
    /// Positives among them.
    pub true_positives: usize,
    /// Share of all positives flagged; `None` without positives.
    pub recall: Option<f64>,
    /// Share of flagged items that are positive; `None` when nothing is flagged.
    pub precision: Option<f64>,
}

impl OperatingPoint {
    /// The point of `flagged` items of which `true_positives` are positive,
    /// out of `positives` in all.
    pub fn new(
        cutoff: Option<f64>,
        flagged: usize,
        true_positives: usize,
        positives: usize,
    ) -> Self {
        OperatingPoint {
            cutoff,
            flagged,
            true_positives,
            recall: (positives > 0).then(|| true_positives as f64 / positives as f64),
            precision: (flagged > 0).then(|| true_positives as f64 / flagged as f64),
        }
    }
}

/// Flag every item scoring at least `cutoff`.
pub fn at_cutoff(items: &[(f64, bool)], cutoff: f64) -> OperatingPoint {
    let positives = items.iter().filter(|i| i.1).count();
    let flagged: Vec<&(f64, bool)> = items.iter().filter(|i| i.0 >= cutoff).collect();
    let tp = flagged.iter().filter(|i| i.1).count();
    OperatingPoint::new(Some(cutoff), flagged.len(), tp, positives)
}

/// The highest cut-off whose recall is at least `recall`: the fewest items
/// to flag to catch that share of the positives. Recall 0 flags nothing;
/// when no cut-off reaches it (it exceeds 1) everything is flagged.
pub fn at_recall(items: &[(f64, bool)], recall: f64) -> OperatingPoint {
    let c = curve(items);
    let needed = (recall * c.positives as f64 - 1e-9).ceil().max(0.0) as usize;
    if needed == 0 {
        return OperatingPoint::new(None, 0, 0, c.positives);
    }
    let step = c
        .steps
        .iter()
        .find(|&&(_, tp, _)| tp >= needed)
        .or(c.steps.last());
    match step {
        Some(&(score, tp, fp)) => OperatingPoint::new(Some(score), tp + fp, tp, c.positives),
        None => OperatingPoint::new(None, 0, 0, c.positives),
    }
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
