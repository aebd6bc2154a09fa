//! `algo.LeastWorkLoadBalancer`: the target with the least work per weight, work being the
//! targets handed out and not yet given back (`deselect`, or the borrowing connection closing).
//! A key keeps the target it got. Borrowing is `balancer.rs`'s.

use super::balancer::{Balancer, Keys, Strategy};

pub type LeastWorkLoadBalancer = Balancer<LeastWork>;

struct Target {
    id: String,
    weight: u32,
    hits: u32,
}

impl Target {
    fn usage(&self) -> f64 {
        self.hits as f64 / self.weight as f64
    }
}

#[derive(Default)]
pub struct LeastWork {
    /// In the order they were set: the earliest wins a tie.
    targets: Vec<Target>,
    keys: Keys,
}

impl Strategy for LeastWork {
    const NAME: &'static str = "LeastWorkLoadBalancer";

    /// A target keeps its work when its weight changes.
    fn set(&mut self, id: &str, weight: i32) {
        let weight = weight.max(0) as u32;
        match self.targets.iter_mut().find(|t| t.id == id) {
            Some(t) => t.weight = weight,
            None => self.targets.push(Target { id: id.to_string(), weight, hits: 0 }),
        }
    }

    fn replace(&mut self, targets: &[(String, i32)]) {
        self.targets.retain(|t| targets.iter().any(|(id, _)| *id == t.id));
        for (id, weight) in targets {
            self.set(id, *weight);
        }
    }

    fn select(&mut self, key: Option<String>) -> Option<String> {
        if let Some(k) = &key
            && let Some(t) = self.keys.take(k)
        {
            self.keys.remember(k.clone(), t.clone());
            return Some(t);
        }
        let live = self.targets.iter_mut().filter(|t| t.weight > 0);
        let best = live.reduce(|best, t| if t.usage() < best.usage() { t } else { best })?;
        best.hits += 1;
        let id = best.id.clone();
        if let Some(k) = key {
            self.keys.remember(k, id.clone());
        }
        Some(id)
    }

    fn deselect(&mut self, id: &str) {
        if let Some(t) = self.targets.iter_mut().find(|t| t.id == id) {
            t.hits = t.hits.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_goes_where_there_is_least_per_weight() {
        let mut lb = LeastWork::default();
        lb.replace(&[("a".into(), 1), ("b".into(), 3)]);
        let picks: Vec<_> = (0..8).map(|_| lb.select(None).unwrap()).collect();
        assert_eq!(picks.iter().filter(|t| *t == "a").count(), 2, "{picks:?}");
        // Work given back on `a` sends the next one there.
        lb.deselect("a");
        lb.deselect("a");
        assert_eq!(lb.select(None).unwrap(), "a");
    }

    #[test]
    fn a_key_keeps_its_target_and_weight_zero_gets_none() {
        let mut lb = LeastWork::default();
        lb.replace(&[("a".into(), 1), ("b".into(), 1), ("off".into(), 0)]);
        let t = lb.select(Some("k".into())).unwrap();
        for _ in 0..5 {
            assert_eq!(lb.select(Some("k".into())).unwrap(), t);
        }
        for _ in 0..10 {
            assert_ne!(lb.select(None).unwrap(), "off");
        }
        lb.replace(&[("off".into(), 0)]);
        assert_eq!(lb.select(None), None);
    }
}
