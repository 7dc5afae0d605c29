//! A bounded FIFO that drops its oldest item to make room: monitoring favours recent data.
//! Pure data structure; the storage writer owns one per project.

use std::collections::VecDeque;

/// Bounded drop-oldest queue.
#[derive(Debug)]
pub struct DropOldest<T> {
    items: VecDeque<T>,
    capacity: usize,
}

impl<T> DropOldest<T> {
    /// An empty buffer holding at most `capacity` (≥ 1) items.
    pub fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "buffer capacity must be at least 1");
        Self {
            items: VecDeque::new(),
            capacity,
        }
    }

    /// Appends `item`; when full, the oldest item is dropped first. Returns how many items
    /// were dropped (0 or 1).
    pub fn push(&mut self, item: T) -> usize {
        usize::from(self.push_evicting(item).is_some())
    }

    /// Appends `item`; when full, the oldest item is removed first and returned.
    pub fn push_evicting(&mut self, item: T) -> Option<T> {
        let dropped = if self.items.len() == self.capacity {
            self.items.pop_front()
        } else {
            None
        };
        self.items.push_back(item);
        dropped
    }

    /// Appends every item in order; returns how many old items were dropped.
    pub fn extend(&mut self, items: impl IntoIterator<Item = T>) -> usize {
        items.into_iter().map(|item| self.push(item)).sum()
    }

    /// Removes and returns every item, oldest first.
    pub fn take_all(&mut self) -> Vec<T> {
        self.items.drain(..).collect()
    }

    /// Removes and returns up to `max` of the oldest items.
    pub fn take(&mut self, max: usize) -> Vec<T> {
        let n = max.min(self.items.len());
        self.items.drain(..n).collect()
    }

    /// The oldest item, if any.
    pub fn oldest(&self) -> Option<&T> {
        self.items.front()
    }

    /// Removes and returns the oldest item.
    pub fn pop_oldest(&mut self) -> Option<T> {
        self.items.pop_front()
    }

    /// The items, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn drops_the_oldest_when_full() {
        let mut b = DropOldest::new(3);
        assert_eq!(b.extend([1, 2, 3]), 0);
        assert_eq!(b.push(4), 1);
        assert_eq!(b.take(10), vec![2, 3, 4]);
        assert!(b.is_empty());
    }

    #[test]
    fn take_is_fifo_and_bounded() {
        let mut b = DropOldest::new(10);
        b.extend(0..7);
        assert_eq!(b.take(3), vec![0, 1, 2]);
        assert_eq!(b.len(), 4);
        assert_eq!(b.take(0), Vec::<i32>::new());
    }

    proptest! {
        /// Whatever is pushed, the buffer keeps exactly the newest `capacity` items in order,
        /// and pushed = kept + dropped.
        #[test]
        fn keeps_the_newest(capacity in 1usize..50, items in proptest::collection::vec(any::<u32>(), 0..200)) {
            let mut b = DropOldest::new(capacity);
            let dropped = b.extend(items.iter().copied());
            prop_assert!(b.len() <= capacity);
            prop_assert_eq!(items.len(), b.len() + dropped);
            let kept = b.take(usize::MAX);
            let start = items.len().saturating_sub(capacity);
            prop_assert_eq!(kept, items[start..].to_vec());
        }
    }
}
