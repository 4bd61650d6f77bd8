//! Where a key lives: rendezvous (highest-random-weight) hashing over the
//! members of the group's view.
//!
//! Every member scores every key; a key's owners are the `replication`
//! best-scoring members, the first of them its primary. A member that
//! joins takes only the keys it now scores best for, and a member that
//! goes away gives up only its own: a change moves about 1/N of the keys,
//! with no ring or virtual nodes to tune, and every process computes the
//! same owners from the same view without talking.

use crate::fnv::fnv1a64;

/// A member's score for a key: FNV-1a of both, mixed (FNV alone is too
/// weak in its high bits for a fair ranking).
fn score(key_hash: u64, member_hash: u64) -> u64 {
    let mut z = key_hash ^ member_hash.rotate_left(32);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// What a key is ranked by: its placement key's hash (a collection's
/// documents rank as its name: see `collection::placement_key`).
fn key_hash(key: &[u8]) -> u64 {
    fnv1a64(crate::yokan::collection::placement_key(key).iter().copied())
}

/// The members of one view, ready to rank keys. Cheap to clone (every
/// request takes the current one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    members: std::sync::Arc<[(String, u64)]>,
}

impl Placement {
    pub fn new<I: IntoIterator<Item = String>>(addresses: I) -> Placement {
        let mut members: Vec<(String, u64)> = addresses.into_iter().map(|a| (a.clone(), fnv1a64(a.bytes()))).collect();
        members.sort();
        members.dedup();
        Placement { members: members.into() }
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn addresses(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(|(a, _)| a.as_str())
    }

    pub fn contains(&self, address: &str) -> bool {
        self.members.binary_search_by(|(a, _)| a.as_str().cmp(address)).is_ok()
    }

    /// The view without `address` (what a leaving member hands off to).
    pub fn without(&self, address: &str) -> Placement {
        Placement { members: self.members.iter().filter(|(a, _)| a != address).cloned().collect::<Vec<_>>().into() }
    }

    /// Every member, best first for `key`.
    pub fn ranked(&self, key: &[u8]) -> Vec<&str> {
        let kh = key_hash(key);
        let mut scored: Vec<(u64, &str)> = self.members.iter().map(|(a, h)| (score(kh, *h), a.as_str())).collect();
        // Ties (astronomically rare) break by address, so all agree.
        scored.sort_unstable_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(y.1)));
        scored.into_iter().map(|(_, a)| a).collect()
    }

    /// The best-scoring member for `key` among those `skip` does not
    /// reject: the key's primary when nobody is skipped (no sorting, no
    /// allocation: every request asks this).
    pub fn first<'a>(&'a self, key: &[u8], skip: impl Fn(&str) -> bool) -> Option<&'a str> {
        let kh = key_hash(key);
        let mut best: Option<(u64, &str)> = None;
        for (a, h) in self.members.iter() {
            if skip(a) {
                continue;
            }
            let s = score(kh, *h);
            // Same order as `ranked`: higher score first, ties by address.
            if best.is_none_or(|(bs, ba)| s > bs || (s == bs && a.as_str() < ba)) {
                best = Some((s, a.as_str()));
            }
        }
        best.map(|(_, a)| a)
    }

    /// The `replication` owners of `key`, primary first.
    pub fn owners(&self, key: &[u8], replication: usize) -> Vec<&str> {
        let mut r = self.ranked(key);
        r.truncate(replication.max(1));
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(n: usize) -> Placement {
        Placement::new((0..n).map(|i| format!("na+sm://{}-0", 1000 + i)))
    }

    #[test]
    fn owners_are_distinct_and_stable() {
        let p = view(5);
        for i in 0..1000 {
            let key = format!("key{i}");
            let o = p.owners(key.as_bytes(), 3);
            assert_eq!(o.len(), 3);
            assert!(o[0] != o[1] && o[1] != o[2] && o[0] != o[2]);
            assert_eq!(o, p.owners(key.as_bytes(), 3));
        }
        // More replicas than members: every member, once.
        assert_eq!(view(2).owners(b"k", 5).len(), 2);
    }

    #[test]
    fn first_is_the_best_ranked_member_not_skipped() {
        let p = view(6);
        for i in 0..500 {
            let key = format!("key{i}");
            let ranked = p.ranked(key.as_bytes());
            assert_eq!(p.first(key.as_bytes(), |_| false), Some(ranked[0]));
            let skip = [ranked[0].to_string(), ranked[2].to_string()];
            assert_eq!(p.first(key.as_bytes(), |m| skip.iter().any(|s| s == m)), Some(ranked[1]));
        }
        assert_eq!(p.first(b"k", |_| true), None);
        assert_eq!(Placement::new(Vec::new()).first(b"k", |_| false), None);
    }

    #[test]
    fn a_join_moves_about_one_share() {
        let (before, after) = (view(4), view(5));
        let n = 20_000;
        let moved = (0..n)
            .filter(|i| before.owners(format!("k{i}").as_bytes(), 1) != after.owners(format!("k{i}").as_bytes(), 1))
            .count();
        let share = moved as f64 / n as f64;
        assert!((0.15..0.25).contains(&share), "moved {share} of the keys (ideal 0.2)");
    }

    #[test]
    fn a_departure_moves_only_its_keys() {
        let before = view(5);
        let gone = before.addresses().nth(2).unwrap().to_string();
        let after = before.without(&gone);
        for i in 0..5000 {
            let key = format!("k{i}");
            let (b, a) = (before.owners(key.as_bytes(), 2), after.owners(key.as_bytes(), 2));
            if !b.contains(&gone.as_str()) {
                assert_eq!(a, b, "{key} moved although its owners stayed");
            } else {
                // The surviving owner keeps it.
                assert!(b.iter().filter(|m| **m != gone).all(|m| a.contains(m)));
            }
        }
    }

    #[test]
    fn load_is_balanced() {
        let p = view(4);
        let mut counts = std::collections::HashMap::new();
        for i in 0..40_000 {
            *counts.entry(p.owners(format!("k{i}").as_bytes(), 1)[0].to_string()).or_insert(0) += 1;
        }
        for (m, c) in counts {
            assert!((8_500..11_500).contains(&c), "{m} owns {c} of 40000");
        }
    }
}
