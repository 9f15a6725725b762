//! The table, the raw CSV and the SVG plot (`summary.rs` writes the JSON).

use std::fmt::Write as _;

use super::cold::{Run, PHASES};
use super::load::Load;
use super::stats::{median_interval, Stats};

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
            "\n{:<14} {:<7} {:>6} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8} {:>10} {:>12}",
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
            "hello / it",
            "95% interval"
        );
        for (t, l) in loads {
            let rounds = l.stats();
            let (ratio, (low, high)) = hello_over(targets, l);
            let _ = writeln!(
                out,
                "{:<14} {:<7} {:>6} {:>10.0} {:>10.0} {:>10.0} {:>10.0} {:>10.0} {:>8} {:>8} {:>10.2} {:>12}",
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
                ratio,
                format!("{low:.2}-{high:.2}")
            );
        }
    }
    out
}

/// hello's requests/s over `l`'s (in the same setting), round by round (the targets of one round run back to back, so
/// the machine's drift between rounds cancels out): the median over the rounds, and the 95%
/// confidence interval of that median ([`median_interval`]); NaN without hello.
pub(super) fn hello_over(targets: &[Target], l: &Load) -> (f64, (f64, f64)) {
    let hello = targets
        .iter()
        .filter(|t| t.name == "hello")
        .flat_map(|t| &t.loads)
        .find(|h| h.connections == l.connections && h.setting == l.setting);
    let Some(hello) = hello else {
        return (f64::NAN, (f64::NAN, f64::NAN));
    };
    let ratios: Vec<f64> = hello
        .rounds
        .iter()
        .zip(&l.rounds)
        .map(|(h, x)| h / x)
        .collect();
    (Stats::of(&ratios).median, median_interval(&ratios))
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
pub(super) fn ideal(ms: u64, conns: usize) -> f64 {
    conns as f64 * 1000.0 / ms as f64
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

/// A target with no cold starts and one shared-setting load of `rounds` (req/s), for tests.
#[cfg(test)]
pub(super) fn test_target(name: &str, rounds: &[f64]) -> Target {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocking_case_reports_the_ratio_to_the_ideal() {
        let l = test_target("probe", &[3200.0, 3200.0, 6400.0])
            .loads
            .remove(0);
        let table = blocking_table(10, 16, &[("probe".into(), Ok(l))]);
        assert!(table.contains("ideal 1600 req/s"), "{table}");
        assert!(
            table
                .lines()
                .any(|r| r.starts_with("probe") && r.ends_with(" 2.000")),
            "{table}"
        );
    }

    #[test]
    fn throughput_is_compared_round_by_round_with_the_medians_interval() {
        // The machine slows down halfway: the medians of the rounds mislead (hello's is 90, the
        // other's 100, "0.90"), each round's ratio does not (hello is 2/3 of it throughout).
        let hello = test_target("hello", &[60.0, 60.0, 60.0, 90.0, 90.0, 90.0]);
        let other = test_target("other", &[90.0, 90.0, 90.0, 135.0, 135.0, 135.0]);
        let targets = [test_target("floor", &[]), hello, other];
        let (ratio, interval) = hello_over(&targets, &targets[2].loads[0]);
        assert!((ratio - 2.0 / 3.0).abs() < 1e-9, "{ratio}");
        assert!((interval.0 - 2.0 / 3.0).abs() < 1e-9 && (interval.1 - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(
            hello_over(&targets, &targets[1].loads[0]),
            (1.0, (1.0, 1.0))
        );
        let table = table(&targets);
        let row = table.lines().find(|l| l.starts_with("other")).unwrap();
        assert!(row.ends_with(" 0.67    0.67-0.67"), "{table}");
    }
}
