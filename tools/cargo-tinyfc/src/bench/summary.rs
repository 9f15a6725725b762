//! `summary.json`: per target, every measure with its stats and its ratio to the floor, the
//! throughput cases with their ratio to hello, and the blocking-handler case.

use serde::Serialize;

use super::cold::PHASES;
use super::load::Load;
use super::report::{hello_over, ideal, Target};
use super::stats::Stats;

/// A number for JSON, rounded to `.1` decimals (0: an integer); `null` when it is not finite (a
/// ratio without a floor run, say).
struct Num(f64, i32);

impl Serialize for Num {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Num(x, decimals) = *self;
        let scale = 10f64.powi(decimals);
        match (x.is_finite(), decimals) {
            (false, _) => s.serialize_none(),
            (true, 0) => s.serialize_i64(x.round() as i64),
            (true, _) => s.serialize_f64((x * scale).round() / scale),
        }
    }
}

/// `summary.json`.
#[derive(Serialize)]
struct Summary<'a> {
    machine: &'a str,
    targets: Vec<TargetSummary<'a>>,
    blocking: Vec<BlockingSummary<'a>>,
}

/// One target in `summary.json`.
#[derive(Serialize)]
struct TargetSummary<'a> {
    name: &'a str,
    command: String,
    runs: usize,
    failures: usize,
    size_bytes: Option<u64>,
    /// Per phase, in [`PHASES`]' order.
    #[serde(serialize_with = "in_order")]
    phases_us: Vec<(&'static str, Measure)>,
    rss_kb: Measure,
    rss_anon_kb: Measure,
    throughput: Vec<LoadSummary>,
}

/// One measure of a target, against the floor's.
#[derive(Serialize)]
struct Measure {
    stats: StatsSummary,
    ratio_to_floor: Num,
}

/// [`Stats`] in `summary.json`.
#[derive(Serialize)]
struct StatsSummary {
    min: Num,
    median: Num,
    p90: Num,
    max: Num,
}

/// One throughput case of a target.
#[derive(Serialize)]
struct LoadSummary {
    setting: &'static str,
    connections: usize,
    requests_per_s: Num,
    rounds_per_s: Vec<Num>,
    p50_us: Num,
    p99_us: Num,
    errors: u64,
    threads: usize,
    hello_over_it: Num,
    /// The 95% confidence interval of `hello_over_it`.
    hello_over_it_95: [Num; 2],
}

/// The blocking-handler case of one runtime.
#[derive(Serialize)]
struct BlockingSummary<'a> {
    runtime: &'a str,
    sleep_ms: u64,
    connections: usize,
    ideal_per_s: Num,
    requests_per_s: Num,
    ratio_to_ideal: Num,
    p50_us: Num,
    p99_us: Num,
    errors: u64,
}

/// Pairs as a JSON object, keys in their order.
fn in_order<S: serde::Serializer>(
    pairs: &[(&'static str, Measure)],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

/// The summary: per target, per phase stats and ratio to the floor, RSS, size, throughput; then
/// the blocking-handler case (its handler sleeps `blocking_ms`).
pub fn json(
    targets: &[Target],
    machine: &str,
    blocking_ms: u64,
    blocking: &[(String, std::io::Result<Load>)],
) -> String {
    let floor = &targets[0];
    let measure = |values: &[f64], floor_values: &[f64]| {
        let s = Stats::of(values);
        Measure {
            stats: StatsSummary {
                min: Num(s.min, 1),
                median: Num(s.median, 1),
                p90: Num(s.p90, 1),
                max: Num(s.max, 1),
            },
            ratio_to_floor: Num(s.median / Stats::of(floor_values).median, 3),
        }
    };
    let targets_out = targets
        .iter()
        .map(|t| TargetSummary {
            name: &t.name,
            command: t.cmd.join(" "),
            runs: t.runs.len(),
            failures: t.failures,
            size_bytes: t.size,
            phases_us: (PHASES.iter().enumerate())
                .map(|(i, p)| (*p, measure(&t.phase(i), &floor.phase(i))))
                .collect(),
            rss_kb: measure(&t.rss(), &floor.rss()),
            rss_anon_kb: measure(&t.anon(), &floor.anon()),
            throughput: (t.loads.iter())
                .map(|l| {
                    let (ratio, (low, high)) = hello_over(targets, l);
                    LoadSummary {
                        setting: l.setting.name(),
                        connections: l.connections,
                        requests_per_s: Num(l.rps(), 0),
                        rounds_per_s: l.rounds.iter().map(|r| Num(*r, 0)).collect(),
                        p50_us: Num(l.p50_us, 1),
                        p99_us: Num(l.p99_us, 1),
                        errors: l.errors,
                        threads: l.threads,
                        hello_over_it: Num(ratio, 3),
                        hello_over_it_95: [Num(low, 3), Num(high, 3)],
                    }
                })
                .collect(),
        })
        .collect();
    let blocking_out = (blocking.iter())
        .filter_map(|(n, r)| Some((n, r.as_ref().ok()?)))
        .map(|(name, l)| {
            let ideal = ideal(blocking_ms, l.connections);
            BlockingSummary {
                runtime: name,
                sleep_ms: blocking_ms,
                connections: l.connections,
                ideal_per_s: Num(ideal, 0),
                requests_per_s: Num(l.rps(), 0),
                ratio_to_ideal: Num(l.rps() / ideal, 3),
                p50_us: Num(l.p50_us, 1),
                p99_us: Num(l.p99_us, 1),
                errors: l.errors,
            }
        })
        .collect();
    let summary = Summary {
        machine,
        targets: targets_out,
        blocking: blocking_out,
    };
    // Plain data: serializing it cannot fail.
    serde_json::to_string(&summary).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::super::report::test_target;
    use super::*;

    #[test]
    fn blocking_case_has_its_ideal_and_ratio() {
        let l = test_target("probe", &[3200.0, 3200.0, 6400.0])
            .loads
            .remove(0);
        let json = json(
            &[test_target("floor", &[])],
            "test",
            10,
            &[("probe".into(), Ok(l))],
        );
        assert!(
            json.contains(r#""ideal_per_s":1600,"requests_per_s":3200,"ratio_to_ideal":2.0,"#),
            "{json}"
        );
    }

    #[test]
    fn ratios_to_hello_have_their_interval_and_no_nan() {
        let targets = [
            test_target("floor", &[]),
            test_target("hello", &[60.0, 60.0, 60.0, 90.0, 90.0, 90.0]),
            test_target("other", &[90.0, 90.0, 90.0, 135.0, 135.0, 135.0]),
        ];
        // No cold-start runs (--no-cold): ratios to the floor are null, not NaN.
        let json = json(&targets, "test", 10, &[]);
        assert!(
            !json.contains("NaN") && json.contains("\"ratio_to_floor\":null"),
            "{json}"
        );
        assert!(
            json.contains("\"hello_over_it\":0.667,\"hello_over_it_95\":[0.667,0.667]"),
            "{json}"
        );
    }
}
