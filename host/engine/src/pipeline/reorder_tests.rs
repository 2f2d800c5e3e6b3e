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
