//! `algo.RoundRobinLoadBalancer`: weighted round robin; a key, or the connection that borrowed
//! a target, keeps the target it got (the borrowing is `balancer.rs`'s).

use super::balancer::{Balancer, Keys, Strategy};

pub type RoundRobinLoadBalancer = Balancer<RrState>;

struct RrTarget {
    id: String,
    weight: u32,
    hits: u32,
    usage: f64,
}

#[derive(Default)]
pub struct RrState {
    targets: Vec<RrTarget>,
    /// `key` argument -> the target chosen for it.
    keys: Keys,
}

impl RrState {
    fn set(&mut self, id: &str, weight: i32) {
        let weight = weight.max(0) as u32;
        let min_usage =
            self.targets.iter().map(|t| t.usage).fold(None, |m: Option<f64>, u| Some(m.map_or(u, |m| m.min(u))));
        let usage = min_usage.unwrap_or(0.0);
        let hits = (weight as f64 * usage) as u32;
        match self.targets.iter_mut().find(|t| t.id == id) {
            Some(t) => *t = RrTarget { id: id.to_string(), weight, hits, usage },
            None => self.targets.push(RrTarget { id: id.to_string(), weight, hits, usage }),
        }
    }

    /// Smooth weighted round-robin: the target with the lowest hits/weight, earliest first;
    /// the counts start over once every weight has been used up.
    fn select(&mut self, key: Option<String>) -> Option<String> {
        if let Some(k) = key.as_ref()
            && let Some(t) = self.keys.take(k)
            && self.targets.iter().any(|x| x.id == t)
        {
            self.keys.remember(k.clone(), t.clone());
            return Some(t);
        }
        let live = self.targets.iter().filter(|t| t.weight > 0);
        let total_weight: u32 = live.clone().map(|t| t.weight).sum();
        let total_hits: u32 = live.map(|t| t.hits).sum();
        let mut best: Option<usize> = None;
        for (i, t) in self.targets.iter().enumerate() {
            if t.weight > 0 && best.is_none_or(|b| t.usage < self.targets[b].usage) {
                best = Some(i);
            }
        }
        let t = &mut self.targets[best?];
        t.hits += 1;
        t.usage = t.hits as f64 / t.weight as f64;
        let id = t.id.clone();
        if total_hits + 1 >= total_weight {
            for t in &mut self.targets {
                t.hits = 0;
                t.usage = 0.0;
            }
        }
        if let Some(k) = key {
            self.keys.remember(k, id.clone());
        }
        Some(id)
    }
}

impl Strategy for RrState {
    const NAME: &'static str = "RoundRobinLoadBalancer";

    fn set(&mut self, id: &str, weight: i32) {
        RrState::set(self, id, weight)
    }

    fn replace(&mut self, targets: &[(String, i32)]) {
        self.targets.retain(|t| targets.iter().any(|(id, _)| *id == t.id));
        for (id, weight) in targets {
            if !self.targets.iter().any(|t| t.id == *id && t.weight == (*weight).max(0) as u32) {
                RrState::set(self, id, *weight);
            }
        }
    }

    fn select(&mut self, key: Option<String>) -> Option<String> {
        RrState::select(self, key)
    }
}

#[cfg(test)]
mod tests {
    use super::super::balancer::KEYS_PER_GENERATION;
    use super::*;

    #[test]
    fn keys_stick_to_their_target_and_the_key_map_stays_bounded() {
        let mut state = RrState::default();
        state.set("a", 1);
        state.set("b", 1);
        let first = state.select(Some("k".into()));
        for i in 0..5 * KEYS_PER_GENERATION {
            state.select(Some(format!("key{i}")));
            if i % 1000 == 0 {
                assert_eq!(state.select(Some("k".into())), first, "a key in use keeps its target");
            }
        }
        assert!(state.keys.kept() <= 2 * KEYS_PER_GENERATION);
    }
}
