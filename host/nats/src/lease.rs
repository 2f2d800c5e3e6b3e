//! Who scores a partition: a lease in the [`OWNERS_BUCKET`] KV bucket.
//!
//! The key is the partition, the value the owner's name. The bucket's
//! `max_age` is the lease's lifetime, so a key its owner stops refreshing
//! (the worker was killed) disappears by itself and another worker may
//! create it. Every write is conditional (create when absent, update at
//! the revision read), so two workers never both believe they won.
//!
//! [`OWNERS_BUCKET`]: crate::names::OWNERS_BUCKET

/// What a worker does about one partition, given the lease as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseStep {
    /// Nobody holds it: create the key (fails if someone was quicker).
    Acquire,
    /// It holds our name: refresh it at this revision. Also how a worker
    /// restarted under the same name takes its partitions back at once,
    /// without waiting for the old lease to lapse.
    Renew(u64),
    /// Another live worker holds it: leave the partition alone.
    HeldBy(String),
}

/// Decide from the current lease (owner and revision, `None` when absent
/// or deleted) what worker `me` does. Plain logic, so it is tested apart
/// from a server.
pub fn decide(current: Option<(&str, u64)>, me: &str) -> LeaseStep {
    match current {
        None => LeaseStep::Acquire,
        Some(("", _)) => LeaseStep::Acquire,
        Some((owner, rev)) if owner == me => LeaseStep::Renew(rev),
        Some((owner, _)) => LeaseStep::HeldBy(owner.to_string()),
    }
}

/// How often a lease of lifetime `ttl` is refreshed: three times per
/// lifetime, so two missed refreshes (a slow checkpoint, a hiccup) do not
/// lose it.
pub fn refresh_every(ttl: std::time::Duration) -> std::time::Duration {
    (ttl / 3).max(std::time::Duration::from_millis(100))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_or_deleted_is_taken() {
        assert_eq!(decide(None, "w1"), LeaseStep::Acquire);
        assert_eq!(decide(Some(("", 7)), "w1"), LeaseStep::Acquire);
    }

    #[test]
    fn own_lease_is_renewed_at_its_revision() {
        assert_eq!(decide(Some(("w1", 42)), "w1"), LeaseStep::Renew(42));
    }

    #[test]
    fn another_owner_is_left_alone() {
        assert_eq!(
            decide(Some(("w2", 3)), "w1"),
            LeaseStep::HeldBy("w2".into())
        );
    }

    #[test]
    fn refreshed_well_within_its_lifetime() {
        use std::time::Duration;
        assert_eq!(
            refresh_every(Duration::from_secs(9)),
            Duration::from_secs(3)
        );
        assert_eq!(
            refresh_every(Duration::from_millis(30)),
            Duration::from_millis(100)
        );
    }
}
