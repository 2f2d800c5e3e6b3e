//! The shared 0–100 score scale.
//!
//! Every detector turns its evidence into a tail probability `p`: how likely
//! an observation at least this extreme is under the entity's own baseline.
//! The score is `10 × −log10(p)`, capped at 100: p = 1e-3 scores 30, 1e-6
//! scores 60, 1e-9 scores 90. A score therefore means the same thing whichever
//! detector produced it, so the weights in the host's aggregation keep their
//! meaning, and an analyst can read "score 70" as "a one-in-ten-million event".

/// The smallest probability the scale distinguishes (score 100).
pub const P_FLOOR: f64 = 1e-10;

/// Score a tail probability on the shared scale. NaN and values outside
/// 0..=1 are clamped, so a numerical slip never breaks the scale.
pub fn score_from_p(p: f64) -> f32 {
    if p.is_nan() {
        return 0.0;
    }
    let p = p.clamp(P_FLOOR, 1.0);
    ((-10.0 * p.log10()) as f32).clamp(0.0, 100.0)
}

/// The tail probability a score stands for; the inverse of [`score_from_p`].
pub fn p_from_score(score: f32) -> f64 {
    10f64.powf(-f64::from(score.clamp(0.0, 100.0)) / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_points() {
        assert!((score_from_p(1e-3) - 30.0).abs() < 1e-4);
        assert!((score_from_p(1e-6) - 60.0).abs() < 1e-4);
        assert_eq!(score_from_p(1.0), 0.0);
        assert_eq!(score_from_p(1e-300), 100.0);
        assert_eq!(score_from_p(0.0), 100.0);
        assert_eq!(score_from_p(f64::NAN), 0.0);
        assert_eq!(score_from_p(7.0), 0.0);
    }

    #[test]
    fn inverse_round_trips() {
        for s in [0.0f32, 12.5, 60.0, 99.0] {
            assert!((score_from_p(p_from_score(s)) - s).abs() < 1e-3);
        }
    }
}
