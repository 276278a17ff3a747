//! A map with a fixed capacity whose least recently touched entry gives way to a new one.
//! Every detector keeps its state in these, so no traffic pattern can grow faultd's memory,
//! and what the cap pushes out is counted (`faultd_detector_evictions_total`).

use std::collections::{BTreeMap, BTreeSet};

pub struct Bounded<K, V> {
    entries: BTreeMap<K, (u64, V)>,
    /// `(touched, key)`: the oldest entry is the first.
    order: BTreeSet<(u64, K)>,
    capacity: usize,
    evicted: u64,
    /// The last entry evicted, for a caller whose other state depends on it.
    spilled: Option<(K, V)>,
}

impl<K: Ord + Copy, V> Bounded<K, V> {
    pub fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "a bounded map needs room for one entry");
        Bounded {
            entries: BTreeMap::new(),
            order: BTreeSet::new(),
            capacity,
            evicted: 0,
            spilled: None,
        }
    }

    pub fn get(&self, k: &K) -> Option<&V> {
        self.entries.get(k).map(|(_, v)| v)
    }

    /// The entry for `k`, marked as touched at `now`; a new one from `make` when absent,
    /// after evicting the least recently touched entry if the map is full.
    pub fn touch(&mut self, k: K, now: u64, make: impl FnOnce() -> V) -> &mut V {
        if let Some((touched, _)) = self.entries.get(&k) {
            self.order.remove(&(*touched, k));
        } else if self.entries.len() >= self.capacity
            && let Some((_, oldest)) = self.order.pop_first()
        {
            self.spilled = self.entries.remove(&oldest).map(|(_, v)| (oldest, v));
            self.evicted += 1;
        }
        self.order.insert((now, k));
        let e = self.entries.entry(k).or_insert_with(|| (now, make()));
        e.0 = now;
        &mut e.1
    }

    /// The entry for `k` without changing its age.
    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        self.entries.get_mut(k).map(|(_, v)| v)
    }

    pub fn remove(&mut self, k: &K) -> Option<V> {
        let (touched, v) = self.entries.remove(k)?;
        self.order.remove(&(touched, *k));
        Some(v)
    }

    /// Drops the entries last touched before `cutoff`: state that has aged out, not
    /// evictions.
    pub fn expire(&mut self, cutoff: u64) {
        while let Some(&(touched, k)) = self.order.first() {
            if touched >= cutoff {
                break;
            }
            self.order.pop_first();
            self.entries.remove(&k);
        }
    }

    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.entries.keys()
    }

    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// The entry the last eviction pushed out, once.
    pub fn take_spilled(&mut self) -> Option<(K, V)> {
        self.spilled.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_touched_entry_gives_way() {
        let mut m = Bounded::new(2);
        *m.touch(1, 10, || 0) += 1;
        *m.touch(2, 20, || 0) += 1;
        *m.touch(1, 30, || 0) += 1;
        m.touch(3, 40, || 0);
        assert_eq!(m.get(&2), None, "2 was touched last at 20, before 1");
        assert_eq!(m.get(&1), Some(&2));
        assert_eq!((m.keys().count(), m.evicted()), (2, 1));
        assert_eq!(m.take_spilled(), Some((2, 1)));
        assert_eq!(m.take_spilled(), None);
    }

    #[test]
    fn expiry_is_not_eviction() {
        let mut m = Bounded::new(4);
        m.touch(1, 10, || ());
        m.touch(2, 20, || ());
        m.expire(15);
        assert_eq!(m.keys().copied().collect::<Vec<_>>(), [2]);
        assert_eq!(m.evicted(), 0);
        assert!(m.remove(&2).is_some());
        assert_eq!(m.keys().count(), 0);
    }
}
