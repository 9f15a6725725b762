//! The FC protocol: answers, error bodies, context fields, log lines, credentials.

use std::thread;
use std::time::Duration;

use tinyfc_harness::*;

const SECRET_ID: &str = "AKID-visible-only-to-the-handler";
const SECRET_KEY: &str = "s3cr3t-key-never-logged";
const SECRET_TOKEN: &str = "sts-token-never-logged";

/// Every header docs/protocol.md lists, with recognisable values.
fn platform_headers(
    request_id: &'static str,
    control_path: &'static str,
) -> Vec<(&'static str, &'static str)> {
    vec![
        ("x-fc-request-id", request_id),
        ("x-fc-access-key-id", SECRET_ID),
        ("x-fc-access-key-secret", SECRET_KEY),
        ("x-fc-security-token", SECRET_TOKEN),
        ("x-fc-function-name", "fn-name"),
        ("x-fc-function-handler", "index.handler"),
        ("x-fc-function-memory", "512"),
        ("x-fc-function-timeout", "30"),
        ("x-fc-function-initializer", "index.init"),
        ("x-fc-initialization-timeout", "60"),
        ("x-fc-instance-lifecycle-pre-stop-handler", "index.stop"),
        ("x-fc-instance-lifecycle-pre-freeze-handler", "index.freeze"),
        ("x-fc-region", "cn-hangzhou"),
        ("x-fc-account-id", "1234567890"),
        ("x-fc-qualifier", "LATEST"),
        ("x-fc-version-id", "7"),
        ("x-fc-service-name", "svc"),
        ("x-fc-service-logproject", "log-proj"),
        ("x-fc-service-logstore", "log-store"),
        ("x-fc-control-path", control_path),
        ("x-fc-log-type", "Tail"),
        ("x-fc-retry-count", "2"),
        ("x-fc-client-ip", "203.0.113.7"),
        ("x-fc-tracing-opentracing-span-context", "5f1e:a2b3:0:1"),
        ("x-fc-tracing-opentracing-span-baggages", "e30="),
        (
            "x-fc-tracing-jaeger-endpoint",
            "http://tracing-analysis/api/traces",
        ),
        ("x-fc-eagleeye-traceid", "0b5d1e"),
        ("x-fc-invocation-type", "Sync"),
    ]
}

#[test]
fn successful_invocation_carries_x_fc_status_200_and_the_handler_answer() {
    let f = Function::start("probe", &[]);
    let r = f.request(
        "PUT",
        "/echo?x=1",
        &[("x-fc-control-path", "/http-invoke")],
        b"payload",
    );
    assert_eq!((r.status, r.header("x-fc-status")), (200, Some("200")));
    assert_eq!(r.header("x-probe-method"), Some("PUT"));
    assert_eq!(r.header("x-probe-path"), Some("/echo?x=1"));
    assert_eq!(r.body, b"payload");
}

#[test]
fn event_invocation_handler_error_answers_404_with_json_error_body() {
    let f = Function::start("probe", &[]);
    // An event invocation whose path (as the handler sees it) is /error.
    let r = f.request("POST", "/error", &[("x-fc-control-path", "/invoke")], b"{}");
    assert_eq!((r.status, r.header("x-fc-status")), (404, Some("404")));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.text(),
        r#"{"errorMessage":"probe error","errorType":"ProbeError","stackTrace":[]}"#
    );
}

#[test]
fn http_invocation_handler_error_answers_500_with_x_fc_status_404() {
    let f = Function::start("probe", &[]);
    let r = f.http("GET", "/error");
    assert_eq!((r.status, r.header("x-fc-status")), (500, Some("404")));
    assert!(r.text().contains(r#""errorMessage":"probe error""#));
}

#[test]
fn handler_panic_fails_only_that_invocation() {
    let f = Function::start("probe", &[("TINYFC_WORKERS", "2")]);
    let f = &f;
    thread::scope(|s| {
        let slow = s.spawn(move || f.http("GET", "/sleep/300"));
        thread::sleep(Duration::from_millis(50));
        let r = f.http("GET", "/panic");
        assert_eq!((r.status, r.header("x-fc-status")), (500, Some("404")));
        let body = r.text();
        assert!(body.contains(r#""errorType":"Panic""#), "{body}");
        assert!(body.contains(r#""errorMessage":"probe panic""#), "{body}");
        let r = f.request("POST", "/panic", &[("x-fc-control-path", "/invoke")], b"");
        assert_eq!(r.status, 404, "an event invocation's panic is a 404");
        assert_eq!(slow.join().unwrap().status, 200);
    });
    // Both workers survived: two concurrent invocations still run.
    thread::scope(|s| {
        let a = s.spawn(move || f.http("GET", "/sleep/100").status);
        let b = s.spawn(move || f.http("GET", "/sleep/100").status);
        assert_eq!((a.join().unwrap(), b.join().unwrap()), (200, 200));
    });
    assert_still_serving(f);
}

#[test]
fn context_fields_come_from_the_platform_headers() {
    let f = Function::start("probe", &[("FC_INSTANCE_ID", "c-instance-1")]);
    let h = platform_headers("ctx-req", "/http-invoke");
    let r = f.request("GET", "/context", &h, b"");
    assert_eq!(r.status, 200);
    let body = r.text();
    for field in [
        r#""request_id":"ctx-req""#,
        r#""function_name":"fn-name""#,
        r#""function_handler":"index.handler""#,
        r#""region":"cn-hangzhou""#,
        r#""account_id":"1234567890""#,
        &format!(r#""access_key_id":"{SECRET_ID}""#),
        r#""qualifier":"LATEST""#,
        r#""version_id":"7""#,
        r#""service_name":"svc""#,
        r#""log_project":"log-proj""#,
        r#""log_store":"log-store""#,
        r#""control_path":"/http-invoke""#,
        r#""log_type":"Tail""#,
        r#""memory_mb":512"#,
        r#""timeout_s":30"#,
        r#""retry_count":2"#,
        r#""client_ip":"203.0.113.7""#,
        r#""span_context":"5f1e:a2b3:0:1""#,
        r#""instance_id":"c-instance-1""#,
        r#""route_path":"/context""#,
        r#""base_path":null"#,
    ] {
        assert!(body.contains(field), "missing {field} in {body}");
    }
    let at = body.find(r#""remaining_ms":"#).unwrap() + 15;
    let remaining: u64 = body[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .unwrap();
    assert!(
        remaining > 20_000 && remaining <= 30_000,
        "remaining_ms {remaining}"
    );
}

#[test]
fn a_call_sees_nothing_of_the_context_of_the_call_before_it() {
    // One worker and one connection: both calls run on the same thread, whose context is
    // refilled for each call.
    let f = Function::start("probe", &[("TINYFC_WORKERS", "1")]);
    let mut conn = f.connect();
    let full = conn
        .request(
            "GET",
            "/context",
            &platform_headers("first", "/http-invoke"),
            b"",
        )
        .unwrap();
    assert!(
        full.text().contains(r#""region":"cn-hangzhou""#),
        "{}",
        full.text()
    );
    let bare = conn
        .request(
            "GET",
            "/context",
            &[("x-fc-control-path", "/http-invoke")],
            b"",
        )
        .unwrap();
    let body = bare.text();
    for field in [
        r#""request_id":"""#,
        r#""function_name":"""#,
        r#""region":"""#,
        r#""access_key_id":"""#,
        r#""log_type":"""#,
        r#""memory_mb":null"#,
        r#""timeout_s":null"#,
        r#""retry_count":null"#,
        r#""remaining_ms":null"#,
        r#""client_ip":null"#,
        r#""span_context":null"#,
        r#""base_path":null"#,
        r#""instance_id":null"#,
    ] {
        assert!(body.contains(field), "missing {field} in {body}");
    }
}

#[test]
fn an_http_function_behind_a_base_path_routes_on_the_path_relative_to_it() {
    let f = Function::start("probe", &[]);
    let base = "/2016-08-15/proxy/svc/fn/";
    let h = [
        ("x-fc-control-path", "/http-invoke"),
        ("x-fc-base-path", base),
    ];
    let r = f.request("GET", "/2016-08-15/proxy/svc/fn/context?q=1", &h, b"");
    assert_eq!(r.status, 200);
    let body = r.text();
    for field in [
        r#""route_path":"/context""#,
        r#""base_path":"/2016-08-15/proxy/svc/fn/""#,
    ] {
        assert!(body.contains(field), "missing {field} in {body}");
    }
    // The same route through a custom domain (no base path), and the handler still sees the
    // whole path.
    let r = f.http("GET", "/context?q=1");
    assert!(
        r.text().contains(r#""route_path":"/context""#),
        "{}",
        r.text()
    );
    let r = f.request("POST", "/2016-08-15/proxy/svc/fn/echo", &h, b"x");
    assert_eq!(
        r.header("x-probe-path"),
        Some("/2016-08-15/proxy/svc/fn/echo")
    );
}

#[test]
fn empty_optional_headers_count_as_absent_and_other_fc_headers_stay_in_the_headers() {
    let f = Function::start("probe", &[]);
    let h = [
        ("x-fc-control-path", "/http-invoke"),
        ("x-fc-client-ip", ""),
        ("x-fc-brand-new-header", "kept"),
    ];
    let body = f.request("GET", "/context", &h, b"").text();
    assert!(body.contains(r#""client_ip":null"#), "{body}");
    let r = f.request("GET", "/header/x-fc-brand-new-header", &h, b"");
    assert_eq!((r.status, r.text().as_str()), (200, "kept"));
}

#[test]
fn instance_environment_reaches_every_context() {
    let f = Function::start(
        "probe",
        &[("FC_INSTANCE_ID", "c-42"), ("FC_REGION", "cn-shanghai")],
    );
    let mut conn = f.connect();
    for _ in 0..2 {
        let r = conn
            .request(
                "GET",
                "/context",
                &[("x-fc-control-path", "/http-invoke")],
                b"",
            )
            .unwrap();
        assert!(r.text().contains(r#""instance_id":"c-42""#), "{}", r.text());
    }
}

#[test]
fn context_without_timeout_header_has_no_deadline() {
    let f = Function::start("probe", &[]);
    let body = f.http("GET", "/context").text();
    assert!(body.contains(r#""remaining_ms":null"#), "{body}");
    assert!(body.contains(r#""retry_count":null"#), "{body}");
}

#[test]
fn fc_log_lines_carry_each_calls_request_id() {
    let f = Function::start("probe", &[]);
    assert_eq!(f.initialize("rid-init").status, 200);
    assert_eq!(f.invoke("rid-inv", b"").status, 200);
    assert_eq!(f.pre_stop("rid-stop").status, 200);
    for line in [
        "FC Initialize Start RequestId: rid-init",
        "FC Initialize End RequestId: rid-init",
        "FC Invoke Start RequestId: rid-inv",
        "FC Invoke End RequestId: rid-inv",
        "FC PreStop Start RequestId: rid-stop",
        "FC PreStop End RequestId: rid-stop",
    ] {
        assert!(
            f.wait_stdout(&format!("{line}\n")),
            "missing {line:?} in\n{}",
            f.stdout()
        );
    }
}

#[test]
fn user_log_lines_during_a_call_carry_its_request_id() {
    let f = Function::start("hello", &[("FC_FUNCTION_NAME", "fn1")]);
    let h = [("x-fc-request-id", "rid-42"), ("x-fc-function-name", "fn1")];
    assert_eq!(f.request("POST", "/initialize", &h, b"").status, 200);
    assert!(f.wait_stdout("rid-42 initializing fn1"), "{}", f.stdout());
}

#[test]
fn fc_lines_are_printed_whatever_the_log_level() {
    let f = Function::start("probe", &[("RUST_LOG", "off")]);
    assert_eq!(f.invoke("quiet", b"").status, 200);
    assert!(f.wait_stdout("FC Invoke End RequestId: quiet"));
}

#[test]
fn credential_headers_never_reach_the_logs_even_at_trace_level() {
    let mut f = Function::start("probe", &[("RUST_LOG", "trace")]);
    assert_eq!(
        f.request(
            "POST",
            "/initialize",
            &platform_headers("c1", "/initialize"),
            b""
        )
        .status,
        200
    );
    for path in ["/context", "/error", "/panic", "/echo"] {
        let r = f.request(
            "POST",
            path,
            &platform_headers("c2", "/http-invoke"),
            b"body",
        );
        assert!(r.status == 200 || r.status == 500, "{path}: {}", r.status);
    }
    assert_eq!(
        f.request(
            "GET",
            "/pre-stop",
            &platform_headers("c3", "/pre-stop"),
            b""
        )
        .status,
        200
    );
    f.signal(libc::SIGTERM);
    assert_eq!(f.wait_exit(HANG).and_then(|s| s.code()), Some(0));
    let logs = f.stdout() + &f.stderr();
    assert!(logs.contains("TRACE"), "trace logging was on");
    assert!(logs.contains("x-fc-access-key-secret: <redacted>"));
    for secret in [SECRET_ID, SECRET_KEY, SECRET_TOKEN] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs");
    }
}

#[test]
fn hello_example_answers_hello_world_with_the_function_name_header() {
    let f = Function::start("hello", &[("FC_FUNCTION_NAME", "my-func")]);
    assert_eq!(f.initialize("init").status, 200);
    let r = f.invoke("inv", b"");
    assert_eq!((r.status, r.text().as_str()), (200, "Hello, World!"));
    assert_eq!(r.header("Function-Name"), Some("my-func"));
    assert_eq!(r.header("x-fc-status"), Some("200"));
}

#[test]
fn listens_on_all_interfaces_and_prints_the_port() {
    let f = Function::start("probe", &[]);
    let out = f.stdout();
    assert!(
        out.starts_with(&format!("tinyfc listening on 0.0.0.0:{}\n", f.port)),
        "{out:?}"
    );
}

#[test]
fn a_call_without_fc_headers_gets_the_environments_values_and_a_header_wins() {
    let f = Function::start(
        "probe",
        &[
            ("FC_FUNCTION_NAME", "env-fn"),
            ("FC_FUNCTION_MEMORY_SIZE", "256"),
            ("FC_REGION", "cn-beijing"),
            ("FC_VER_ID", "9"),
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ENVKEYID"),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ENVKEYSECRET"),
            ("ALIBABA_CLOUD_SECURITY_TOKEN", "ENVTOKEN"),
            ("RUST_LOG", "trace"),
        ],
    );
    let bare = [("x-fc-control-path", "/http-invoke")];
    let body = f.request("GET", "/context", &bare, b"").text();
    for field in [
        r#""function_name":"env-fn""#,
        r#""memory_mb":256"#,
        r#""region":"cn-beijing""#,
        r#""version_id":"9""#,
        r#""access_key_id":"ENVKEYID""#,
    ] {
        assert!(body.contains(field), "missing {field} in {body}");
    }
    let with = [
        ("x-fc-control-path", "/http-invoke"),
        ("x-fc-function-name", "header-fn"),
        ("x-fc-access-key-id", "HEADERKEYID"),
    ];
    let body = f.request("GET", "/context", &with, b"").text();
    assert!(body.contains(r#""function_name":"header-fn""#), "{body}");
    assert!(body.contains(r#""access_key_id":"HEADERKEYID""#), "{body}");
    assert!(body.contains(r#""region":"cn-beijing""#), "{body}");
    assert_eq!(f.invoke("rid-env", b"x").status, 200);
    assert!(
        f.wait_stdout("Invoke End RequestId: rid-env"),
        "{}",
        f.stdout()
    );
    let logs = f.stdout() + &f.stderr();
    assert!(logs.contains("TRACE"), "trace logs were written: {logs}");
    for secret in ["ENVKEYID", "ENVKEYSECRET", "ENVTOKEN", "HEADERKEYID"] {
        assert!(!logs.contains(secret), "{secret} logged: {logs}");
    }
}
