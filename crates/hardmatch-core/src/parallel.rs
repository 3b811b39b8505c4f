//! The use of a second processor: scoped threads over borrowed inputs.
//!
//! A million-user diagnosis has independent parts (the tenant's indexes, the on-premises
//! hygiene, each half of the per-user statuses) that would otherwise leave one of two cores
//! idle, and so has the text of a million-user plan or table. Work is split and joined in a
//! fixed order, so results never depend on scheduling.

use std::thread::ScopedJoinHandle;

/// Runs `second` on another thread while `first` runs on this one, and returns both.
/// A panic on either side is a bug and is carried on unchanged.
pub fn both<First, Second: Send>(
    first: impl FnOnce() -> First,
    second: impl FnOnce() -> Second + Send,
) -> (First, Second) {
    std::thread::scope(|scope| {
        let handle = scope.spawn(second);
        let first = first();
        (first, joined(handle))
    })
}

/// Fewer items than this are worked on this thread alone: a thread costs more than they
/// take (the emulator runs a cycle over a handful of users at every sync).
pub const ITEMS_WORTH_A_THREAD: usize = 4096;

/// `map` of every item that gives one, in order: the first half of `items` on this thread,
/// the second on another. `map` is given each item's position in `items`.
pub(crate) fn filter_map_in_halves<'t, T: Sync, U: Send>(
    items: &'t [T],
    map: impl Fn(usize, &'t T) -> Option<U> + Sync,
) -> Vec<U> {
    if items.len() < ITEMS_WORTH_A_THREAD {
        let mapped = items.iter().enumerate();
        return mapped
            .filter_map(|(position, item)| map(position, item))
            .collect();
    }
    let middle = items.len() / 2;
    let (first, second) = items.split_at(middle);
    let map = &map;
    let (mut first, second) = both(
        || {
            let mapped = first.iter().enumerate();
            mapped
                .filter_map(|(position, item)| map(position, item))
                .collect::<Vec<U>>()
        },
        || {
            let mapped = second.iter().enumerate();
            mapped
                .filter_map(|(position, item)| map(middle + position, item))
                .collect::<Vec<U>>()
        },
    );
    first.extend(second);
    first
}

/// `map` of every item, in order, as [`filter_map_in_halves`] makes it.
pub(crate) fn map_in_halves<'t, T: Sync, U: Send>(
    items: &'t [T],
    map: impl Fn(usize, &'t T) -> U + Sync,
) -> Vec<U> {
    filter_map_in_halves(items, |position, item| Some(map(position, item)))
}

/// `make` of each of `parts` parts (by number), handed to `each` in order. Parts of a job of
/// many `items` are made two at a time, one on this thread and one on another, so that one
/// core makes text while the other takes in what was made before. An error of `each` stops
/// the job.
pub fn in_order_by_twos<T: Send, E>(
    parts: usize,
    items: usize,
    make: impl Fn(usize) -> T + Sync,
    mut each: impl FnMut(T) -> Result<(), E>,
) -> Result<(), E> {
    if items < ITEMS_WORTH_A_THREAD {
        return (0..parts).try_for_each(|number| each(make(number)));
    }
    let make = &make;
    for first in (0..parts).step_by(2) {
        let second = first + 1;
        let (first, second) = both(|| make(first), || (second < parts).then(|| make(second)));
        each(first)?;
        if let Some(second) = second {
            each(second)?;
        }
    }
    Ok(())
}

/// The value of a finished scoped thread; its panic, if it had one, continues here.
pub(crate) fn joined<T>(handle: ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|payload| std::panic::resume_unwind(payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_returns_each_side_in_place() {
        let numbers: Vec<u64> = (1..=1000).collect();
        let (first, second) = both(
            || numbers[..500].iter().sum::<u64>(),
            || numbers[500..].iter().sum::<u64>(),
        );
        assert_eq!((first, second), (125_250, 375_250));
    }

    #[test]
    fn halves_map_every_item_in_order_with_its_position() {
        for length in [0, 1, 2, 7, ITEMS_WORTH_A_THREAD, ITEMS_WORTH_A_THREAD + 1] {
            let items: Vec<usize> = (100..100 + length).collect();
            let mapped = map_in_halves(&items, |position, item| (position, *item));
            let expected: Vec<(usize, usize)> = items.iter().copied().enumerate().collect();
            assert_eq!(mapped, expected);
            let odd =
                filter_map_in_halves(&items, |position, item| (item % 2 == 1).then_some(position));
            let expected: Vec<usize> = (0..length).filter(|position| position % 2 == 1).collect();
            assert_eq!(odd, expected);
        }
    }

    #[test]
    fn parts_by_twos_come_in_order_and_stop_at_an_error() {
        for (parts, items) in [
            (0, 0),
            (1, 10),
            (5, 10),
            (5, ITEMS_WORTH_A_THREAD),
            (6, ITEMS_WORTH_A_THREAD),
        ] {
            let mut seen = Vec::new();
            let done: Result<(), ()> = in_order_by_twos(
                parts,
                items,
                |number| number * 10,
                |part| {
                    seen.push(part);
                    Ok(())
                },
            );
            assert_eq!(done, Ok(()));
            assert_eq!(
                seen,
                (0..parts).map(|number| number * 10).collect::<Vec<_>>()
            );
        }
        let mut seen = Vec::new();
        let stopped = in_order_by_twos(
            7,
            ITEMS_WORTH_A_THREAD,
            |number| number,
            |part| {
                seen.push(part);
                if part == 2 { Err(part) } else { Ok(()) }
            },
        );
        assert_eq!(stopped, Err(2));
        assert_eq!(seen, [0, 1, 2]);
    }

    #[test]
    #[should_panic(expected = "the second side's own message")]
    fn a_panic_on_the_other_thread_continues_unchanged() {
        let _: ((), ()) = both(|| (), || panic!("the second side's own message"));
    }
}
