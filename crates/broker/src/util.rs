//! Small shared helpers: the wall clock in ms and random queue picks.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A random queue id in `[0, queue_nums)`; 0 when there are no queues.
pub fn random_queue_id(queue_nums: i32) -> i32 {
    if queue_nums <= 0 {
        return 0;
    }
    rand::random::<u32>()
        .checked_rem(queue_nums.unsigned_abs())
        .map_or(0, |q| q as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: random queue ids stay in range, including the degenerate counts. Method: many draws.
    #[test]
    fn random_queue_id_stays_in_range() {
        assert_eq!(random_queue_id(0), 0);
        assert_eq!(random_queue_id(-3), 0);
        for _ in 0..1000 {
            let q = random_queue_id(5);
            assert!((0..5).contains(&q));
        }
    }
}
