//! Outlying event times: one event dated far from the rest of the stream
//! must not move the stream's clock.
//!
//! Event time drives everything the engine learns: each detector's learning
//! period starts at the first event it sees, the reorder watermark follows
//! the newest time, and the alert budget closes days by it. One line from a
//! device whose clock was reset, or with a mistyped year, would otherwise
//! move all of them at once. An event a year before the rest ends every
//! detector's learning period before the log has really begun (measured:
//! one such line put the false alerts of a generated 100-user, 20-day
//! database organisation from 0 to 70 per 1,000 user-days); one dated years
//! ahead makes every later event late. Splunk guards the same way against a
//! timestamp far from the previous one (`MAX_DIFF_SECS_HENCE`, 7 days).
//!
//! The rule, with `J = input.max_time_jump_days` (7; 0 turns it off):
//!
//! - **The start.** The first [`START_EVENTS`] events of a run wait. Sorted
//!   by time, they fall into groups wherever two neighbours are more than
//!   `J` apart; the group spanning the most distinct times (the largest of
//!   those) is the stream, and passes in arrival order. A few lines dated
//!   far from the rest, even of several users, cannot make themselves the
//!   log's start: the log outnumbers them. Nor can many lines of a clock
//!   that was never set: it stamps every event with one time
//!   (`1970-01-01T00:00:00`, a device's default), where a log's own
//!   events, even of one busy second, spread over more. A sorted export
//!   whose first lines were nineteen such events of nineteen users took
//!   them for its start, ended every detector's learning period 56 years
//!   before the log began, and alerted 348 times on a 300-user log that
//!   alerts once without them. A log is one group however long it runs
//!   with no gap over `J`: a log shorter than [`START_EVENTS`] decides at
//!   its end (or when input goes idle), and twenty events two days apart
//!   all pass, where a group of the events within `J` of the first of
//!   them let four through and refused sixteen. If no two of them are
//!   within `J`, there is no stream to stand out from and all pass.
//! - **In step.** Afterwards, an event within `J'` of the newest event time
//!   let through so far, or of the last event let through, passes on to the
//!   reorder stage at once: every event of an ordinary log, and each event
//!   of a backlog once it has been confirmed. `J'` is `J`, or
//!   [`SPACING_FACTOR`] times the log's usual spacing between events when
//!   that is longer, so a sparse log (an audit trail of a few events a
//!   month) is not taken for a string of outliers.
//! - **Waiting.** Any other event waits. Waiting events are *confirmed*
//!   when an event that would wait arrives within `J'` of them and, with
//!   them, it makes a group of [`MIN_RUN`] events at more than one time: a
//!   log resuming after an outage. Lines of one instant ahead of the
//!   stream need [`STUCK_RUN`] of them: twenty lines stamped
//!   2100-01-01T00:00:00 (a stuck clock, or a client sending them) sent to
//!   a service that had gone quiet moved its clock 74 years on, and every
//!   later event of its 300 users was scored late, out of order. Behind the stream (a backlog delivered late), a group of two
//!   users is enough: it moves nothing but itself, where a group ahead
//!   moves the stream's clock and makes every later event late. The group
//!   passes, in arrival order. One user's few events do not confirm each
//!   other: a device whose clock was reset dates all its events wrong.
//! - At most [`MAX_WAITING`] events wait; past that the oldest is refused.
//! - Waiting events are carried in checkpoints. At the end of a run
//!   without state, those still waiting are refused; a run with state keeps
//!   them waiting in its checkpoint, for the input that may follow.
//!
//! A refused event is counted (`time outliers` in the summary,
//! `ueba_events_time_outliers_total`) and the first is named, never scored.
//! A log with no outlier is scored exactly as without the guard: its first
//! events wait only until [`START_EVENTS`] have come, and pass in their
//! order.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::encode::Compact;

/// Most events waiting for another to confirm their time.
pub const MAX_WAITING: usize = 1024;

/// Events within reach of each other that confirm their time whoever they
/// belong to: a jump ahead of the stream needs this many; a group behind
/// it, this many or two users.
pub const MIN_RUN: usize = 8;

/// Events of one instant that confirm a jump ahead by themselves: fewer
/// need a second time among them ([`MIN_RUN`] do).
pub const STUCK_RUN: usize = 512;

/// Events a run's start is decided on.
pub const START_EVENTS: usize = 32;

/// How many times the log's usual spacing between events a jump must
/// exceed, besides `J`, to make an event wait.
pub const SPACING_FACTOR: f64 = 8.0;

/// Weight of each new gap in the running spacing between events.
const SPACING_WEIGHT: f64 = 1.0 / 16.0;

/// What becomes of an event the guard held or was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// On to the reorder stage.
    Pass(i64, Compact),
    /// Not scored: its time stands alone, far from the stream's.
    Refuse(i64, Compact),
}

/// The guard's state: the events waiting for confirmation, in arrival
/// order, and how many it refused. Part of the scorer's checkpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Clock {
    waiting: VecDeque<(i64, Compact)>,
    /// The time of the last event let through.
    last: Option<i64>,
    /// The usual gap between events let through, ms: a running mean of
    /// the gaps between each and the one before it.
    spacing_ms: f64,
    /// Events refused, over every run of this state.
    pub(crate) refused: u64,
}

impl Clock {
    /// The jump past which an event waits: `jump_ms`, or the log's usual
    /// spacing times [`SPACING_FACTOR`] when that is longer.
    fn reach(&self, jump_ms: i64) -> u64 {
        let spaced = (self.spacing_ms * SPACING_FACTOR).min(i64::MAX as f64) as u64;
        jump_ms.unsigned_abs().max(spaced)
    }

    /// Note an event let through at `time_ms`.
    fn passed(&mut self, time_ms: i64) {
        if let Some(last) = self.last {
            let gap = last.abs_diff(time_ms) as f64;
            self.spacing_ms += (gap - self.spacing_ms) * SPACING_WEIGHT;
        }
        self.last = Some(time_ms);
    }

    /// Let `group` through, in order, noting each.
    fn pass(&mut self, group: impl IntoIterator<Item = (i64, Compact)>, out: &mut Vec<Decision>) {
        for (t, e) in group {
            self.passed(t);
            out.push(Decision::Pass(t, e));
        }
    }

    /// Whether an event at `time_ms` passes at once (and is noted as the
    /// last let through): the guard is off (`jump_ms` 0), or the event is
    /// in step with `newest`, the newest time let through (`None` before
    /// any), or with the last event let through.
    #[inline]
    pub(crate) fn in_step(&mut self, jump_ms: i64, newest: Option<i64>, time_ms: i64) -> bool {
        if jump_ms == 0 {
            return true;
        }
        let Some(newest) = newest else {
            return false;
        };
        let reach = self.reach(jump_ms);
        let near = |t: i64| t.abs_diff(time_ms) <= reach;
        let pass = near(newest) || self.last.is_some_and(near);
        if pass {
            self.passed(time_ms);
        }
        pass
    }

    /// Take an event that is not [`in_step`](Clock::in_step): it waits, or
    /// it confirms waiting ones. What is decided goes to `out`, in the
    /// order to score it.
    pub(crate) fn out_of_step(
        &mut self,
        jump_ms: i64,
        newest: Option<i64>,
        time_ms: i64,
        ev: Compact,
        out: &mut Vec<Decision>,
    ) {
        let Some(newest) = newest else {
            self.waiting.push_back((time_ms, ev));
            if self.waiting.len() >= START_EVENTS {
                self.start(jump_ms, out);
            }
            return;
        };
        let reach = self.reach(jump_ms);
        let near = |t: i64| t.abs_diff(time_ms) <= reach;
        let mut group = 1;
        let (mut users, mut times) = (false, false);
        for (t, e) in self.waiting.iter().filter(|(t, _)| near(*t)) {
            group += 1;
            users |= e.user != ev.user;
            times |= *t != time_ms;
        }
        // A group ahead of the stream moves its clock for every later
        // event (they become late), so it needs a run of its own, spread
        // over time as a log is: lines of one instant are a clock stuck
        // or never set, unless there are very many of them. A group behind
        // it (a backlog) moves nothing but itself.
        let ahead = time_ms > newest;
        let run = group >= MIN_RUN && (times || group >= STUCK_RUN);
        if run || (users && !ahead) {
            let (group, rest): (VecDeque<_>, VecDeque<_>) =
                self.waiting.drain(..).partition(|&(t, _)| near(t));
            self.waiting = rest;
            self.pass(group, out);
            self.pass([(time_ms, ev)], out);
            return;
        }
        self.waiting.push_back((time_ms, ev));
        if self.waiting.len() > MAX_WAITING
            && let Some((t, e)) = self.waiting.pop_front()
        {
            self.refused += 1;
            out.push(Decision::Refuse(t, e));
        }
    }

    /// Decide the start of a run from the events waiting. Sorted by time,
    /// they fall into groups wherever two neighbours are more than
    /// `jump_ms` apart; the group spanning the most distinct times passes,
    /// the largest among those (the latest on a tie), and the rest keep
    /// waiting. When no two are that close, all pass.
    fn start(&mut self, jump_ms: i64, out: &mut Vec<Decision>) {
        let reach = jump_ms.unsigned_abs();
        let mut times: Vec<i64> = self.waiting.iter().map(|&(t, _)| t).collect();
        times.sort_unstable();
        // (distinct times, events) of the group being read, and of the best.
        let (mut best, mut span) = ((0, 0), (0, 0));
        let (mut group, mut from) = ((0, 0), 0);
        for (i, &t) in times.iter().enumerate() {
            let prev = i.checked_sub(1).map(|p| times[p]);
            match prev {
                Some(p) if p.abs_diff(t) <= reach => {
                    group = (group.0 + usize::from(p != t), group.1 + 1);
                }
                _ => (group, from) = ((1, 1), t),
            }
            if group >= best {
                (best, span) = (group, (from, t));
            }
        }
        let waiting = std::mem::take(&mut self.waiting);
        if best.1 < 2 {
            self.pass(waiting, out);
            return;
        }
        let (group, rest): (VecDeque<_>, VecDeque<_>) = waiting
            .into_iter()
            .partition(|&(t, _)| (span.0..=span.1).contains(&t));
        self.waiting = rest;
        self.pass(group, out);
    }

    /// Input went idle: with nothing let through yet, the start is decided
    /// on the events so far; otherwise waiting events keep waiting.
    pub(crate) fn idle(&mut self, jump_ms: i64, newest: Option<i64>, out: &mut Vec<Decision>) {
        if newest.is_none() && !self.waiting.is_empty() {
            self.start(jump_ms, out);
        }
    }

    /// The input ended: the start is decided if it was not, and what still
    /// waits is refused.
    pub(crate) fn end(&mut self, jump_ms: i64, newest: Option<i64>, out: &mut Vec<Decision>) {
        self.idle(jump_ms, newest, out);
        self.refused += self.waiting.len() as u64;
        out.extend(self.waiting.drain(..).map(|(t, e)| Decision::Refuse(t, e)));
    }

    /// Events waiting now.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// The waiting events, for checking a restored state.
    pub(crate) fn waiting_events(&self) -> impl Iterator<Item = &Compact> {
        self.waiting.iter().map(|(_, e)| e)
    }
}

#[cfg(test)]
#[path = "clock_tests.rs"]
mod tests;
