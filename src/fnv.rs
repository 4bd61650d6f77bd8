//! FNV-1a (64 bits): a stable hash for values that must agree between
//! processes (fingerprints compared across MPI ranks). `rpc::wire::rpc_id`
//! computes the same function over an RPC name.

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a over `bytes`.
pub fn fnv1a64(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(OFFSET, |h, b| (h ^ b as u64).wrapping_mul(PRIME))
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_the_rpc_id_of_the_same_bytes() {
        for name in ["", "a", "flock_get_view", "bedrock_get_config"] {
            assert_eq!(super::fnv1a64(name.bytes()), crate::rpc::wire::rpc_id(name));
        }
        // The published FNV-1a 64 test vector.
        assert_eq!(super::fnv1a64("a".bytes()), 0xaf63_dc4c_8601_ec8c);
    }
}
