//! Order statistics of samples (cold-start phases, throughput rounds): what the table, the JSON
//! and the load rounds share.

/// min / median / p90 / max of some samples.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    /// The smallest sample.
    pub min: f64,
    /// The middle one (the upper middle of an even count).
    pub median: f64,
    /// The 90th percentile (nearest rank).
    pub p90: f64,
    /// The largest sample.
    pub max: f64,
}

impl Stats {
    /// The statistics of `samples` (all zero when there are none).
    pub fn of(samples: &[f64]) -> Stats {
        if samples.is_empty() {
            return Stats::default();
        }
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let at = |p: f64| s[((s.len() - 1) as f64 * p).round() as usize];
        Stats {
            min: s[0],
            median: at(0.5),
            p90: at(0.9),
            max: s[s.len() - 1],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_pick_order_statistics() {
        let s = Stats::of(&[5.0, 1.0, 3.0, 2.0, 4.0]);
        assert_eq!((s.min, s.median, s.max), (1.0, 3.0, 5.0));
    }
}
