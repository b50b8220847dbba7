//! The shape of stsvend's per-user caches (mappings, credentials): a hit costs one hash lookup
//! under a shard lock (`quick_cache`, no bookkeeping queue on reads), and concurrent misses of
//! one key share a single load, its value or its error (moka's entry API, which holds each
//! result only until it is in the hot map).
//!
//! An invalidation wins over a load in flight: [`HotCache::remove`] bumps the version of the
//! key's stripe, and a load whose stripe version changed while it ran hands its value to its
//! waiters but never puts it in the hot map, where it would bring back the state the removal
//! was meant to drop. The version is read inside the load, before it starts, and travels with
//! its value: a caller that arrives after a removal and joins a load begun before it compares
//! that load's version, not the one it saw itself (which would let the stale value in).

use std::future::Future;
use std::hash::{BuildHasher, Hash};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, Weighter};

/// Loads in progress or just finished, at most; the rest wait for a slot.
const LOADING_CAPACITY: u64 = 10_000;
/// A finished load's result is dropped from the coalescing map after this at the latest.
const LOADING_TTL: Duration = Duration::from_secs(1);
/// Keys share this many invalidation versions; a removal makes the loads in flight of the keys
/// in its stripe skip the hot map (they reload on the next miss).
const STRIPES: usize = 64;

pub struct HotCache<K, V, W, L> {
    hot: Cache<K, V, W, DefaultHashBuilder, L>,
    /// Each value with the stripe version read before its load began.
    loading: moka::future::Cache<K, (V, u64)>,
    /// Invalidation version per stripe; the lock makes "check the version, insert" and "bump
    /// the version, remove" exclusive of each other.
    versions: Box<[Mutex<u64>]>,
    stripe_of: DefaultHashBuilder,
}

impl<K, V, W, L> HotCache<K, V, W, L>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    W: Weighter<K, V> + Clone,
    L: Lifecycle<K, V> + Clone,
{
    /// `weight_capacity` in the weigher's unit; `estimated_items` sizes the table.
    pub fn new(estimated_items: usize, weight_capacity: u64, weighter: W, lifecycle: L) -> Self {
        Self {
            hot: Cache::with(
                estimated_items,
                weight_capacity,
                weighter,
                DefaultHashBuilder::default(),
                lifecycle,
            ),
            loading: moka::future::Cache::builder()
                .max_capacity(LOADING_CAPACITY)
                .time_to_live(LOADING_TTL)
                .build(),
            versions: (0..STRIPES).map(|_| Mutex::new(0)).collect(),
            stripe_of: DefaultHashBuilder::default(),
        }
    }

    fn version(&self, key: &K) -> &Mutex<u64> {
        let h = self.stripe_of.hash_one(key);
        // The modulo keeps the index below STRIPES, so the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation)]
        &self.versions[(h % STRIPES as u64) as usize]
    }

    pub fn get(&self, key: &K) -> Option<V> {
        self.hot.get(key)
    }

    /// The value of `key`, loading it when absent; true when this call's `load` produced it.
    /// Concurrent callers of one key run one `load` and all get its result.
    pub async fn get_or_load<E, F>(&self, key: &K, load: F) -> Result<(V, bool), Arc<E>>
    where
        E: Send + Sync + 'static,
        F: Future<Output = Result<V, E>>,
    {
        if let Some(v) = self.hot.get(key) {
            return Ok((v, false));
        }
        // Read by whichever caller runs the load, before the load reads anything: every caller
        // sharing it then judges the value by when it was read.
        let load = async {
            let started = *self.version(key).lock().unwrap_or_else(PoisonError::into_inner);
            load.await.map(|v| (v, started))
        };
        let entry = self.loading.entry(key.clone()).or_try_insert_with(load).await?;
        let fresh = entry.is_fresh();
        let (value, started) = entry.into_value();
        {
            let version = self.version(key).lock().unwrap_or_else(PoisonError::into_inner);
            if *version == started {
                self.hot.insert(key.clone(), value.clone());
            }
        }
        if fresh {
            self.loading.invalidate(key).await;
        }
        Ok((value, fresh))
    }

    /// Drops every key; no load already in flight puts its value back.
    pub fn clear(&self) {
        {
            // Every stripe at once (always taken in index order; other paths hold one).
            let mut versions: Vec<_> = self
                .versions
                .iter()
                .map(|v| v.lock().unwrap_or_else(PoisonError::into_inner))
                .collect();
            for v in &mut versions {
                **v += 1;
            }
            self.hot.clear();
        }
        self.loading.invalidate_all();
    }

    /// Drops `key`; a load of it already in flight will not put its value back.
    pub async fn remove(&self, key: &K) {
        {
            let mut version = self.version(key).lock().unwrap_or_else(PoisonError::into_inner);
            *version += 1;
            self.hot.remove(key);
        }
        self.loading.invalidate(key).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use quick_cache::UnitWeighter;
    use quick_cache::sync::DefaultLifecycle;

    use super::*;

    type Plain = HotCache<u32, u32, UnitWeighter, DefaultLifecycle<u32, u32>>;

    fn plain() -> Plain {
        HotCache::new(16, 16, UnitWeighter, DefaultLifecycle::default())
    }

    /// `n` concurrent lookups of key 7 whose load takes 50 ms and gives `outcome`; returns
    /// their results and how many loads ran.
    async fn race(n: usize, outcome: Result<u32, String>) -> (Arc<Plain>, Vec<Result<(u32, bool), Arc<String>>>, u32) {
        let cache = Arc::new(plain());
        let loads = Arc::new(AtomicU32::new(0));
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (cache, loads, outcome) = (Arc::clone(&cache), Arc::clone(&loads), outcome.clone());
                tokio::spawn(async move {
                    let load = async {
                        loads.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        outcome
                    };
                    cache.get_or_load(&7, load).await
                })
            })
            .collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        let loads = loads.load(Ordering::SeqCst);
        (cache, results, loads)
    }

    type Loaded = Result<(u32, bool), Arc<String>>;

    /// A `get_or_load` of `key` whose load answers `value` only once released; returns when
    /// the load has started, with the caller's task and the release.
    async fn held_load(
        cache: &Arc<Plain>,
        key: u32,
        value: u32,
    ) -> (tokio::task::JoinHandle<Loaded>, tokio::sync::oneshot::Sender<()>) {
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let (started, load_started) = tokio::sync::oneshot::channel::<()>();
        let cache = Arc::clone(cache);
        let task = tokio::spawn(async move {
            let load = async {
                let _ = started.send(());
                let _ = released.await;
                Ok::<_, String>(value)
            };
            cache.get_or_load(&key, load).await
        });
        load_started.await.unwrap();
        (task, release)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_misses_of_one_key_share_one_load() {
        let (cache, results, loads) = race(100, Ok(42)).await;
        let fresh = results.iter().filter(|r| r.as_ref().unwrap().1).count();
        assert!(results.iter().all(|r| r.as_ref().unwrap().0 == 42));
        assert_eq!((loads, fresh), (1, 1));
        assert_eq!(cache.get(&7), Some(42), "the result is in the hot map");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_failed_load_is_shared_by_its_waiters_and_not_kept() {
        let (cache, results, loads) = race(20, Err("down".to_owned())).await;
        assert!(results.iter().all(|r| r.as_ref().is_err_and(|e| **e == "down")));
        assert_eq!(loads, 1);
        assert_eq!(cache.get(&7), None);
        let (v, fresh) = cache.get_or_load(&7, async { Ok::<_, String>(1) }).await.unwrap();
        assert_eq!((v, fresh), (1, true), "the next miss loads again");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_removal_during_a_load_keeps_the_loaded_value_out_of_the_cache() {
        let cache = Arc::new(plain());
        let (loader, release) = held_load(&cache, 7, 1).await;
        cache.remove(&7).await;
        release.send(()).unwrap();
        let (v, fresh) = loader.await.unwrap().unwrap();
        assert_eq!((v, fresh), (1, true), "the waiting caller still gets its load's value");
        assert_eq!(cache.get(&7), None, "but the cache does not keep it");
        let (v, _) = cache.get_or_load(&7, async { Ok::<_, String>(2) }).await.unwrap();
        assert_eq!(v, 2, "the next miss loads the current state");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_joining_a_load_that_began_before_a_removal_does_not_cache_its_value() {
        let cache = Arc::new(plain());
        let (first, release) = held_load(&cache, 7, 1).await;
        cache.remove(&7).await;
        // A caller arriving after the removal: polled once, it finds the load in flight and
        // waits for it instead of running its own.
        let mut second = Box::pin(cache.get_or_load(&7, async { Ok::<_, String>(2) }));
        let polled = std::future::poll_fn(|cx| std::task::Poll::Ready(second.as_mut().poll(cx))).await;
        assert!(polled.is_pending(), "the second caller waits for the load in flight");
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap().unwrap(), (1, true));
        assert_eq!(
            second.await.unwrap(),
            (1, false),
            "the second caller joined the first load"
        );
        assert_eq!(
            cache.get(&7),
            None,
            "a value loaded before the removal is not cached, whoever inserts it"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn clearing_drops_every_key_and_keeps_a_load_in_flight_out() {
        let cache = Arc::new(plain());
        for k in 0..10 {
            cache.get_or_load(&k, async move { Ok::<_, String>(k) }).await.unwrap();
        }
        let (loader, release) = held_load(&cache, 70, 1).await;
        cache.clear();
        release.send(()).unwrap();
        assert_eq!(loader.await.unwrap().unwrap(), (1, true));
        for k in (0..10).chain([70]) {
            assert_eq!(cache.get(&k), None, "key {k} is gone");
        }
    }

    #[tokio::test]
    async fn removed_keys_load_again() {
        let cache = plain();
        cache.get_or_load(&1, async { Ok::<_, String>(10) }).await.unwrap();
        cache.remove(&1).await;
        assert_eq!(cache.get(&1), None);
        let (v, fresh) = cache.get_or_load(&1, async { Ok::<_, String>(11) }).await.unwrap();
        assert_eq!((v, fresh), (11, true));
    }
}
