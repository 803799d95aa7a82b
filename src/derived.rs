//! Figures derived from a whole database — a board's stage totals, a
//! forecast — kept until the database next changes. Summing 10,000 deals
//! takes milliseconds; a sales team opens the board far more often than it
//! changes a deal, so each figure is computed once per write generation
//! (see `Db::generation`) and served from here until then.
//!
//! Correctness rests on one order: read the generation *before* computing.
//! A value computed after reading generation `g` reflects at least every
//! write up to `g`, so serving it while the generation is still `g` never
//! shows less than a caller has already been told was written.

use std::any::Any;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use lru::LruCache;

/// Distinct figures kept per database (boards × filters, forecasts; in the
/// control database, a grant per credential and organization in use).
const CAPACITY: usize = 256;

type Entry = (u64, Arc<dyn Any + Send + Sync>);

pub struct Derived {
    entries: Mutex<LruCache<String, Entry>>,
}

impl Default for Derived {
    fn default() -> Self {
        Self::new()
    }
}

impl Derived {
    pub fn new() -> Derived {
        let cap = NonZeroUsize::new(CAPACITY).unwrap_or(NonZeroUsize::MIN);
        Derived {
            entries: Mutex::new(LruCache::new(cap)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The value kept under `key` if it was computed at `generation`.
    pub fn get<T: Send + Sync + 'static>(&self, key: &str, generation: u64) -> Option<Arc<T>> {
        let mut entries = self.lock();
        let (at, value) = entries.get(key)?;
        if *at != generation {
            return None;
        }
        value.clone().downcast::<T>().ok()
    }

    pub fn put<T: Send + Sync + 'static>(&self, key: String, generation: u64, value: Arc<T>) {
        self.lock().put(key, (generation, value));
    }

    /// The value under `key` at `generation`, computed by `compute` when
    /// missing or older. Errors are not kept.
    pub fn get_or<T, E>(
        &self,
        key: String,
        generation: u64,
        compute: impl FnOnce() -> Result<T, E>,
    ) -> Result<Arc<T>, E>
    where
        T: Send + Sync + 'static,
    {
        if let Some(hit) = self.get::<T>(&key, generation) {
            return Ok(hit);
        }
        let value = Arc::new(compute()?);
        self.put(key, generation, value.clone());
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_holds_only_for_its_generation_and_type() {
        let d = Derived::new();
        let mut runs = 0;
        let mut get = |g: u64| {
            d.get_or("k".into(), g, || {
                runs += 1;
                Ok::<_, ()>(g * 10)
            })
        };
        assert_eq!(get(1).map(|v| *v), Ok(10));
        assert_eq!(get(1).map(|v| *v), Ok(10));
        assert_eq!(get(2).map(|v| *v), Ok(20));
        assert_eq!(runs, 2);
        assert!(
            d.get::<String>("k", 2).is_none(),
            "another type never matches"
        );
        assert!(
            d.get::<u64>("k", 1).is_none(),
            "an older generation is gone"
        );
    }
}
