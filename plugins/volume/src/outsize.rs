//! Outsized single reads: how often the organisation's readers make a read
//! many times their own usual one, so that a total carried by one such read
//! is judged no more surely than the log says such reads are rare.
//!
//! The hour, day and resource buckets judge totals, fitted on the user's
//! own history. A total can be far beyond that history because of one read:
//! an ad-hoc `SELECT *` of a whole table, an export behind a report. In some
//! logs that almost never happens, and one read of 68,000 rows by an agent
//! whose reads return a few rows is as rare as the totals say. In others
//! row counts have a heavy tail: one read in a thousand returns a thousand
//! times the reader's usual, and every day somebody's hour looks like a
//! bulk dump (an ERP's audit log from a separate generator: most false
//! alerts were such reads, on tables the users read every day, at their
//! usual hours).
//!
//! So every learned read with a usual read of the user's to compare with
//! ([`crate::reads`]) adds its *ratio* `ln(rows / usual)` to a histogram
//! of the organisation's reads. When a bucket's excess over its baseline's
//! median is at least half carried by the event's own read, and at least
//! [`MIN_READS`] of the log's reads were as outsized, the bucket's tail is
//! raised to `k × share`: `share` the fraction of reads at least that
//! outsized, `k` the reads in the bucket (any of them could have been the
//! outsized one). Up to e² (about seven times) beyond the largest ratio
//! ten of the log's reads reached, the share is carried on along the log's
//! own tail: it falls as `ratio^−α`, `α` the Hill estimate over the log's
//! fifty or so most outsized reads (a Pareto tail, which row counts with a
//! heavy tail follow; a log whose reads rarely stray has a large `α`, and
//! its share falls fast). Further out, the bucket keeps its own tail: the
//! log has not shown that such reads are ordinary, so a read ten thousand
//! times its reader's usual in a log whose largest ordinary reads are a
//! hundred times stays as strong as it was.
//!
//! A total made of many reads (a session of queries, a ramp of daily
//! extracts) is not carried by one, and is judged as before.

use serde::{Deserialize, Serialize};

/// Width of a histogram bin, in natural-log units of the ratio.
const BIN: f64 = 0.25;
/// Bins: ratios from 1 to `e^(BINS × BIN)` (about 10^10); larger ones
/// share the last bin.
const BINS: usize = 96;
/// Reads at least as outsized before their share is trusted.
pub const MIN_READS: u32 = 10;
/// How far beyond the largest ratio [`MIN_READS`] reads reached the share
/// is carried along the log's tail, in natural-log units (e², about seven
/// times): far enough that the log's own habit speaks for reads somewhat
/// larger than any it has many of, not so far that a read thousands of
/// times larger than anything ordinary is taken for one.
const REACH: f64 = 2.0;
/// Outsized reads (at least the usual) the tail's rate is measured on.
const TAIL_READS: u32 = 50;
/// Reads counted before the histogram is halved, so that it follows a log
/// whose habits change and its counts stay in range.
const HALVE_AT: u64 = 1 << 24;

/// Reads by how far each exceeded its reader's usual read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatioCounts {
    /// Reads counted (with a usual read to compare with), outsized or not.
    reads: u64,
    /// Reads whose ratio fell in each bin (ratios below 1 in none).
    bins: Vec<u32>,
}

impl Default for RatioCounts {
    fn default() -> Self {
        RatioCounts {
            reads: 0,
            bins: vec![0; BINS],
        }
    }
}

impl RatioCounts {
    /// Add `other`'s reads.
    fn add(&mut self, other: &RatioCounts) {
        if other.bins.len() != BINS || self.bins.len() != BINS {
            return;
        }
        self.reads = self.reads.saturating_add(other.reads);
        for (a, b) in self.bins.iter_mut().zip(&other.bins) {
            *a = a.saturating_add(*b);
        }
    }

    /// Refuse counts no reads give: another number of bins, or more
    /// outsized reads than reads.
    pub fn check(&self) -> Result<(), String> {
        if self.bins.len() != BINS {
            return Err(format!(
                "population share holds {} read-ratio bins, not {BINS}",
                self.bins.len()
            ));
        }
        let binned: u64 = self.bins.iter().map(|&n| u64::from(n)).sum();
        if binned > self.reads {
            return Err(format!(
                "population share holds {binned} outsized reads of {} reads",
                self.reads
            ));
        }
        Ok(())
    }
}

/// The organisation's reads by how far each exceeded its reader's usual
/// read: this instance's own readers' and, with shards, the other
/// instances' as of the last exchange.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadRatios {
    own: RatioCounts,
    others: RatioCounts,
}

/// How an outsized read bounded a bucket, for the finding.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outsized {
    /// The read's rows over the user's usual read.
    pub ratio: f64,
    /// The share of the log's reads at least as outsized.
    pub share: f64,
    /// Reads in the bucket.
    pub reads: u64,
    /// The bucket's own tail before the bound.
    pub own_p: f64,
}

impl ReadRatios {
    /// A learned read of `rows` by a user whose usual read is
    /// `e^usual_log` rows.
    pub fn learn(&mut self, rows: u64, usual_log: f64) {
        let own = &mut self.own;
        if rows == 0 || !usual_log.is_finite() || own.bins.len() != BINS {
            return;
        }
        if own.reads >= HALVE_AT {
            own.reads /= 2;
            for b in &mut own.bins {
                *b /= 2;
            }
        }
        own.reads += 1;
        // ln 1 is 0: a log of one-row events takes no logarithm a read.
        let r = if rows == 1 {
            -usual_log
        } else {
            (rows as f64).ln() - usual_log
        };
        if r >= 0.0 {
            let b = ((r / BIN) as usize).min(BINS - 1);
            own.bins[b] = own.bins[b].saturating_add(1);
        }
    }

    /// The share of the log's reads at least `ratio` times their reader's
    /// usual: counted where at least [`MIN_READS`] reads were (from the
    /// start of `ratio`'s bin, so a little generously), and up to
    /// [`REACH`] beyond that, carried on along the log's own tail
    /// ([`ReadRatios::tail_rate`]); `None` further out, or when the log
    /// has too few outsized reads to say.
    pub fn share(&self, ratio: f64) -> Option<f64> {
        let reads = self.own.reads.saturating_add(self.others.reads);
        if ratio.is_nan() || ratio < 1.0 || reads == 0 || self.own.bins.len() != BINS {
            return None;
        }
        let r = ratio.ln();
        let b = ((r / BIN) as usize).min(BINS - 1);
        let at_least = self.at_least();
        if at_least[b] >= u64::from(MIN_READS) {
            return Some(at_least[b] as f64 / reads as f64);
        }
        // The highest bin the log has shown enough reads at or above.
        let top = at_least.iter().rposition(|&n| n >= u64::from(MIN_READS))?;
        let from = top as f64 * BIN;
        if r - from > REACH {
            return None;
        }
        let rate = self.tail_rate(&at_least)?;
        Some(at_least[top] as f64 / reads as f64 * (-rate * (r - from)).exp())
    }

    /// Reads at or above each bin, own and others'.
    fn at_least(&self) -> [u64; BINS] {
        let mut at = [0u64; BINS];
        let mut sum = 0u64;
        for b in (0..BINS).rev() {
            let n = |c: &RatioCounts| c.bins.get(b).map_or(0, |&n| u64::from(n));
            sum += n(&self.own) + n(&self.others);
            at[b] = sum;
        }
        at
    }

    /// How fast the share of reads falls with the logarithm of the ratio
    /// in the log's tail: the Hill estimate, one over the mean excess of
    /// `ln ratio` over the start of the highest bin with at least
    /// [`TAIL_READS`] reads at or above it (bins taken at their middle).
    /// A share falling as `ratio^−α` (a Pareto tail, as row counts with a
    /// heavy tail have) has rate `α`; one falling faster, a larger rate.
    /// `None` without [`TAIL_READS`] outsized reads.
    fn tail_rate(&self, at_least: &[u64; BINS]) -> Option<f64> {
        let u = at_least.iter().rposition(|&n| n >= u64::from(TAIL_READS))?;
        let n = at_least[u] as f64;
        let excess: f64 = (u..BINS)
            .map(|b| {
                let count = at_least[b] - at_least.get(b + 1).copied().unwrap_or(0);
                count as f64 * ((b - u) as f64 + 0.5) * BIN
            })
            .sum();
        let mean = excess / n;
        (mean > 0.0).then(|| 1.0 / mean)
    }

    /// The tail `p` of a bucket whose total exceeds its baseline's median
    /// by what the event's read mostly carries, bounded by how often the
    /// log's reads are as outsized; `None` when the read does not carry
    /// it, or the log cannot say. `carried` is the median, what the read
    /// added to the total and its rows (the hour and day count a read of
    /// the size the user's group usually reads as less, `reads`), the
    /// user's usual read is `e^usual_log` rows, and the bucket holds
    /// `reads` reads.
    pub fn bound(
        &self,
        p: f64,
        total: u64,
        (median, counted, rows): (f64, u64, u64),
        usual_log: f64,
        reads: u64,
    ) -> Option<(f64, Outsized)> {
        let excess = total as f64 - median.max(0.0);
        if excess.is_nan() || excess <= 0.0 || (counted as f64) < 0.5 * excess || rows == 0 {
            return None;
        }
        let ratio = ((rows as f64).ln() - usual_log).exp();
        let share = self.share(ratio)?;
        let reads = reads.max(1);
        let bounded = (share * reads as f64).min(1.0);
        (bounded > p).then_some((
            bounded,
            Outsized {
                ratio,
                share,
                reads,
                own_p: p,
            },
        ))
    }

    /// This instance's own readers' counts, for the other instances.
    pub fn share_own(&self) -> RatioCounts {
        self.own.clone()
    }

    /// Replace the other instances' counts by the sum of `shares`.
    pub fn set_shared<'a>(&mut self, shares: impl IntoIterator<Item = &'a RatioCounts>) {
        let mut others = RatioCounts::default();
        for s in shares {
            others.add(s);
        }
        self.others = others;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The user's usual read, 20 rows, as a log.
    const U: f64 = 2.995_732_273_553_991;

    /// A log where one read in a hundred is a thousand times its reader's
    /// usual: the rest at the usual size.
    fn heavy() -> ReadRatios {
        let mut r = ReadRatios::default();
        for i in 0..10_000 {
            r.learn(if i % 100 == 0 { 20_000 } else { 20 }, U);
        }
        r
    }

    #[test]
    fn a_total_one_read_carries_is_as_rare_as_the_logs_outsized_reads() {
        let r = heavy();
        // An hour of 20,050 rows against a median of 40, one read of
        // 20,000 (a thousand times the user's 20) among 5 reads.
        let (p, why) = r
            .bound(1e-12, 20_050, (40.0, 20_000, 20_000), U, 5)
            .unwrap();
        assert!((why.share - 0.01).abs() < 1e-9, "{why:?}");
        assert!((p - 0.05).abs() < 1e-9, "{p}");
        assert_eq!(why.own_p, 1e-12);
    }

    #[test]
    fn a_total_of_many_reads_keeps_its_own_tail() {
        let r = heavy();
        // 13 reads of 4,000 rows: the last carries far less than half.
        assert_eq!(r.bound(1e-12, 52_000, (40.0, 4_000, 4_000), U, 13), None);
    }

    #[test]
    fn a_read_beyond_what_the_log_has_shown_keeps_its_own_tail() {
        let r = heavy();
        // A million rows is 50,000 times the usual, more than e² beyond
        // the thousand times ten reads reached.
        assert_eq!(
            r.bound(1e-12, 1_000_040, (40.0, 1_000_000, 1_000_000), U, 5),
            None
        );
        // Nor does a log of reads of the usual size bound anything.
        let mut calm = ReadRatios::default();
        for _ in 0..10_000 {
            calm.learn(20, U);
        }
        assert_eq!(
            calm.bound(1e-12, 20_050, (40.0, 20_000, 20_000), U, 5),
            None
        );
    }

    #[test]
    fn a_read_a_little_beyond_the_logs_largest_follows_its_tail() {
        // A Pareto tail of ratios: reads at least e^k times the usual fall
        // by e per unit of k (α = 1), from 4,096 reads at 1× down to 75 at
        // e^4 and 15 at e^5.
        let mut r = ReadRatios::default();
        let mut k: f64 = 0.125;
        while k < 6.0 {
            let n = (4096.0 * (-k).exp() * (1.0 - (-0.25f64).exp())).round() as u64;
            for _ in 0..n {
                r.learn((20.0 * k.exp()).round() as u64, U);
            }
            k += 0.25;
        }
        let at = |ratio: f64| r.share(ratio).unwrap();
        // Beyond the data, the share goes on falling about as the tail
        // does, by about e per unit of ln ratio.
        let (a, b) = (at(6f64.exp()), at(6.5f64.exp()));
        let fall = (a / b).ln() / 0.5;
        assert!((0.6..1.6).contains(&fall), "{fall}");
        assert!(a < at(5f64.exp()));
        // and stops e² beyond the last ratio ten reads reached.
        assert_eq!(r.share(10f64.exp()), None);
    }

    #[test]
    fn a_bound_only_raises_a_tail() {
        let r = heavy();
        assert_eq!(r.bound(0.5, 20_050, (40.0, 20_000, 20_000), U, 5), None);
    }

    #[test]
    fn other_instances_reads_count_and_a_malformed_share_is_refused() {
        let mut a = heavy();
        let b = heavy();
        a.set_shared([&b.share_own()]);
        assert!((a.share(1000.0).unwrap() - 0.01).abs() < 1e-9);
        // Nine outsized reads of its own and one of another instance's
        // reach the ten a share needs.
        let mut few = ReadRatios::default();
        for _ in 0..9 {
            few.learn(20_000, U);
        }
        assert_eq!(few.share(1000.0), None);
        let mut one = ReadRatios::default();
        one.learn(20_000, U);
        few.set_shared([&one.share_own()]);
        assert!(few.share(1000.0).is_some());
        let bad = RatioCounts {
            reads: 1,
            bins: vec![5; BINS],
        };
        assert!(bad.check().is_err());
        assert!(a.share_own().check().is_ok());
    }
}
