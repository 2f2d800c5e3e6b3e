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
//! - An event within `J` of the newest event time let through so far, or
//!   of the last event let through, passes on to the reorder stage at
//!   once: every event of an ordinary log, and each event of a backlog
//!   once its first two have passed.
//! - Any other event *waits*: one further than `J` from that time, and
//!   every event before the first one has passed.
//! - Waiting events are *confirmed* when an event that would wait arrives
//!   within `J` of them and, with them, it makes a group of two users, or
//!   of [`MIN_RUN`] events: the stream is there (the first events of a run;
//!   a log resuming after an outage; a backlog delivered late). The group
//!   passes, in arrival order. One user's few events do not confirm each
//!   other: a device whose clock was reset dates all its events wrong.
//! - At most [`MAX_WAITING`] events wait; past that the oldest is decided:
//!   it passes if nothing has passed yet (there is no stream to stand out
//!   from), else it is refused.
//! - Waiting events are carried in checkpoints. When input goes idle, they
//!   pass if nothing has passed yet; at the end of a run, those still
//!   waiting are refused, unless nothing ever passed.
//!
//! A refused event is counted (`time outliers` in the summary,
//! `ueba_events_time_outliers_total`) and the first is named, never scored.
//! A log with no outlier is scored exactly as without the guard: its first
//! event waits only for the second, and both pass in their order.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::encode::Compact;

/// Most events waiting for another to confirm their time.
pub const MAX_WAITING: usize = 1024;

/// Events of one user that confirm each other's time.
pub const MIN_RUN: usize = 8;

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
    /// Events refused, over every run of this state.
    pub(crate) refused: u64,
}

impl Clock {
    /// Whether an event at `time_ms` passes at once (and is noted as the
    /// last let through): the guard is off (`jump_ms` 0), or the event is
    /// within `jump_ms` of `newest`, the newest time let through (`None`
    /// before any), or of the last event let through.
    #[inline]
    pub(crate) fn in_step(&mut self, jump_ms: i64, newest: Option<i64>, time_ms: i64) -> bool {
        let near =
            |t: Option<i64>| t.is_some_and(|t| t.abs_diff(time_ms) <= jump_ms.unsigned_abs());
        let pass = jump_ms == 0 || near(newest) || near(self.last);
        if pass {
            self.last = Some(time_ms);
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
        let near = |t: i64| t.abs_diff(time_ms) <= jump_ms.unsigned_abs();
        let mut group = 1;
        let mut users = false;
        for (_, e) in self.waiting.iter().filter(|(t, _)| near(*t)) {
            group += 1;
            users |= e.user != ev.user;
        }
        if users || group >= MIN_RUN {
            let (group, rest): (VecDeque<_>, VecDeque<_>) =
                self.waiting.drain(..).partition(|&(t, _)| near(t));
            self.waiting = rest;
            out.extend(group.into_iter().map(|(t, e)| Decision::Pass(t, e)));
            out.push(Decision::Pass(time_ms, ev));
            self.last = Some(time_ms);
            return;
        }
        self.waiting.push_back((time_ms, ev));
        if self.waiting.len() > MAX_WAITING
            && let Some((t, e)) = self.waiting.pop_front()
        {
            if newest.is_some() {
                self.refused += 1;
                out.push(Decision::Refuse(t, e));
            } else {
                out.push(Decision::Pass(t, e));
                self.last = Some(t);
            }
        }
    }

    /// Input went idle: with nothing let through yet there is no stream
    /// for the waiting events to stand out from, so they pass; otherwise
    /// they keep waiting.
    pub(crate) fn idle(&mut self, newest: Option<i64>, out: &mut Vec<Decision>) {
        if newest.is_none() {
            self.last = self.waiting.back().map(|&(t, _)| t).or(self.last);
            out.extend(self.waiting.drain(..).map(|(t, e)| Decision::Pass(t, e)));
        }
    }

    /// The input ended: what still waits is refused, unless nothing ever
    /// passed.
    pub(crate) fn end(&mut self, newest: Option<i64>, out: &mut Vec<Decision>) {
        if newest.is_none() {
            self.idle(newest, out);
            return;
        }
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
