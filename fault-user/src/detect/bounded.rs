//! A map with a fixed capacity whose least recently touched entry gives way to a new one.
//! Every detector keeps its state in these, so no traffic pattern can grow faultd's memory,
//! and what the cap pushes out is counted (`faultd_detector_evictions_total`).
//!
//! Every operation is O(1) or O(log n): detectors run at line rate with their tables full,
//! so nothing here (nor in a detector) may walk the whole table per event or per tick. An
//! entry may carry a deadline, kept in its own index, so a tick finds what is due without
//! looking at the rest.

use std::{
    collections::{BTreeSet, HashMap, hash_map},
    hash::Hash,
};

pub struct Bounded<K, V> {
    /// Each key's slot. Hashed (with std's per-process random keys, so a flood of crafted
    /// addresses cannot make them collide); the order lives in the indexes.
    index: HashMap<K, u32>,
    /// The entries, apart from the hash table so that its spare room (it keeps a power
    /// of two of slots, at most 7/8 used) costs a key and an index each, not an entry.
    slots: Vec<Option<Entry<V>>>,
    /// Slots given up by removed entries.
    free: Vec<u32>,
    /// `(touched, key)`: the oldest entry is the first.
    order: BTreeSet<(u64, K)>,
    /// `(due, key)` of the entries with a deadline: the next due is the first.
    due: BTreeSet<(u64, K)>,
    capacity: usize,
    evicted: u64,
    /// The last entry evicted, kept for a caller whose other state depends on it (made
    /// with [`Bounded::spilling`]); others drop it at once.
    spilled: Option<(K, V)>,
    keep_spilled: bool,
}

struct Entry<V> {
    touched: u64,
    due: Option<u64>,
    value: V,
}

/// The most bytes a full `Bounded<K, V>` of `capacity` takes: the hash table (std's keeps
/// at most 7/8 of a power of two of slots in use, each a control byte, the key and the
/// index), the entries (value and times), the free list and both indexes (the key and a
/// time per entry).
pub const fn map_bytes<K, V>(capacity: usize) -> usize {
    let table = (capacity * 8 / 7).next_power_of_two() * (size_of::<(K, u32)>() + 1);
    let index = 2 * (size_of::<K>() + size_of::<u64>());
    table + capacity * (size_of::<Option<Entry<V>>>() + size_of::<u32>() + index)
}

impl<K: Ord + Hash + Copy, V> Bounded<K, V> {
    pub fn new(capacity: usize) -> Self {
        assert!(
            capacity > 0 && u32::try_from(capacity).is_ok(),
            "a bounded map needs room for one entry, and slots a u32 can name"
        );
        Bounded {
            index: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            order: BTreeSet::new(),
            due: BTreeSet::new(),
            capacity,
            evicted: 0,
            spilled: None,
            keep_spilled: false,
        }
    }

    /// One whose evicted entries are kept for [`Bounded::take_spilled`].
    pub fn spilling(capacity: usize) -> Self {
        Bounded {
            keep_spilled: true,
            ..Bounded::new(capacity)
        }
    }

    fn entry(&self, k: &K) -> Option<&Entry<V>> {
        let &i = self.index.get(k)?;
        self.slots[i as usize].as_ref()
    }

    fn entry_mut(&mut self, k: &K) -> Option<&mut Entry<V>> {
        let &i = self.index.get(k)?;
        self.slots[i as usize].as_mut()
    }

    pub fn get(&self, k: &K) -> Option<&V> {
        self.entry(k).map(|e| &e.value)
    }

    /// The entry for `k`, marked as touched at `now`; a new one from `make` when absent,
    /// after evicting the least recently touched entry if the map is full.
    pub fn touch(&mut self, k: K, now: u64, make: impl FnOnce() -> V) -> &mut V {
        self.upsert(k, now, make).0
    }

    /// As [`Bounded::touch`], and whether the entry is new.
    pub fn upsert(&mut self, k: K, now: u64, make: impl FnOnce() -> V) -> (&mut V, bool) {
        if self.index.len() >= self.capacity
            && !self.index.contains_key(&k)
            && let Some((_, oldest)) = self.order.pop_first()
        {
            let v = self.unlink(&oldest);
            if self.keep_spilled {
                self.spilled = v.map(|v| (oldest, v));
            }
            self.evicted += 1;
        }
        let (i, new) = match self.index.entry(k) {
            hash_map::Entry::Occupied(e) => (*e.get() as usize, false),
            hash_map::Entry::Vacant(e) => {
                let i = self.free.pop().map_or(self.slots.len(), |i| i as usize);
                if i == self.slots.len() {
                    self.slots.push(None);
                }
                // Below the capacity, which `new` checked a u32 holds.
                e.insert(i as u32);
                (i, true)
            }
        };
        let e = self.slots[i].get_or_insert_with(|| Entry {
            touched: now,
            due: None,
            value: make(),
        });
        if !new {
            self.order.remove(&(e.touched, k));
        }
        e.touched = now;
        self.order.insert((now, k));
        (&mut e.value, new)
    }

    /// The entry for `k` set to `v`, marked as touched at `now`.
    pub fn put(&mut self, k: K, now: u64, v: V)
    where
        V: Copy,
    {
        let (e, new) = self.upsert(k, now, || v);
        if !new {
            *e = v;
        }
    }

    /// The entry for `k` without changing its age.
    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        self.entry_mut(k).map(|e| &mut e.value)
    }

    pub fn remove(&mut self, k: &K) -> Option<V> {
        let touched = self.entry(k)?.touched;
        self.order.remove(&(touched, *k));
        self.unlink(k)
    }

    /// Takes the entry out of the map and the deadline index (the age index is the
    /// caller's).
    fn unlink(&mut self, k: &K) -> Option<V> {
        let i = self.index.remove(k)?;
        let e = self.slots[i as usize].take()?;
        self.free.push(i);
        if let Some(at) = e.due {
            self.due.remove(&(at, *k));
        }
        Some(e.value)
    }

    /// Drops the entries last touched before `cutoff`: state that has aged out, not
    /// evictions.
    pub fn expire(&mut self, cutoff: u64) {
        self.expire_with(|touched| touched < cutoff, |_, _| {});
    }

    /// Hands `gone` the entries, oldest first, whose last touch `stale` says is past
    /// (`stale` must hold for every touch older than one it holds for).
    pub fn expire_with(&mut self, stale: impl Fn(u64) -> bool, mut gone: impl FnMut(K, V)) {
        while let Some(&(touched, k)) = self.order.first() {
            if !stale(touched) {
                break;
            }
            self.order.pop_first();
            if let Some(v) = self.unlink(&k) {
                gone(k, v);
            }
        }
    }

    /// Gives the entry for `k` a deadline, replacing the one it had.
    pub fn set_due(&mut self, k: &K, at: u64) {
        let Some(e) = self.entry_mut(k) else {
            return;
        };
        if let Some(old) = e.due.replace(at) {
            self.due.remove(&(old, *k));
        }
        self.due.insert((at, *k));
    }

    /// The keys whose deadline is `now` or earlier, in key order, their deadlines cleared.
    pub fn take_due(&mut self, now: u64) -> Vec<K> {
        let mut keys = Vec::new();
        while let Some(&(at, k)) = self.due.first() {
            if at > now {
                break;
            }
            self.due.pop_first();
            if let Some(e) = self.entry_mut(&k) {
                e.due = None;
            }
            keys.push(k);
        }
        keys.sort_unstable();
        keys
    }

    /// The earliest deadline of any entry.
    pub fn next_due(&self) -> Option<u64> {
        self.due.first().map(|&(at, _)| at)
    }

    /// Only tests look at every key: a detector that did would cost O(n) a call.
    #[cfg(test)]
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.index.keys()
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
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
        let mut m = Bounded::spilling(2);
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

    #[test]
    fn expired_entries_are_handed_over_oldest_first() {
        let mut m = Bounded::new(4);
        for (k, t) in [(1, 30), (2, 10), (3, 20), (4, 40)] {
            m.touch(k, t, || k * 10);
        }
        let mut gone = Vec::new();
        m.expire_with(|t| t <= 30, |k, v| gone.push((k, v)));
        assert_eq!(gone, [(2, 20), (3, 30), (1, 10)]);
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn deadlines_come_due_in_key_order_and_leave_with_their_entry() {
        let mut m = Bounded::spilling(3);
        for k in 1..=3 {
            m.touch(k, k, || ());
        }
        m.set_due(&3, 100);
        m.set_due(&1, 200);
        m.set_due(&2, 50);
        m.set_due(&1, 100);
        assert_eq!(m.next_due(), Some(50));
        assert_eq!(m.take_due(49), Vec::<u64>::new());
        assert_eq!(m.take_due(100), [1, 2, 3]);
        assert_eq!(
            (m.next_due(), m.len()),
            (None, 3),
            "taken deadlines are cleared"
        );
        // Eviction, removal and expiry take the deadline along.
        m.set_due(&1, 10);
        m.set_due(&2, 20);
        m.set_due(&3, 30);
        m.touch(4, 5, || ());
        assert_eq!(m.take_spilled(), Some((1, ())));
        m.remove(&2);
        m.expire(4);
        assert_eq!(m.take_due(u64::MAX), Vec::<u64>::new());
    }
}
