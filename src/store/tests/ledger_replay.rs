//! The ledger is exact whatever the delivery does, on every backend: a generated history of
//! events (creates, overwrites, removals, removals of keys never created) is delivered as a
//! seeded shuffle with duplicates, in batches of random sizes, by one applier and by two
//! replicas at once, and the ledger must end as the history's last event per key says.

use std::collections::BTreeMap;

use super::each_backend;
use super::ledger::{DEL, event, own_storage, put, t, totals};
use crate::identity::{ObjectEvent, OwnerStorage};
use crate::store::{Store, Totals};

/// Events, each with the storage it belongs to.
type Events = Vec<(OwnerStorage, ObjectEvent)>;

/// splitmix64: a seeded generator, so a failure names a seed that reproduces it.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// A history over three owners' storages (new ones for each seed): per key, events with rising
/// sequencers. Returns the events and each storage's totals after the last event of every key.
fn history(seed: u64, rng: &mut Rng) -> (Events, Vec<(OwnerStorage, Totals)>) {
    let storages = ["a", "b", "c"].map(|o| own_storage(&format!("auth0|{seed}-{o}")));
    let mut events = Vec::new();
    let mut expected = Vec::new();
    for s in &storages {
        let mut last: BTreeMap<String, Option<u64>> = BTreeMap::new();
        for k in 0..6 {
            let key = format!("dir/key {k}");
            // Sequencers of varying length, rising: padding must order them.
            let mut seq: u64 = 1 + rng.next() % 200;
            for _ in 0..=rng.below(5) {
                seq += 1 + rng.next() % 5_000;
                let change = if rng.below(3) == 0 {
                    DEL
                } else {
                    put(rng.next() % 10_000)
                };
                events.push((s.clone(), event(s, &key, change, &format!("{seq:X}"))));
                last.insert(
                    key.clone(),
                    match change {
                        crate::identity::ObjectChange::Created { size } => Some(size),
                        crate::identity::ObjectChange::Removed => None,
                    },
                );
            }
        }
        let live: Vec<u64> = last.values().flatten().copied().collect();
        let bytes = i64::try_from(live.iter().sum::<u64>()).unwrap();
        expected.push((s.clone(), t(bytes, i64::try_from(live.len()).unwrap())));
    }
    (events, expected)
}

/// The history shuffled, about a third of its events delivered twice, cut into batches of 1-8.
fn delivery(rng: &mut Rng, events: &[(OwnerStorage, ObjectEvent)]) -> Vec<Vec<(OwnerStorage, ObjectEvent)>> {
    let mut all: Vec<_> = events.to_vec();
    for e in events {
        if rng.below(3) == 0 {
            all.push(e.clone());
        }
    }
    rng.shuffle(&mut all);
    let mut batches = Vec::new();
    while !all.is_empty() {
        let n = (1 + rng.below(8)).min(all.len());
        batches.push(all.drain(..n).collect());
    }
    batches
}

async fn check(store: &Store, seed: u64, expected: &[(OwnerStorage, Totals)], events: &[(OwnerStorage, ObjectEvent)]) {
    for (s, want) in expected {
        assert_eq!(totals(store, s).await, *want, "seed {seed}: totals of {}", s.bucket);
    }
    // Every key holds its newest event.
    let mut newest: BTreeMap<(String, String), &ObjectEvent> = BTreeMap::new();
    for (_, e) in events {
        let at = newest.entry((e.bucket.clone(), e.key.clone())).or_insert(e);
        if e.sequencer > at.sequencer {
            *at = e;
        }
    }
    for ((_, key), e) in newest {
        let s = &events.iter().find(|(_, x)| x.bucket == e.bucket).unwrap().0;
        let row = store.ledger_object(&s.bucket, &key).await.unwrap().unwrap();
        assert_eq!(row.sequencer, e.sequencer.as_str(), "seed {seed}: {key}");
    }
}

#[tokio::test]
async fn any_order_with_duplicates_ends_as_the_history_says() {
    each_backend(|db| async move {
        for seed in 0..12 {
            let store = db.open().await;
            let mut rng = Rng(seed);
            let (events, expected) = history(seed, &mut rng);
            let mut submitted = 0;
            let mut counted = 0;
            for batch in delivery(&mut rng, &events) {
                submitted += batch.len();
                let done = store.ledger_apply(batch).await.unwrap();
                counted += (done.applied + done.stale) as usize;
            }
            assert_eq!(counted, submitted, "seed {seed}");
            check(&store, seed, &expected, &events).await;
        }
    })
    .await;
}

/// At-least-once delivery puts the same messages on two replicas: both apply every batch, at
/// the same time, in their own orders, and the ledger still counts each event once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_applying_the_same_messages_at_once_count_each_event_once() {
    each_backend(|db| async move {
        for seed in 100..116 {
            let (a, b) = (db.open().await, db.open().await);
            let mut rng = Rng(seed);
            let (events, expected) = history(seed, &mut rng);
            let (for_a, for_b) = (delivery(&mut rng, &events), delivery(&mut rng, &events));
            let run = |store: Store, batches: Vec<Vec<(OwnerStorage, ObjectEvent)>>| {
                tokio::spawn(async move {
                    let mut applied = 0;
                    for batch in batches {
                        applied += store.ledger_apply(batch).await.unwrap().applied;
                    }
                    applied
                })
            };
            let (ra, rb) = tokio::join!(run(a.clone(), for_a), run(b.clone(), for_b));
            let applied = ra.unwrap() + rb.unwrap();
            assert!(applied as usize <= events.len(), "seed {seed}: {applied} applied");
            check(&a, seed, &expected, &events).await;
        }
    })
    .await;
}
