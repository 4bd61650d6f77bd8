//! Upstream's warnings about a pool/xstream layout that works but may
//! starve or delay work.

use super::types::MargoConfig;

impl MargoConfig {
    /// Upstream's non-fatal sanity checks of the pool/xstream layout, as
    /// human-readable warnings (margo logs them at init and carries on).
    pub fn sanity_warnings(&self) -> Vec<String> {
        const FIRST: u8 = 1;
        const WITH_PROGRESS: u8 = 2;
        const AFTER_PROGRESS: u8 = 4;
        const BEFORE_PROGRESS: u8 = 8;
        let n = self.pools.len();
        let mut flags = vec![0u8; n];
        for x in &self.xstreams {
            let mut seen_progress = false;
            for (j, &p) in x.pools.iter().enumerate() {
                if p >= n {
                    continue;
                }
                if p == self.progress_pool {
                    seen_progress = true;
                }
                if j == 0 {
                    flags[p] |= FIRST;
                }
                if p != self.progress_pool {
                    flags[p] |= if seen_progress { AFTER_PROGRESS } else { BEFORE_PROGRESS };
                }
            }
            if seen_progress {
                for &p in x.pools.iter().filter(|&&p| p < n) {
                    flags[p] |= WITH_PROGRESS;
                }
            }
        }
        let mut out = Vec::new();
        for (i, (pool, f)) in self.pools.iter().zip(flags).enumerate() {
            let who = format!("pool \"{}\" (index {i})", pool.name);
            if f == 0 {
                out.push(format!("{who} is not used by any xstream; work pushed to it will never run"));
                continue;
            }
            if f & FIRST == 0 {
                out.push(format!("{who} is not the first pool of any xstream; its work may starve"));
            }
            if i == self.progress_pool {
                continue;
            }
            if f & BEFORE_PROGRESS == 0 {
                out.push(format!(
                    "{who} never comes before the progress pool in an xstream; the progress loop may keep its xstreams busy"
                ));
            }
            if f & AFTER_PROGRESS != 0 {
                out.push(format!("{who} comes after the progress pool in some xstream, which may never get to it"));
            }
            if f & WITH_PROGRESS != 0 {
                out.push(format!("{who} shares an xstream with the progress pool; its work may be delayed"));
            }
        }
        out
    }
}
