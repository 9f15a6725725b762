//! Summaries: the table, the raw CSV, the JSON summary and the SVG plot.

use std::fmt::Write as _;

use serde::Serialize;

use super::cold::{Run, PHASES};
use super::load::Load;
use super::stats::Stats;

/// A target's measurements.
pub struct Target {
    /// Its name in the table.
    pub name: String,
    /// The command that starts it (leading `NAME=VALUE` words are its environment).
    pub cmd: Vec<String>,
    /// The program's size in bytes, when it is a file.
    pub size: Option<u64>,
    /// The recorded cold starts.
    pub runs: Vec<Run>,
    /// Cold starts that failed.
    pub failures: usize,
    /// Throughput, one per connection count.
    pub loads: Vec<Load>,
}

impl Target {
    /// Phase `i` (of [`PHASES`]) of every run, in microseconds.
    pub fn phase(&self, i: usize) -> Vec<f64> {
        self.runs.iter().map(|r| r.phases[i]).collect()
    }

    /// RSS after the first answer of every run, in kB.
    pub fn rss(&self) -> Vec<f64> {
        self.runs.iter().map(|r| r.rss_kb as f64).collect()
    }

    /// Private memory (RssAnon) after the first answer of every run, in kB.
    pub fn anon(&self) -> Vec<f64> {
        self.runs.iter().map(|r| r.anon_kb as f64).collect()
    }
}

/// The table printed at the end; ratios are medians over the floor's (the first target).
pub fn table(targets: &[Target]) -> String {
    let mut out = String::new();
    let floor = &targets[0];
    let _ = writeln!(
        out,
        "{:<14} {:<13} {:>10} {:>10} {:>10} {:>10} {:>8}",
        "target", "phase (us)", "min", "median", "p90", "max", "x floor"
    );
    for t in targets {
        let mut measures: Vec<(&str, Vec<f64>, Vec<f64>)> = PHASES
            .iter()
            .enumerate()
            .map(|(i, p)| (*p, t.phase(i), floor.phase(i)))
            .collect();
        measures.push(("rss (kB)", t.rss(), floor.rss()));
        measures.push(("rss anon (kB)", t.anon(), floor.anon()));
        if t.runs.is_empty() {
            measures.clear(); // no cold-start runs (--no-cold, or every run failed)
        }
        for (label, values, floor_values) in measures {
            let s = Stats::of(&values);
            let f = Stats::of(&floor_values);
            let _ = writeln!(
                out,
                "{:<14} {:<13} {:>10.0} {:>10.0} {:>10.0} {:>10.0} {:>8.2}",
                t.name,
                label,
                s.min,
                s.median,
                s.p90,
                s.max,
                s.median / f.median
            );
        }
        if let (Some(size), Some(fsize)) = (t.size, floor.size) {
            let _ = writeln!(
                out,
                "{:<14} {:<13} {:>43} {:>8.2}",
                t.name,
                "size (bytes)",
                size,
                size as f64 / fsize as f64
            );
        }
        if t.failures > 0 {
            let _ = writeln!(out, "{:<14} failed runs: {}", t.name, t.failures);
        }
    }
    let loads: Vec<_> = targets
        .iter()
        .flat_map(|t| t.loads.iter().map(move |l| (t, l)))
        .collect();
    if !loads.is_empty() {
        let _ = writeln!(
            out,
            "\n{:<14} {:<7} {:>6} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8} {:>10}",
            "throughput",
            "setting",
            "conns",
            "req/s",
            "min round",
            "max round",
            "p50 (us)",
            "p99 (us)",
            "errors",
            "threads",
            "hello / it"
        );
        for (t, l) in loads {
            let rounds = l.stats();
            let _ = writeln!(
                out,
                "{:<14} {:<7} {:>6} {:>10.0} {:>10.0} {:>10.0} {:>10.0} {:>10.0} {:>8} {:>8} {:>10.2}",
                t.name,
                l.setting.name(),
                l.connections,
                rounds.median,
                rounds.min,
                rounds.max,
                l.p50_us,
                l.p99_us,
                l.errors,
                l.threads,
                hello_over(targets, l)
            );
        }
    }
    out
}

/// hello's requests/s over `l`'s (in the same setting), round by round (the targets of one round run back to back, so
/// the machine's drift between rounds cancels out), median over the rounds; NaN without hello.
fn hello_over(targets: &[Target], l: &Load) -> f64 {
    let hello = targets
        .iter()
        .filter(|t| t.name == "hello")
        .flat_map(|t| &t.loads)
        .find(|h| h.connections == l.connections && h.setting == l.setting);
    let Some(hello) = hello else {
        return f64::NAN;
    };
    let ratios: Vec<f64> = hello
        .rounds
        .iter()
        .zip(&l.rounds)
        .map(|(h, x)| h / x)
        .collect();
    Stats::of(&ratios).median
}

/// The blocking-handler case: per runtime, req/s and its ratio to the ideal, `conns` requests
/// every `ms` milliseconds.
pub fn blocking_table(
    ms: u64,
    conns: usize,
    results: &[(String, std::io::Result<Load>)],
) -> String {
    let mut out = String::new();
    if results.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "\nblocking handler: sleeps {ms} ms, {conns} connections, ideal {:.0} req/s",
        ideal(ms, conns)
    );
    let _ = writeln!(
        out,
        "{:<14} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8} {:>9}",
        "runtime", "req/s", "min round", "max round", "p50 (us)", "p99 (us)", "errors", "x ideal"
    );
    for (name, result) in results {
        match result {
            Ok(l) => {
                let rounds = l.stats();
                let _ = writeln!(
                    out,
                    "{:<14} {:>10.0} {:>10.0} {:>10.0} {:>10.0} {:>10.0} {:>8} {:>9.3}",
                    name,
                    rounds.median,
                    rounds.min,
                    rounds.max,
                    l.p50_us,
                    l.p99_us,
                    l.errors,
                    rounds.median / ideal(ms, conns)
                );
            }
            Err(e) => {
                let _ = writeln!(out, "{name:<14} failed: {e}");
            }
        }
    }
    out
}

/// Requests per second if every request took exactly `ms` and `conns` ran at once.
fn ideal(ms: u64, conns: usize) -> f64 {
    conns as f64 * 1000.0 / ms as f64
}

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

/// Every cold-start run: `target,run,<phases...>,rss_kb,rss_anon_kb`.
pub fn csv(targets: &[Target]) -> String {
    let mut out = format!(
        "target,run,{},rss_kb,rss_anon_kb\n",
        PHASES.map(|p| format!("{p}_us")).join(",")
    );
    for t in targets {
        for (i, r) in t.runs.iter().enumerate() {
            let phases: Vec<String> = r.phases.iter().map(|v| format!("{v:.1}")).collect();
            let _ = writeln!(
                out,
                "{},{},{},{},{}",
                t.name,
                i,
                phases.join(","),
                r.rss_kb,
                r.anon_kb
            );
        }
    }
    out
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
                .map(|l| LoadSummary {
                    setting: l.setting.name(),
                    connections: l.connections,
                    requests_per_s: Num(l.rps(), 0),
                    rounds_per_s: l.rounds.iter().map(|r| Num(*r, 0)).collect(),
                    p50_us: Num(l.p50_us, 1),
                    p99_us: Num(l.p99_us, 1),
                    errors: l.errors,
                    threads: l.threads,
                    hello_over_it: Num(hello_over(targets, l), 3),
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

/// One SVG: a panel per phase, a row of dots per target (each a run), the median marked.
pub fn svg(targets: &[Target]) -> String {
    const COLORS: [&str; 6] = [
        "#888888", "#d9480f", "#1971c2", "#2f9e44", "#ae3ec9", "#f08c00",
    ];
    let (width, label_w, row_h, panel_gap) = (900.0, 150.0, 22.0, 46.0);
    let panel_h = row_h * targets.len() as f64;
    let height = PHASES.len() as f64 * (panel_h + panel_gap) + 30.0;
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="monospace" font-size="12">"#
    );
    out.push_str(r#"<rect width="100%" height="100%" fill="white"/>"#);
    for (p, phase) in PHASES.iter().enumerate() {
        let top = 30.0 + p as f64 * (panel_h + panel_gap);
        let max = targets
            .iter()
            .flat_map(|t| t.phase(p))
            .fold(1.0_f64, f64::max);
        let scale = (width - label_w - 30.0) / max;
        let _ = write!(
            out,
            r#"<text x="10" y="{}" font-weight="bold">{phase} (us, 0 to {max:.0})</text>"#,
            top - 8.0
        );
        for (n, t) in targets.iter().enumerate() {
            let y = top + n as f64 * row_h + row_h / 2.0;
            let color = COLORS[n % COLORS.len()];
            let _ = write!(out, r#"<text x="10" y="{}">{}</text>"#, y + 4.0, t.name);
            for v in t.phase(p) {
                let _ = write!(
                    out,
                    r#"<circle cx="{:.1}" cy="{y:.1}" r="2.5" fill="{color}" fill-opacity="0.5"/>"#,
                    label_w + v * scale
                );
            }
            let m = Stats::of(&t.phase(p)).median;
            let x = label_w + m * scale;
            let _ = write!(
                out,
                r#"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}" stroke="black" stroke-width="2"/>"#,
                y - 8.0,
                y + 8.0
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str, rounds: &[f64]) -> Target {
        Target {
            name: name.into(),
            cmd: vec![name.into()],
            size: None,
            runs: Vec::new(),
            failures: 0,
            loads: vec![Load {
                setting: crate::bench::setting::Setting::Shared,
                threads: 1,
                connections: 16,
                rounds: rounds.to_vec(),
                errors: 0,
                p50_us: 1.0,
                p99_us: 2.0,
            }],
        }
    }

    #[test]
    fn blocking_case_reports_the_ratio_to_the_ideal() {
        let l = target("probe", &[3200.0, 3200.0, 6400.0]).loads.remove(0);
        let table = blocking_table(10, 16, &[("probe".into(), Ok(l.clone()))]);
        assert!(table.contains("ideal 1600 req/s"), "{table}");
        assert!(
            table
                .lines()
                .any(|r| r.starts_with("probe") && r.ends_with(" 2.000")),
            "{table}"
        );
        let json = json(
            &[target("floor", &[])],
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
    fn throughput_is_compared_round_by_round_and_json_has_no_nan() {
        // The machine slows down halfway: the medians of the rounds mislead (hello's is 90, the
        // other's 100, "0.90"), each round's ratio does not (hello is 2/3 of it throughout).
        let hello = target("hello", &[60.0, 60.0, 60.0, 90.0, 90.0, 90.0]);
        let other = target("other", &[90.0, 90.0, 90.0, 135.0, 135.0, 135.0]);
        let targets = [target("floor", &[]), hello, other];
        let ratio = hello_over(&targets, &targets[2].loads[0]);
        assert!((ratio - 2.0 / 3.0).abs() < 1e-9, "{ratio}");
        assert_eq!(hello_over(&targets, &targets[1].loads[0]), 1.0);
        // No cold-start runs (--no-cold): ratios to the floor are null, not NaN.
        let json = json(&targets, "test", 10, &[]);
        assert!(
            !json.contains("NaN") && json.contains("\"ratio_to_floor\":null"),
            "{json}"
        );
        assert!(json.contains("\"hello_over_it\":0.667"), "{json}");
    }
}
