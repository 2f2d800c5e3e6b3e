//! Days held out of learning, kept aside until the user is learned again.
//!
//! While the host holds a user out of learning (their alert episode is
//! open), their days close without teaching any baseline, so that an
//! ongoing attack is scored against the user's behaviour before it. The
//! host holds a user until the episode ends (their risk calms,
//! `risk.hold_days` pass, or an analyst judges it benign) and for good once
//! it is judged malicious; so a learned day after held ones means the
//! episode ended without that verdict, and what was held was the user's
//! normal after all: a new duty, a weekly report, a new level of work.
//! Dropping those days would leave the baselines where they were before
//! the episode, and the same routine would alert again after every hold.
//!
//! So a held day's totals are kept here instead: the user's rows per hour
//! and in all, each pair's events and rows and its hourly counts of the
//! hours that ended while the user was held (those that ended before were
//! learned as they ended), and the events of each kind. The user's first
//! event the host lets the detectors learn from again (`learn` true after
//! a held day) first learns the kept days, oldest first, as if each had
//! been learned when it closed, and ends the run of held days. At most
//! [`HELD_DAYS_KEPT`] days are kept per user (the oldest going first), and
//! of each day the [`HELD_PAIRS_KEPT`] pairs with the most events.

use serde::{Deserialize, Serialize};

use crate::kinds::KindToday;

/// Held days a user keeps aside: twice the host's default longest hold
/// (`risk.hold_days`, 7), the oldest going first; a user held for good
/// (a malicious verdict) keeps their latest fortnight.
pub const HELD_DAYS_KEPT: usize = 14;
/// Pairs a kept day holds, those with the most events; the rest of its
/// pairs are not learned, though their rows still count in the day's
/// totals.
pub const HELD_PAIRS_KEPT: usize = 64;
/// Hourly counts kept over a user's held day (24 for each of 64 busy
/// pairs); counts beyond are not learned.
pub const HELD_HOURS_KEPT: usize = 24 * HELD_PAIRS_KEPT;

/// What a user's held days left to learn.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Held {
    /// Days kept aside, oldest first.
    pub days: Vec<HeldDay>,
    /// The current held day's pair hours that ended while the user was
    /// held: (resource, events in the hour).
    pub hours: Vec<(u32, u32)>,
}

/// One held day of a user, as its close would have learned it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct HeldDay {
    /// The user's rows (in read units) per local hour.
    pub hours: [u64; 24],
    /// The user's rows (in read units) that day.
    pub total: u64,
    /// The pairs the user had events of.
    pub pairs: Vec<HeldPair>,
    /// The kinds of resources the user had events of.
    pub kinds: Vec<KindToday>,
}

/// One pair's part of a held day.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct HeldPair {
    /// The pair's resource.
    pub resource: u32,
    /// Events on it that day.
    pub events: u32,
    /// Rows read of it that day.
    pub rows: u64,
    /// Events in each hour of the day not yet learned, in no order.
    pub hours: Vec<u32>,
}

impl Held {
    /// Count an hour of a pair that ended while the user was held.
    pub fn hour_ended(&mut self, resource: u32, events: u32) {
        if events > 0 && self.hours.len() < HELD_HOURS_KEPT {
            self.hours.push((resource, events));
        }
    }

    /// Keep a held day aside: `pairs` are the day's pairs with events
    /// (resource, events, rows, events in the hour in progress); the hours
    /// counted by [`Held::hour_ended`] join them.
    pub fn keep(
        &mut self,
        hours: [u64; 24],
        total: u64,
        mut pairs: Vec<(u32, u32, u64, u32)>,
        kinds: Vec<KindToday>,
    ) {
        if pairs.len() > HELD_PAIRS_KEPT {
            pairs.sort_by_key(|&(resource, events, _, _)| (std::cmp::Reverse(events), resource));
            pairs.truncate(HELD_PAIRS_KEPT);
        }
        // By resource, each pair's hours in the order they ended: a
        // stable sort.
        let mut ended = std::mem::take(&mut self.hours);
        ended.sort_by_key(|&(resource, _)| resource);
        let pairs = pairs
            .into_iter()
            .map(|(resource, events, rows, last_hour)| {
                let from = ended.partition_point(|&(r, _)| r < resource);
                let to = ended.partition_point(|&(r, _)| r <= resource);
                let mut hours: Vec<u32> = ended[from..to].iter().map(|&(_, n)| n).collect();
                if last_hour > 0 {
                    hours.push(last_hour);
                }
                HeldPair {
                    resource,
                    events,
                    rows,
                    hours,
                }
            })
            .collect();
        if self.days.len() >= HELD_DAYS_KEPT {
            self.days.remove(0);
        }
        self.days.push(HeldDay {
            hours,
            total,
            pairs,
            kinds,
        });
    }

    /// The kept days, to be learned now, oldest first.
    pub fn take(&mut self) -> Vec<HeldDay> {
        self.hours.clear();
        std::mem::take(&mut self.days)
    }
}
