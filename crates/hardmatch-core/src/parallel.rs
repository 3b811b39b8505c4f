//! The core's use of a second processor: scoped threads over borrowed inputs.
//!
//! A million-user diagnosis has independent parts (the tenant's indexes, the on-premises
//! hygiene, each half of the per-user statuses) that would otherwise leave one of two cores
//! idle. Work is split and joined in a fixed order, so results never depend on scheduling.

use std::thread::ScopedJoinHandle;

/// Runs `second` on another thread while `first` runs on this one, and returns both.
/// A panic on either side is a bug and is carried on unchanged.
pub(crate) fn both<First, Second: Send>(
    first: impl FnOnce() -> First,
    second: impl FnOnce() -> Second + Send,
) -> (First, Second) {
    std::thread::scope(|scope| {
        let handle = scope.spawn(second);
        let first = first();
        (first, joined(handle))
    })
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
    #[should_panic(expected = "the second side's own message")]
    fn a_panic_on_the_other_thread_continues_unchanged() {
        let _: ((), ()) = both(|| (), || panic!("the second side's own message"));
    }
}
