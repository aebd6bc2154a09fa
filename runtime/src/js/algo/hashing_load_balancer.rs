//! `algo.HashingLoadBalancer`: the target at the key's hash modulo the number of targets, so
//! the same key gets the same target while the targets stay the same (weights are ignored, as
//! in Pipy). Borrowing is `balancer.rs`'s.
//!
//! Pipy hashes the key value itself (an object by its identity); here the key's string form
//! is hashed with std's `DefaultHasher::new()`, whose keys are fixed: every worker thread, and
//! every run of the same binary, sends a key to the same target.

use std::hash::{DefaultHasher, Hash, Hasher};

use super::balancer::{Balancer, Strategy};

pub type HashingLoadBalancer = Balancer<Hashing>;

#[derive(Default)]
pub struct Hashing {
    targets: Vec<String>,
}

impl Strategy for Hashing {
    const NAME: &'static str = "HashingLoadBalancer";
    const HAS_ADD: bool = true;

    /// `add(target)`: one more target (Pipy's appends even a target it has).
    fn set(&mut self, id: &str, _weight: i32) {
        self.targets.push(id.to_string());
    }

    fn replace(&mut self, targets: &[(String, i32)]) {
        self.targets = targets.iter().map(|(id, _)| id.clone()).collect();
    }

    /// With no key, the hash of the empty string.
    fn select(&mut self, key: Option<String>) -> Option<String> {
        if self.targets.is_empty() {
            return None;
        }
        let mut h = DefaultHasher::new();
        key.unwrap_or_default().hash(&mut h);
        Some(self.targets[(h.finish() % self.targets.len() as u64) as usize].clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(targets: &[&str]) -> Hashing {
        let mut h = Hashing::default();
        h.replace(&targets.iter().map(|t| (t.to_string(), 1)).collect::<Vec<_>>());
        h
    }

    #[test]
    fn a_key_keeps_its_target_and_keys_spread_over_all() {
        let mut h = with(&["a", "b", "c", "d"]);
        let mut counts = std::collections::HashMap::new();
        for i in 0..4000 {
            let key = format!("10.0.{}.{}", i / 256, i % 256);
            let t = h.select(Some(key.clone())).unwrap();
            assert_eq!(h.select(Some(key)).unwrap(), t, "the same key, the same target");
            *counts.entry(t).or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 4);
        for (t, n) in counts {
            assert!((800..1200).contains(&n), "{t} got {n} of 4000 keys");
        }
    }

    #[test]
    fn a_fresh_balancer_with_the_same_targets_agrees() {
        let (mut a, mut b) = (with(&["x", "y", "z"]), with(&["x", "y", "z"]));
        for i in 0..100 {
            assert_eq!(a.select(Some(i.to_string())), b.select(Some(i.to_string())));
        }
        assert_eq!(Hashing::default().select(Some("k".into())), None);
    }
}
