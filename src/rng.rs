//! The one pseudo-random generator of the crate (splitmix64): probe orders,
//! helper choices, ping jitter. Not for anything that must be unpredictable;
//! seeds only need to differ between members.

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn draws_stay_in_range_and_vary() {
        let mut r = Rng::new(42);
        let draws: Vec<usize> = (0..1000).map(|_| r.below(7)).collect();
        assert!(draws.iter().all(|&d| d < 7));
        assert!((0..7).all(|v| draws.contains(&v)), "every value of 0..7 comes up in 1000 draws");
        let units: Vec<f64> = (0..1000).map(|_| r.unit()).collect();
        assert!(units.iter().all(|&u| (0.0..1.0).contains(&u)));
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }
}
