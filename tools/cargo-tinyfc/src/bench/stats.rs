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

/// The 95% confidence interval of the median of `samples`: their j-th smallest and j-th largest,
/// for the largest j at which the chance that the median lies outside is at most 2.5% on each
/// side. That chance is a binomial count (how many samples fall below the median), so the
/// interval assumes nothing about how the samples spread. Under 6 samples even min..max is less
/// sure than 95%: it is min..max. (NaN, NaN) without samples.
pub fn median_interval(samples: &[f64]) -> (f64, f64) {
    let n = samples.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    // `below`: the chance that fewer than j samples fall below the median, P(B <= j - 1) for
    // B ~ Binomial(n, 1/2); `at_j`: P(B = j).
    let (mut j, mut below) = (1, 0.5f64.powi(n as i32));
    let mut at_j = below;
    while 2 * (j + 1) <= n {
        at_j *= (n + 1 - j) as f64 / j as f64;
        if 2.0 * (below + at_j) > 0.05 {
            break;
        }
        below += at_j;
        j += 1;
    }
    (s[j - 1], s[n - j])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_interval_takes_the_ranks_of_a_binomial_95_percent() {
        let ranks = |n: usize| {
            let s: Vec<f64> = (1..=n).map(|i| i as f64).collect();
            median_interval(&s)
        };
        // The usual tables: 3rd and 10th of 12, 7th and 18th of 24, 40th and 61st of 100.
        assert_eq!(ranks(12), (3.0, 10.0));
        assert_eq!(ranks(24), (7.0, 18.0));
        assert_eq!(ranks(100), (40.0, 61.0));
        assert_eq!(ranks(5), (1.0, 5.0));
        assert_eq!(ranks(1), (1.0, 1.0));
        assert!(median_interval(&[]).0.is_nan());
    }

    #[test]
    fn stats_pick_order_statistics() {
        let s = Stats::of(&[5.0, 1.0, 3.0, 2.0, 4.0]);
        assert_eq!((s.min, s.median, s.max), (1.0, 3.0, 5.0));
    }
}
