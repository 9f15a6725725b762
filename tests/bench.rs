//! The benchmark (`make bench`) end to end, small: every target measured, the table printed, and
//! the CSV, JSON and SVG written. Numbers are not checked (speed lives in `make bench`), only that
//! each one was measured.

mod common;

use std::process::Command;

use common::*;

#[test]
fn bench_measures_every_target_and_writes_csv_json_and_svg() {
    let bench = example("bench");
    let dir = bench.parent().unwrap().parent().unwrap(); // target/<profile>
    example("floor"); // built with the others
    let out = std::env::temp_dir().join(format!("tinyfc-bench-test-{}", std::process::id()));
    let hello = dir.join("examples/hello");
    let run = Command::new(&bench)
        .args([
            "--runs",
            "3",
            "--warmup",
            "1",
            "--load-secs",
            "0.3",
            "--clients",
            "2",
        ])
        .arg("--dir")
        .arg(dir)
        .arg("--out")
        .arg(&out)
        .arg("--target")
        .arg(format!("again={}", hello.display()))
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{table}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );

    let targets = ["floor", "hello", "tokio_hello", "tokio_fc", "again"];
    for t in targets {
        for phase in [
            "listening",
            "initialized",
            "first_answer",
            "pre_stop",
            "sigterm_exit",
            "rss (kB)",
            "rss anon (kB)",
        ] {
            let row = table
                .lines()
                .find(|l| l.starts_with(&format!("{t:<14} {phase}")))
                .unwrap_or_else(|| panic!("no {t} {phase} row in\n{table}"));
            let median: f64 = row
                .split_whitespace()
                .rev()
                .nth(2)
                .unwrap()
                .parse()
                .unwrap();
            assert!(median > 0.0, "{row}");
        }
    }
    // Throughput for hello, both tokio servers and the added target, at --clients and at 256.
    for t in ["hello", "tokio_hello", "tokio_fc", "again"] {
        for conns in ["2", "256"] {
            let row = table
                .lines()
                .find(|l| l.split_whitespace().take(2).eq([t, conns]))
                .unwrap_or_else(|| panic!("no {t} {conns} throughput row in\n{table}"));
            let rps: f64 = row.split_whitespace().nth(2).unwrap().parse().unwrap();
            assert!(rps > 0.0, "{row}");
            // The last column: hello's req/s over this target's, round by round.
            let hello_over: f64 = row.split_whitespace().last().unwrap().parse().unwrap();
            assert!(hello_over > 0.0, "{row}");
            if t == "hello" {
                assert_eq!(hello_over, 1.0, "{row}");
            }
        }
    }

    let csv = std::fs::read_to_string(out.join("runs.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "target,run,listening_us,initialized_us,first_answer_us,pre_stop_us,sigterm_exit_us,rss_kb,rss_anon_kb"
    );
    assert_eq!(lines.count(), 3 * targets.len(), "{csv}");

    let json = std::fs::read_to_string(out.join("summary.json")).unwrap();
    assert!(json.starts_with("{\"machine\":"), "{json}");
    for t in targets {
        assert!(json.contains(&format!("\"name\":\"{t}\"")), "{json}");
    }
    assert!(json.contains("\"rss_anon_kb\"") && json.contains("\"requests_per_s\""));
    assert!(json.contains("\"hello_over_it\":1.000") && !json.contains("NaN"));

    let svg = std::fs::read_to_string(out.join("cold-start.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    for t in targets {
        assert!(svg.contains(t), "{t} missing from the plot");
    }
    let _ = std::fs::remove_dir_all(&out);
}
