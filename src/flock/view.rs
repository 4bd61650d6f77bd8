//! The group view: the members of a Flock group and its key/value metadata,
//! with the digest that processes compare to notice that views differ.
//!
//! This is the Rust counterpart of the inline helpers of
//! `include/flock/flock-group-view.h` and follows the same rules, so that a
//! view built here and the same view built by C code have the same order and
//! the same digest:
//! - members are kept sorted by address (byte-wise, like `strcmp`), then by
//!   provider id; adding does not reject duplicates (the caller's job);
//! - metadata entries are kept sorted by key (byte-wise); keys are unique and
//!   adding an existing key replaces its value;
//! - the digest is the XOR of [`hash_member`] over all members and
//!   [`hash_metadata`] over all entries, kept up to date by every change
//!   (0 for an empty view). Because it is a XOR, a member added twice cancels
//!   out of the digest, exactly as in C.
//!
//! Strings are treated as C strings: everything from the first NUL byte on is
//! ignored (a C view cannot hold it), which keeps every view representable on
//! the C side with the same digest.

use std::cmp::Ordering;

/// One group member.
///
/// The derived ordering (address, then provider id) is the view's sort order:
/// `String` compares byte-wise, as `strcmp` does.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Member {
    pub address: String,
    pub provider_id: u16,
}

/// A group view: sorted members, sorted metadata and their digest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupView {
    members: Vec<Member>,
    metadata: Vec<(String, String)>,
    digest: u64,
}

/// The part of `s` a C string would hold: up to the first NUL byte.
fn c_str(s: &str) -> &str {
    match s.find('\0') {
        Some(end) => &s[..end],
        None => s,
    }
}

/// One step of djb2 as upstream computes it: the byte is read as a (signed)
/// `char` and sign-extended, so bytes >= 0x80 add a negative amount.
fn djb2_step(hash: u64, byte: u8) -> u64 {
    hash.wrapping_mul(33).wrapping_add(byte as i8 as i64 as u64)
}

/// djb2 hash of a string (up to its first NUL byte), bit-exact with
/// `flock_djb2_hash`.
pub fn djb2_hash(s: &str) -> u64 {
    c_str(s).bytes().fold(5381, djb2_step)
}

/// Hash of a member, bit-exact with `flock_hash_member`: djb2 of the address
/// continued over the provider id's two bytes in little-endian order.
pub fn hash_member(provider_id: u16, address: &str) -> u64 {
    provider_id.to_le_bytes().into_iter().fold(djb2_hash(address), djb2_step)
}

/// Hash of a metadata entry, bit-exact with `flock_hash_metadata`: the key's
/// djb2 XOR the value's djb2 rotated left by 3 bits (so that swapping key and
/// value changes the hash).
pub fn hash_metadata(key: &str, value: &str) -> u64 {
    djb2_hash(key) ^ djb2_hash(value).rotate_left(3)
}

impl GroupView {
    /// An empty view (digest 0).
    pub fn new() -> Self {
        Self::default()
    }

    /// The digest of the current content.
    pub fn digest(&self) -> u64 {
        self.digest
    }

    /// The digest recomputed from scratch; always equal to [`digest`](Self::digest).
    pub fn compute_digest(&self) -> u64 {
        let members = self.members.iter().map(|m| hash_member(m.provider_id, &m.address));
        let metadata = self.metadata.iter().map(|(k, v)| hash_metadata(k, v));
        members.chain(metadata).fold(0, |acc, h| acc ^ h)
    }

    /// Removes everything; the digest goes back to 0.
    pub fn clear(&mut self) {
        self.members.clear();
        self.metadata.clear();
        self.digest = 0;
    }

    // ---- members -------------------------------------------------------

    /// All members, in sorted order.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// The member at `index` in sorted order.
    pub fn member_at(&self, index: usize) -> Option<&Member> {
        self.members.get(index)
    }

    /// Index of the member (address, provider_id), by binary search.
    pub fn find_member_index(&self, address: &str, provider_id: u16) -> Option<usize> {
        let address = c_str(address);
        self.members.binary_search_by(|m| m.address.as_str().cmp(address).then(m.provider_id.cmp(&provider_id))).ok()
    }

    pub fn find_member(&self, address: &str, provider_id: u16) -> Option<&Member> {
        self.find_member_index(address, provider_id).map(|i| &self.members[i])
    }

    pub fn contains_member(&self, address: &str, provider_id: u16) -> bool {
        self.find_member_index(address, provider_id).is_some()
    }

    /// Inserts the member at its sorted place and returns that index. Like
    /// upstream, an equal member already present is not an error: the new
    /// one goes just before it (and the two hashes cancel in the digest).
    pub fn add_member(&mut self, address: &str, provider_id: u16) -> usize {
        let address = c_str(address);
        let index = self
            .members
            .partition_point(|m| m.address.as_str().cmp(address).then(m.provider_id.cmp(&provider_id)) == Ordering::Less);
        self.members.insert(index, Member { address: address.to_owned(), provider_id });
        self.digest ^= hash_member(provider_id, address);
        index
    }

    /// Removes the member (address, provider_id) (one of them, if it was
    /// added twice). Returns false if there is none.
    pub fn remove_member(&mut self, address: &str, provider_id: u16) -> bool {
        match self.find_member_index(address, provider_id) {
            Some(index) => self.remove_member_at(index).is_some(),
            None => false,
        }
    }

    /// Removes and returns the member at `index` (None if out of range).
    pub fn remove_member_at(&mut self, index: usize) -> Option<Member> {
        if index >= self.members.len() {
            return None;
        }
        let member = self.members.remove(index);
        self.digest ^= hash_member(member.provider_id, &member.address);
        Some(member)
    }

    // ---- metadata ------------------------------------------------------

    /// All metadata entries as (key, value), sorted by key.
    pub fn metadata(&self) -> &[(String, String)] {
        &self.metadata
    }

    pub fn metadata_count(&self) -> usize {
        self.metadata.len()
    }

    /// The entry at `index` in key order.
    pub fn metadata_at(&self, index: usize) -> Option<(&str, &str)> {
        self.metadata.get(index).map(|(k, v)| (k.as_str(), v.as_str()))
    }

    fn metadata_search(&self, key: &str) -> Result<usize, usize> {
        let key = c_str(key);
        self.metadata.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// The value stored under `key`.
    pub fn find_metadata(&self, key: &str) -> Option<&str> {
        self.metadata_search(key).ok().map(|i| self.metadata[i].1.as_str())
    }

    /// Sets `key` to `value`. If the key existed its value is replaced (the
    /// digest swaps the old entry's hash for the new one) and the old value
    /// is returned; otherwise the entry is inserted at its sorted place.
    pub fn add_metadata(&mut self, key: &str, value: &str) -> Option<String> {
        let (key, value) = (c_str(key), c_str(value));
        self.digest ^= hash_metadata(key, value);
        match self.metadata_search(key) {
            Ok(index) => {
                let old = std::mem::replace(&mut self.metadata[index].1, value.to_owned());
                self.digest ^= hash_metadata(key, &old);
                Some(old)
            }
            Err(index) => {
                self.metadata.insert(index, (key.to_owned(), value.to_owned()));
                None
            }
        }
    }

    /// Removes the entry for `key` and returns its value (None, and no
    /// change, if there is no such key).
    pub fn remove_metadata(&mut self, key: &str) -> Option<String> {
        let index = self.metadata_search(key).ok()?;
        let (key, value) = self.metadata.remove(index);
        self.digest ^= hash_metadata(&key, &value);
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(view: &GroupView) -> Vec<(&str, u16)> {
        view.members().iter().map(|m| (m.address.as_str(), m.provider_id)).collect()
    }

    #[test]
    fn hash_vectors_from_the_spec() {
        assert_eq!(djb2_hash(""), 5381);
        assert_eq!(djb2_hash("a"), 177670);
        assert_eq!(hash_member(42, "a"), 193484016);
        assert_eq!(hash_member(200, "a"), 193480782);
        assert_eq!(hash_member(1, "na+sm://1234-0"), 13680832206594748031);
        assert_eq!(hash_metadata("key", "value"), 1686041148830);
    }

    #[test]
    fn hash_details() {
        // bytes >= 0x80 are sign-extended: "é" is C3 A9
        let e = (5381u64 * 33).wrapping_sub(0x100 - 0xC3);
        assert_eq!(djb2_hash("é"), e.wrapping_mul(33).wrapping_sub(0x100 - 0xA9));
        // provider id: low byte first
        assert_eq!(hash_member(0x0100, ""), (5381 * 33) * 33 + 1);
        assert_eq!(hash_metadata("", ""), 5381 ^ (5381 << 3));
        assert_ne!(hash_metadata("key", "value"), hash_metadata("value", "key"));
        // C-string semantics
        assert_eq!(djb2_hash("ab\0cd"), djb2_hash("ab"));
    }

    #[test]
    fn spec_view_digest() {
        let mut v = GroupView::new();
        v.add_member("na+sm://1234-0", 2);
        v.add_member("na+sm://1234-0", 1);
        v.add_metadata("__type__", "static");
        v.add_metadata("__config__", "{}");
        assert_eq!(v.digest(), 8247570235502796075);

        // the content of shared/spec/data/upstream-written.flock
        v.add_member("ofi+tcp://127.0.0.1:5000", 7);
        v.add_metadata("zeta", "été");
        assert_eq!(v.digest(), 5701955205164907602);
        assert_eq!(pairs(&v), [("na+sm://1234-0", 1), ("na+sm://1234-0", 2), ("ofi+tcp://127.0.0.1:5000", 7)]);
        let keys: Vec<&str> = v.metadata().iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["__config__", "__type__", "zeta"]);
    }

    #[test]
    fn empty_view() {
        let v = GroupView::new();
        assert_eq!(v.digest(), 0);
        assert_eq!(v.member_count(), 0);
        assert_eq!(v.metadata_count(), 0);
        assert_eq!(v.member_at(0), None);
        assert_eq!(v.metadata_at(0), None);
        assert_eq!(v.find_member("x", 0), None);
        assert_eq!(v.find_metadata("x"), None);
    }

    #[test]
    fn members_sorted_by_address_then_provider_id() {
        let mut v = GroupView::new();
        for (a, p) in [("b", 1), ("a", 10), ("a", 2), ("a", 0xFFFF), ("é", 0), ("B", 3)] {
            v.add_member(a, p);
            assert_eq!(v.digest(), v.compute_digest());
        }
        assert_eq!(pairs(&v), [("B", 3), ("a", 2), ("a", 10), ("a", 0xFFFF), ("b", 1), ("é", 0)]);
        assert_eq!(v.member_at(1), Some(&Member { address: "a".into(), provider_id: 2 }));
        assert_eq!(v.member_at(6), None);
        assert_eq!(v.find_member_index("a", 10), Some(2));
        assert_eq!(v.find_member("a", 3), None);
        assert!(v.contains_member("é", 0));
        assert!(!v.contains_member("c", 0));
    }

    #[test]
    fn add_returns_the_index_and_order_of_insertion_does_not_matter() {
        let mut a = GroupView::new();
        let mut b = GroupView::new();
        for i in 0..16u16 {
            let k = (i * 7) % 16;
            let before = a.digest();
            let at = a.add_member(&format!("address/{k:02}"), 42 + k);
            assert_eq!(a.member_at(at).map(|m| m.provider_id), Some(42 + k));
            assert_ne!(a.digest(), before);
            b.add_member(&format!("address/{:02}", 15 - i), 42 + 15 - i);
        }
        assert_eq!(a, b);
        for (i, m) in a.members().iter().enumerate() {
            assert_eq!(m.address, format!("address/{i:02}"));
        }
    }

    #[test]
    fn remove_members() {
        let mut v = GroupView::new();
        for i in 0..16u16 {
            v.add_member(&format!("address/{i:02}"), 42 + i);
        }
        let before = v.digest();
        assert!(!v.remove_member("address/05", 42));
        assert_eq!(v.remove_member_at(16), None);
        assert_eq!(v.digest(), before);

        assert!(v.remove_member("address/05", 47));
        assert_ne!(v.digest(), before);
        assert_eq!(v.member_count(), 15);
        assert_eq!(v.find_member("address/05", 47), None);
        assert_eq!(v.member_at(5).map(|m| m.address.as_str()), Some("address/06"));
        assert_eq!(v.digest(), v.compute_digest());

        let first = v.remove_member_at(0);
        assert_eq!(first, Some(Member { address: "address/00".into(), provider_id: 42 }));
        while v.remove_member_at(0).is_some() {}
        assert_eq!(v.digest(), 0);
    }

    #[test]
    fn duplicate_members_are_kept_and_cancel_in_the_digest() {
        let mut v = GroupView::new();
        v.add_member("x", 1);
        let before = v.digest();
        v.add_member("dup", 7);
        v.add_member("dup", 7);
        assert_eq!(v.member_count(), 3);
        assert_eq!(v.digest(), before);
        assert!(v.remove_member("dup", 7));
        assert!(v.contains_member("dup", 7));
        assert_eq!(v.digest(), v.compute_digest());
        assert!(v.remove_member("dup", 7));
        assert!(!v.remove_member("dup", 7));
        assert_eq!(v.digest(), before);
    }

    #[test]
    fn metadata_add_replace_find_remove() {
        let mut v = GroupView::new();
        for i in 0..8u8 {
            let before = v.digest();
            let key = format!("{}_key{i}", (b'A' + (i * 3) % 8) as char);
            assert_eq!(v.add_metadata(&key, &format!("value_{i}")), None);
            assert_ne!(v.digest(), before);
            assert_eq!(v.digest(), v.compute_digest());
        }
        assert_eq!(v.metadata_count(), 8);
        assert!(v.metadata().windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(v.metadata_at(0), Some(("A_key0", "value_0")));
        assert_eq!(v.metadata_at(8), None);
        assert_eq!(v.find_metadata("D_key1"), Some("value_1"));
        assert_eq!(v.find_metadata("abcd"), None);

        // replacing swaps the entry's hash
        let before = v.digest();
        assert_eq!(v.add_metadata("A_key0", "other"), Some("value_0".to_owned()));
        assert_eq!(v.metadata_count(), 8);
        assert_eq!(v.digest(), before ^ hash_metadata("A_key0", "value_0") ^ hash_metadata("A_key0", "other"));
        v.add_metadata("A_key0", "value_0");
        assert_eq!(v.digest(), before);

        // removal
        assert_eq!(v.remove_metadata("abcd"), None);
        assert_eq!(v.digest(), before);
        assert_eq!(v.remove_metadata("D_key1"), Some("value_1".to_owned()));
        assert_eq!(v.digest(), before ^ hash_metadata("D_key1", "value_1"));
        assert_eq!(v.find_metadata("D_key1"), None);
        assert_eq!(v.metadata_count(), 7);

        // keys compare byte-wise
        v.add_metadata("é", "1");
        v.add_metadata("a", "2");
        assert_eq!(v.metadata().last().map(|(k, _)| k.as_str()), Some("é"));
        assert!(v.metadata().windows(2).all(|w| w[0].0 < w[1].0));
        while let Some((k, _)) = v.metadata_at(0).map(|(k, v)| (k.to_owned(), v.to_owned())) {
            v.remove_metadata(&k);
        }
        assert_eq!(v.digest(), 0);
    }

    #[test]
    fn strings_stop_at_nul_like_c_strings() {
        let mut v = GroupView::new();
        v.add_member("addr\0ignored", 3);
        v.add_metadata("key\0x", "value\0y");
        assert_eq!(v.member_at(0).map(|m| m.address.as_str()), Some("addr"));
        assert!(v.contains_member("addr", 3));
        assert_eq!(v.find_metadata("key"), Some("value"));
        assert_eq!(v.digest(), hash_member(3, "addr") ^ hash_metadata("key", "value"));
    }

    #[test]
    fn clone_and_clear() {
        let mut v = GroupView::new();
        v.add_member("na+sm://1-0", 1);
        v.add_metadata("k", "v");
        let c = v.clone();
        assert_eq!(c, v);
        assert_eq!(c.digest(), c.compute_digest());
        v.add_metadata("only-in-original", "1");
        assert_eq!(c.find_metadata("only-in-original"), None);
        v.clear();
        assert_eq!(v, GroupView::new());
        assert_eq!(c.member_count(), 1);
    }

    #[test]
    fn digest_stays_consistent_under_random_operations() {
        // a small deterministic generator, so the test needs no dependency
        let mut state = 0x2545F4914F6CDD1Du64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let mut v = GroupView::new();
        for _ in 0..2000 {
            let (a, p, k) = (format!("m{}", next(8)), next(3) as u16, format!("k{}", next(8)));
            match next(5) {
                0 => {
                    v.add_member(&a, p);
                }
                1 => {
                    v.remove_member(&a, p);
                }
                2 => {
                    v.add_metadata(&k, &format!("v{}", next(4)));
                }
                3 => {
                    v.remove_metadata(&k);
                }
                _ => {
                    v.remove_member_at(next(4) as usize);
                }
            }
            assert_eq!(v.digest(), v.compute_digest());
            assert!(v.members().windows(2).all(|w| w[0] <= w[1]));
            assert!(v.metadata().windows(2).all(|w| w[0].0 < w[1].0));
        }
    }
}
