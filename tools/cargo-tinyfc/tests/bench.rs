//! The benchmark (`cargo tinyfc bench`, `make bench`) end to end, small: every target measured, the table printed, and
//! the CSV, JSON and SVG written. Numbers are not checked (speed lives in `make bench`), only that
//! each one was measured.

use std::process::Command;

use tinyfc_harness::*;

#[test]
fn bench_measures_every_target_and_writes_csv_json_and_svg() {
    let floor = example("floor"); // built with the others
    let dir = floor.parent().unwrap().parent().unwrap(); // target/<profile>
    let out = std::env::temp_dir().join(format!("tinyfc-bench-test-{}", std::process::id()));
    let hello = dir.join("examples/hello");
    let run = Command::new(env!("CARGO_BIN_EXE_cargo-tinyfc"))
        .args([
            "bench",
            "--runs",
            "3",
            "--warmup",
            "1",
            "--load-secs",
            "0.3",
            "--clients",
            "2",
            "--blocking-conns",
            "4",
            // A thread per connection, in the shared setting: rounds shorter than wrk's one
            // second, and no cgroup or taskset needed.
            "--client",
            "threads",
            "--settings",
            "shared",
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
                .find(|l| l.split_whitespace().take(3).eq([t, "shared", conns]))
                .unwrap_or_else(|| panic!("no {t} {conns} throughput row in\n{table}"));
            let rps: f64 = row.split_whitespace().nth(3).unwrap().parse().unwrap();
            assert!(rps > 0.0, "{row}");
            // The last two columns: hello's req/s over this target's, round by round (the
            // median), and that median's 95% interval, which holds it.
            let mut last = row.split_whitespace().rev();
            let interval = last.next().unwrap();
            let hello_over: f64 = last.next().unwrap().parse().unwrap();
            assert!(hello_over > 0.0, "{row}");
            let (low, high) = interval.split_once('-').unwrap();
            let (low, high): (f64, f64) = (low.parse().unwrap(), high.parse().unwrap());
            assert!(low <= hello_over && hello_over <= high, "{row}");
            if t == "hello" {
                assert_eq!((low, hello_over, high), (1.0, 1.0, 1.0), "{row}");
            }
        }
    }

    // The blocking-handler case: tinyfc (the probe) and tokio's spawn_blocking, ratio to the ideal
    // (4 connections, 10 ms each: 400 req/s).
    assert!(
        table.contains("blocking handler: sleeps 10 ms, 4 connections, ideal 400 req/s"),
        "{table}"
    );
    for runtime in ["probe", "tokio_blocking"] {
        let row = table
            .lines()
            .skip_while(|l| !l.starts_with("blocking handler"))
            .find(|l| l.starts_with(&format!("{runtime} ")))
            .unwrap_or_else(|| panic!("no blocking row for {runtime} in\n{table}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        let (rps, errors, ratio): (f64, u64, f64) = (
            cells[1].parse().unwrap(),
            cells[6].parse().unwrap(),
            cells[7].parse().unwrap(),
        );
        assert!(rps > 0.0 && ratio > 0.0 && errors == 0, "{row}");
        assert!((rps / 400.0 - ratio).abs() < 0.01, "{row}");
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
    // hello's ratio to itself, the last field of its load case.
    assert!(
        json.contains("\"hello_over_it\":1.0,\"hello_over_it_95\":[1.0,1.0]}")
            && !json.contains("NaN"),
        "{json}"
    );
    assert!(
        json.contains(
            r#""blocking":[{"runtime":"probe","sleep_ms":10,"connections":4,"ideal_per_s":400,"#
        ),
        "{json}"
    );

    let svg = std::fs::read_to_string(out.join("cold-start.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    for t in targets {
        assert!(svg.contains(t), "{t} missing from the plot");
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn epoll_client_is_the_default_and_loads_a_function_for_a_second_without_errors() {
    let hello = example("hello");
    let empty = std::env::temp_dir().join(format!("tinyfc-bench-epoll-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_cargo-tinyfc"))
        .args([
            "bench",
            "--no-cold",
            "--no-blocking",
            "--load-secs",
            "1",
            "--rounds",
            "1",
            "--clients",
            "4",
            // The client pinned to CPU 1 as well, where the machine allows it.
            "--settings",
            "shared,pinned",
        ])
        // No built-in target: hello alone, as --target.
        .arg("--dir")
        .arg(&empty)
        .arg("--out")
        .arg(empty.join("out"))
        .arg("--target")
        .arg(format!("hello={}", hello.display()))
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    let _ = std::fs::remove_dir_all(&empty);
    assert!(run.status.success(), "{table}\n{stderr}");
    assert!(stderr.contains("the client is our epoll loop"), "{stderr}");
    let pinned = !stderr.contains("throughput, pinned: skipped");
    let settings = if pinned {
        &["shared", "pinned"][..]
    } else {
        &["shared"]
    };
    for setting in settings {
        for conns in ["4", "256"] {
            let row = table
                .lines()
                .find(|l| l.split_whitespace().take(3).eq(["hello", setting, conns]))
                .unwrap_or_else(|| panic!("no {setting} {conns} row in\n{table}\n{stderr}"));
            let cells: Vec<f64> = row
                .split_whitespace()
                .skip(3)
                .take(8)
                .map(|c| c.parse().unwrap())
                .collect();
            // req/s, min round, max round, p50, p99, errors, threads, hello / it
            let (rps, p50, p99, errors) = (cells[0], cells[3], cells[4], cells[5]);
            assert!(rps > 0.0 && errors == 0.0, "{row}");
            assert!(0.0 < p50 && p50 <= p99, "{row}");
        }
    }
}

#[test]
fn client_wrk_without_wrk_on_path_fails_at_once_and_says_why() {
    // Throughput and the blocking case both use the client.
    for part in ["--no-blocking", "--no-load"] {
        let run = Command::new(env!("CARGO_BIN_EXE_cargo-tinyfc"))
            .args([
                "bench",
                "--no-cold",
                part,
                "--client",
                "wrk",
                "--dir",
                "/nonexistent",
            ])
            .env("PATH", "")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{part}: {stderr}");
        assert!(
            stderr.contains("--client wrk: wrk is not on PATH"),
            "{part}: {stderr}"
        );
    }
}
