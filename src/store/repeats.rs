//! Repeat hand-outs. The vend audit has one row per (access key, client address, OAuth client):
//! the first time a key goes to a party its row is written and committed before the key leaves.
//! When the same key goes to the same party again (a cache hit), the row exists already, so the
//! hand-out is only counted here, in memory, and the backend adds the counts to the rows
//! (`hand_outs`, `last_at`) at most [`FLUSH_EVERY`] later, without the vend waiting for it. Reads
//! of the audit (`key_owner`, `last_vend`) write the pending counts first.
//!
//! What a crash can lose is the count and last time of at most the last second's repeats, never
//! the fact that a key went to a party.

use std::collections::HashMap;
use std::mem;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

/// How long counts wait in memory at most while vends go on.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// Hand-outs of one audit row since the last flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeat {
    pub row: i64,
    pub count: u32,
    pub last: OffsetDateTime,
}

pub struct Repeats {
    state: Mutex<State>,
}

struct State {
    counts: HashMap<i64, (u32, OffsetDateTime)>,
    since: Instant,
}

impl Repeats {
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State {
                counts: HashMap::new(),
                since: Instant::now(),
            }),
        }
    }

    /// Counts one more hand-out of `row`; returns the counts to write when they are due.
    pub fn note(&self, row: i64, at: OffsetDateTime) -> Option<Vec<Repeat>> {
        let mut s = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        add(
            &mut s,
            Repeat {
                row,
                count: 1,
                last: at,
            },
        );
        (s.since.elapsed() >= FLUSH_EVERY).then(|| take(&mut s))
    }

    /// Every pending count, now.
    pub fn take(&self) -> Vec<Repeat> {
        take(&mut self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Puts back counts the writer could not take.
    pub fn put_back(&self, repeats: Vec<Repeat>) {
        let mut s = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for r in repeats {
            add(&mut s, r);
        }
    }
}

/// Adds `r`'s hand-outs to its row's pending count, keeping the latest time.
fn add(s: &mut State, r: Repeat) {
    let e = s.counts.entry(r.row).or_insert((0, r.last));
    e.0 = e.0.saturating_add(r.count);
    e.1 = e.1.max(r.last);
}

fn take(s: &mut State) -> Vec<Repeat> {
    s.since = Instant::now();
    mem::take(&mut s.counts)
        .into_iter()
        .map(|(row, (count, last))| Repeat { row, count, last })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + secs).unwrap()
    }

    #[test]
    fn counts_add_up_per_row_and_keep_the_latest_time() {
        let r = Repeats::new();
        assert_eq!(r.note(7, at(2)), None, "not due within the first second");
        assert_eq!(r.note(7, at(1)), None);
        assert_eq!(r.note(9, at(3)), None);
        let mut taken = r.take();
        taken.sort_by_key(|x| x.row);
        assert_eq!(
            taken,
            [
                Repeat {
                    row: 7,
                    count: 2,
                    last: at(2)
                },
                Repeat {
                    row: 9,
                    count: 1,
                    last: at(3)
                }
            ]
        );
        assert!(r.take().is_empty(), "taken counts are gone");
    }

    #[test]
    fn counts_are_due_once_a_second_has_passed_and_put_back_ones_merge() {
        let r = Repeats::new();
        r.note(1, at(0));
        std::thread::sleep(FLUSH_EVERY);
        let due = r.note(1, at(5)).expect("due after FLUSH_EVERY");
        assert_eq!(
            due,
            [Repeat {
                row: 1,
                count: 2,
                last: at(5)
            }]
        );
        assert_eq!(r.note(1, at(6)), None, "the clock restarts at each flush");
        r.put_back(due);
        assert_eq!(
            r.take(),
            [Repeat {
                row: 1,
                count: 3,
                last: at(6)
            }]
        );
    }
}
