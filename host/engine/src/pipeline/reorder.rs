//! The reorder buffer's queue: smallest item first, cheap when items arrive
//! in order.
//!
//! The scorer holds every event until the allowed lateness has passed, then
//! releases them in event-time order. Nearly all input is already in order,
//! and a binary heap pays `O(log n)` moves of a whole held event on every
//! push and pop for it. [`OrderedQueue`] keeps items that arrive in order in
//! a plain FIFO run (`O(1)` both ways) and only the stragglers in a heap;
//! the smallest item is the smaller of the two fronts, so items come out in
//! exactly the order a single heap gives.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// A min-priority queue of `T` for mostly sorted input.
#[derive(Clone, Debug)]
pub struct OrderedQueue<T: Ord> {
    /// Items pushed in order, sorted, smallest at the front.
    run: VecDeque<T>,
    /// Items smaller than the run's last item when they were pushed.
    stragglers: BinaryHeap<Reverse<T>>,
}

impl<T: Ord> Default for OrderedQueue<T> {
    fn default() -> Self {
        OrderedQueue {
            run: VecDeque::new(),
            stragglers: BinaryHeap::new(),
        }
    }
}

impl<T: Ord> OrderedQueue<T> {
    /// Add an item.
    pub fn push(&mut self, item: T) {
        match self.run.back() {
            Some(last) if item < *last => self.stragglers.push(Reverse(item)),
            _ => self.run.push_back(item),
        }
    }

    /// The smallest item.
    pub fn peek(&self) -> Option<&T> {
        match (self.run.front(), self.stragglers.peek()) {
            (Some(a), Some(Reverse(b))) => Some(if b < a { b } else { a }),
            (a, b) => a.or(b.map(|Reverse(b)| b)),
        }
    }

    /// Remove and return the smallest item.
    pub fn pop(&mut self) -> Option<T> {
        let from_run = match (self.run.front(), self.stragglers.peek()) {
            (Some(a), Some(Reverse(b))) => a <= b,
            (a, _) => a.is_some(),
        };
        if from_run {
            self.run.pop_front()
        } else {
            self.stragglers.pop().map(|Reverse(b)| b)
        }
    }

    /// How many items are held.
    pub fn len(&self) -> usize {
        self.run.len() + self.stragglers.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every item, in no particular order (for saving state).
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.run
            .iter()
            .chain(self.stragglers.iter().map(|Reverse(b)| b))
    }
}

impl<T: Ord> FromIterator<T> for OrderedQueue<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        let mut q = OrderedQueue::default();
        for item in items {
            q.push(item);
        }
        q
    }
}

#[cfg(test)]
#[path = "reorder_tests.rs"]
mod tests;
