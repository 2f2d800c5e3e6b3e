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
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A push (of a time and an arrival number, as the scorer's held events
    /// are ordered) or a pop.
    #[derive(Clone, Debug)]
    enum Op {
        Push(i64),
        Pop,
    }

    fn ops() -> impl Strategy<Value = Vec<Op>> {
        prop::collection::vec(
            prop_oneof![
                3 => (-3i64..4).prop_map(Op::Push),
                2 => Just(Op::Pop),
            ],
            0..300,
        )
    }

    proptest! {
        #[test]
        fn pops_in_the_order_a_heap_does(ops in ops(), start in 0i64..100) {
            let mut queue = OrderedQueue::default();
            let mut heap = BinaryHeap::new();
            // Mostly forward in time, with steps back: times drift upwards
            // like a live feed's, ties are common, and stragglers happen.
            let mut now = start;
            for (arrival, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Push(step) => {
                        now += step;
                        queue.push((now, arrival));
                        heap.push(Reverse((now, arrival)));
                    }
                    Op::Pop => {
                        prop_assert_eq!(queue.peek().copied(), heap.peek().map(|r| r.0));
                        prop_assert_eq!(queue.pop(), heap.pop().map(|r| r.0));
                    }
                }
                prop_assert_eq!(queue.len(), heap.len());
            }
            let mut rest: Vec<_> = queue.iter().copied().collect();
            rest.sort();
            let restored: OrderedQueue<_> = rest.iter().rev().copied().collect();
            let mut drained = Vec::new();
            let mut q = restored;
            while let Some(x) = q.pop() {
                drained.push(x);
            }
            prop_assert_eq!(drained, rest);
        }
    }

    #[test]
    fn in_order_items_never_touch_the_heap() {
        let mut q = OrderedQueue::default();
        for t in [1, 2, 2, 5, 9] {
            q.push(t);
        }
        assert!(q.stragglers.is_empty());
        q.push(3);
        assert_eq!(q.stragglers.len(), 1);
        let out: Vec<i32> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(out, [1, 2, 2, 3, 5, 9]);
        assert!(q.is_empty());
    }
}
