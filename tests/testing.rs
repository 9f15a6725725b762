//! `tinyfc::testing`: a handler called as a plain function with the test context and requests,
//! and `TestServer`, the runtime served in this process and called as the platform calls it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tinyfc::testing::{self, TestServer};
use tinyfc::{Context, Error, Function, InitError, Kind, Request, Response};

/// Answers with what it saw: kind, method, path, route path, body, and some headers.
fn echo(_: &(), ctx: &Context, req: Request) -> Result<Response, Error> {
    let kind = match req.kind {
        Kind::Event => "event",
        Kind::Http => "http",
        _ => "other", // Kind is #[non_exhaustive]
    };
    let text = format!(
        "{kind} {} {} {} [{}] x-test={:?} fn={}",
        req.method,
        req.path,
        req.route_path(),
        String::from_utf8_lossy(&req.body),
        req.header("x-test"),
        ctx.function_name,
    );
    Ok(Response::text(text).header("x-echo", "yes"))
}

/// Fails with a typed error on the event `fail`.
fn fail_on_request(_: &(), _: &Context, req: Request) -> Result<Response, Error> {
    if req.body == b"fail" {
        return Err(Error::typed("BadEvent", "told to fail"));
    }
    Ok(Response::text("fine"))
}

#[test]
fn a_handler_called_with_the_test_context_and_requests_sees_what_they_say() {
    let r = echo(&(), &testing::context(), testing::event("hi")).unwrap();
    assert_eq!(
        r.body,
        "event POST /invoke /invoke [hi] x-test=None fn=test-function"
    );
    let req = testing::http("PUT", "/users/7?x=1")
        .with_header("X-Test", " one ")
        .with_body("payload");
    let mut ctx = testing::context();
    ctx.function_name = "other".into();
    let r = echo(&(), &ctx, req).unwrap();
    assert_eq!(
        r.body,
        "http PUT /users/7?x=1 /users/7 [payload] x-test=Some(\"one\") fn=other"
    );
    assert!(fail_on_request(&(), &testing::context(), testing::event("fail")).is_err());
}

#[test]
fn the_test_context_has_the_platforms_defaults() {
    let ctx = testing::context();
    assert_eq!(ctx.request_id, "test-request-id");
    assert_eq!(ctx.function_name, "test-function");
    assert_eq!(ctx.function_handler, "index.handler");
    assert_eq!((ctx.memory_mb, ctx.timeout_s), (Some(512), Some(60)));
    assert_eq!(ctx.region, "cn-hangzhou");
    assert_eq!(ctx.qualifier, "LATEST");
    assert_eq!(ctx.control_path, "/invoke");
    assert!(!ctx.account_id.is_empty() && !ctx.service_name.is_empty());
    let left = ctx.remaining().unwrap();
    assert!(left > Duration::from_secs(50) && left <= Duration::from_secs(60));
    let req = testing::event(vec![1, 2]);
    assert_eq!((req.kind, req.method.as_str()), (Kind::Event, "POST"));
    assert_eq!(req.body, [1, 2]);
}

/// A function that keeps the context of its last call in `seen`.
fn keeps_context(seen: Arc<std::sync::Mutex<Option<Context>>>) -> Function<()> {
    Function::new(move |_: &(), ctx: &Context, _: Request| {
        *seen.lock().unwrap() = Some(ctx.clone());
        Ok(Response::text("kept"))
    })
}

#[test]
fn a_handler_behind_a_test_server_sees_the_test_contexts_instance_id_and_code_path() {
    let seen = Arc::new(std::sync::Mutex::new(None));
    let server = TestServer::start(keeps_context(seen.clone())).unwrap();
    assert_eq!(server.invoke(b"").unwrap().status, 200);
    let got = seen.lock().unwrap().take().unwrap();
    let expected = testing::context();
    assert_eq!(
        (got.instance_id.as_deref(), got.code_path.as_deref()),
        (
            expected.instance_id.as_deref(),
            expected.code_path.as_deref()
        )
    );
    assert_eq!(got.instance_id.as_deref(), Some("test-instance-id"));
    // The whole context is the server's, but for what each call sets.
    let mut per_call = server.context().clone();
    (per_call.request_id, per_call.deadline) = (got.request_id.clone(), got.deadline);
    assert_eq!(got, per_call);

    // A context given later does not change them: they are the instance's, not the call's.
    let mut other = testing::context();
    other.instance_id = Some("ignored".into());
    let server = server.with_context(other);
    assert_eq!(server.invoke(b"").unwrap().status, 200);
    let got = seen.lock().unwrap().take().unwrap();
    assert_eq!(got.instance_id.as_deref(), Some("test-instance-id"));
    assert_eq!(server.context().instance_id, got.instance_id);
}

#[test]
fn a_test_servers_instance_id_and_code_path_come_from_its_configs_environment() {
    let vars = [("FC_INSTANCE_ID", "c-42"), ("FC_FUNC_CODE_PATH", "/opt/fn")];
    let config = tinyfc::Config::from_lookup(|k| {
        let found = vars.iter().find(|(name, _)| *name == k);
        found.map(|(_, value)| value.to_string())
    })
    .unwrap();
    let seen = Arc::new(std::sync::Mutex::new(None));
    let server = TestServer::start_with(config, keeps_context(seen.clone())).unwrap();
    assert_eq!(server.invoke(b"").unwrap().status, 200);
    let got = seen.lock().unwrap().take().unwrap();
    assert_eq!(
        (got.instance_id.as_deref(), got.code_path.as_deref()),
        (Some("c-42"), Some("/opt/fn"))
    );
    assert_eq!(server.context().instance_id.as_deref(), Some("c-42"));
    assert_eq!(server.context().code_path.as_deref(), Some("/opt/fn"));
}

#[test]
fn initialize_answers_200_and_runs_the_initializer_once() {
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let function = Function::with_initializer(
        move |_: &Context| {
            r.fetch_add(1, Ordering::SeqCst);
            Ok(())
        },
        echo,
    );
    let server = TestServer::start(function).unwrap();
    for _ in 0..2 {
        let resp = server.initialize().unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("x-fc-status"), Some("200"));
    }
    assert_eq!(server.invoke(b"").unwrap().status, 200);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[test]
fn invoke_answers_200_with_the_handlers_body_and_the_platforms_context() {
    let server = TestServer::start(Function::new(|_: &(), ctx: &Context, req: Request| {
        let text = format!(
            "{}|{}|{}|{}|{:?}|{}",
            String::from_utf8_lossy(&req.body),
            ctx.function_name,
            ctx.control_path,
            ctx.region,
            ctx.memory_mb,
            ctx.request_id,
        );
        Ok(Response::text(text))
    }))
    .unwrap();
    let resp = server.invoke(b"the event").unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("x-fc-status"), Some("200"));
    let text = resp.text();
    let fields: Vec<&str> = text.split('|').collect();
    assert_eq!(
        fields[..5],
        [
            "the event",
            "test-function",
            "/invoke",
            "cn-hangzhou",
            "Some(512)"
        ]
    );
    assert!(fields[5].starts_with("1-"), "a platform-shaped id: {text}");
    let other = server.invoke(b"").unwrap().text();
    assert_ne!(other.rsplit('|').next(), Some(fields[5]), "ids are fresh");

    let mut renamed = testing::context();
    renamed.function_name = "renamed".into();
    let server = server.with_context(renamed);
    let text = server.invoke(b"x").unwrap().text();
    assert!(text.starts_with("x|renamed|/invoke|"), "{text}");
}

#[test]
fn a_handler_error_answers_404_with_the_fc_json_error_body() {
    let server = TestServer::start(Function::new(fail_on_request)).unwrap();
    let resp = server.invoke(b"fail").unwrap();
    assert_eq!(resp.status, 404);
    assert_eq!(resp.header("x-fc-status"), Some("404"));
    let body = resp.text();
    assert!(body.contains(r#""errorMessage":"told to fail""#), "{body}");
    assert!(body.contains(r#""errorType":"BadEvent""#), "{body}");
    assert!(body.contains(r#""stackTrace":[]"#), "{body}");
    // Only that invocation failed.
    assert_eq!(server.invoke(b"ok").unwrap().text(), "fine");
}

#[test]
fn an_http_request_reaches_the_handler_with_its_method_path_headers_and_body() {
    let server = TestServer::start(Function::new(echo)).unwrap();
    let headers = [
        ("x-test", "yes"),
        ("x-fc-base-path", "/2016-08-15/proxy/svc/fn/"),
    ];
    let resp = server
        .request(
            "PATCH",
            "/2016-08-15/proxy/svc/fn/items/3?full=1",
            &headers,
            b"{\"a\":1}",
        )
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("x-echo"), Some("yes"));
    assert_eq!(
        resp.text(),
        "http PATCH /2016-08-15/proxy/svc/fn/items/3?full=1 /items/3 [{\"a\":1}] \
         x-test=Some(\"yes\") fn=test-function"
    );
    // A header given replaces the platform's of that name.
    let resp = server
        .request("GET", "/", &[("X-Fc-Function-Name", "mine")], b"")
        .unwrap();
    assert!(resp.text().ends_with("fn=mine"), "{}", resp.text());
}

#[test]
fn an_http_handlers_status_passes_through_and_its_error_is_a_500() {
    let server = TestServer::start(Function::new(|_: &(), _: &Context, req: Request| match req
        .route_path()
    {
        "/missing" => Ok(Response::new(404).body("no such page")),
        _ => Err(Error::msg("broken")),
    }))
    .unwrap();
    let resp = server.request("GET", "/missing", &[], b"").unwrap();
    assert_eq!((resp.status, resp.text().as_str()), (404, "no such page"));
    assert_eq!(resp.header("x-fc-status"), Some("200"));
    let resp = server.request("GET", "/other", &[], b"").unwrap();
    assert_eq!(resp.status, 500);
    assert_eq!(resp.header("x-fc-status"), Some("404"));
    assert!(resp.text().contains(r#""errorMessage":"broken""#));
}

#[test]
fn pre_stop_answers_200_runs_the_hook_and_the_next_call_starts_a_new_life() {
    let (inits, stops) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (i, s) = (inits.clone(), stops.clone());
    let function = Function::with_initializer(
        move |_: &Context| {
            i.fetch_add(1, Ordering::SeqCst);
            Ok(())
        },
        echo,
    )
    .pre_stop(move |_: &(), ctx: &Context| {
        assert_eq!(ctx.control_path, "/pre-stop");
        s.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    let server = TestServer::start(function).unwrap();
    assert_eq!(server.initialize().unwrap().status, 200);
    let resp = server.pre_stop().unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(stops.load(Ordering::SeqCst), 1);
    assert_eq!(server.invoke(b"").unwrap().status, 200);
    assert_eq!(inits.load(Ordering::SeqCst), 2);
}

#[test]
fn a_failing_pre_stop_hook_answers_404_and_pre_freeze_runs_its_hook() {
    let freezes = Arc::new(AtomicUsize::new(0));
    let f = freezes.clone();
    let function = Function::new(echo)
        .pre_stop(|_: &(), _: &Context| Err(Error::msg("flush failed")))
        .pre_freeze(move |_: &(), _: &Context| {
            f.fetch_add(1, Ordering::SeqCst);
            Ok(())
        });
    let server = TestServer::start(function).unwrap();
    assert_eq!(server.initialize().unwrap().status, 200);
    assert_eq!(server.pre_freeze().unwrap().status, 200);
    assert_eq!(freezes.load(Ordering::SeqCst), 1);
    let resp = server.pre_stop().unwrap();
    assert_eq!(resp.status, 404);
    assert!(resp.text().contains("flush failed"));
}

#[test]
fn a_retryable_initializer_error_answers_404_and_a_retry_succeeds() {
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let function = Function::with_initializer(
        move |_: &Context| {
            if r.fetch_add(1, Ordering::SeqCst) == 0 {
                return Err(InitError::retry(Error::msg("database not up yet")));
            }
            Ok(String::from("ready"))
        },
        |state: &String, _: &Context, _: Request| Ok(Response::text(state.clone())),
    );
    let server = TestServer::start(function).unwrap();
    let resp = server.initialize().unwrap();
    assert_eq!(resp.status, 404);
    assert!(
        resp.text().contains("database not up yet"),
        "{}",
        resp.text()
    );
    assert_eq!(server.initialize().unwrap().status, 200);
    assert_eq!(server.invoke(b"").unwrap().text(), "ready");
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[test]
fn a_fatal_initializer_error_answers_500_and_fails_every_invocation() {
    let function = Function::with_initializer(
        |_: &Context| -> Result<(), InitError> { Err(InitError::fatal(Error::msg("bad config"))) },
        echo,
    );
    let server = TestServer::start(function).unwrap();
    assert_eq!(server.initialize().unwrap().status, 500);
    let resp = server.invoke(b"").unwrap();
    assert_eq!(resp.status, 500);
    assert!(resp.text().contains("bad config"));
}

#[test]
fn two_test_servers_in_one_process_serve_on_their_own_ports() {
    let a = TestServer::start(Function::new(|_: &(), _: &Context, _: Request| {
        Ok(Response::text("a"))
    }))
    .unwrap();
    let b = TestServer::start(Function::new(|_: &(), _: &Context, _: Request| {
        Ok(Response::text("b"))
    }))
    .unwrap();
    assert_ne!(a.addr().port(), b.addr().port());
    assert!(a.addr().ip().is_loopback());
    for _ in 0..3 {
        assert_eq!(a.invoke(b"").unwrap().text(), "a");
        assert_eq!(b.invoke(b"").unwrap().text(), "b");
    }
}

#[test]
fn a_dropped_test_server_refuses_connections() {
    let server = TestServer::start(Function::new(echo)).unwrap();
    let addr = server.addr();
    assert_eq!(server.invoke(b"").unwrap().status, 200);
    drop(server);
    let err = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[test]
fn a_dropped_test_servers_threads_end_and_release_the_function() {
    struct State(Arc<AtomicBool>);
    impl Drop for State {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicBool::new(false));
    let d = dropped.clone();
    let function = Function::with_initializer(
        move |_: &Context| Ok(State(d.clone())),
        |_: &State, _: &Context, _: Request| Ok(Response::text("ok")),
    );
    let server = TestServer::start(function).unwrap();
    assert_eq!(server.invoke(b"").unwrap().status, 200);
    assert_eq!(server.pre_freeze().unwrap().status, 200); // the control thread runs too
    assert!(!dropped.load(Ordering::SeqCst));
    drop(server);
    // Every thread of the server holds the function: its state drops once the last one ended.
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while !dropped.load(Ordering::SeqCst) && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        dropped.load(Ordering::SeqCst),
        "a server thread still holds the function"
    );
}

#[test]
fn a_test_server_leaves_the_processs_sigint_and_sigterm_alone() {
    // An idle keep-alive connection is closed by the main loop, whose thread would install the
    // actions as it starts: once the server has closed one, that start is past (no sleep).
    let idle = |k: &str| (k == "TINYFC_IDLE_TIMEOUT_MS").then(|| "50".to_string());
    let config = tinyfc::Config::from_lookup(idle).unwrap();
    let server = TestServer::start_with(config, Function::new(echo)).unwrap();
    let mut conn = TcpStream::connect(server.addr()).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    conn.write_all(b"POST /invoke HTTP/1.1\r\nhost: t\r\ncontent-length: 0\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).unwrap(); // EOF: the main loop closed it after 50 ms idle
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: reads the current action into a zeroed struct; changes nothing.
        let action = unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            assert_eq!(libc::sigaction(sig, std::ptr::null(), &mut old), 0);
            old.sa_sigaction
        };
        // The default, or "ignored" when the test process was started so (a shell's `&`):
        // either way, no handler of tinyfc's.
        assert!(
            action == libc::SIG_DFL || action == libc::SIG_IGN,
            "signal {sig} has a handler"
        );
    }
}

#[test]
fn one_test_process_starts_many_test_servers() {
    for i in 0..20 {
        let server = TestServer::start(Function::new(move |_: &(), _: &Context, _: Request| {
            Ok(Response::text(i.to_string()))
        }))
        .unwrap();
        assert_eq!(server.initialize().unwrap().status, 200);
        assert_eq!(server.invoke(b"").unwrap().text(), i.to_string());
        assert_eq!(server.pre_stop().unwrap().status, 200);
    }
}

#[test]
fn hooks_added_in_either_order_both_run() {
    let (freezes, stops) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (f, s) = (freezes.clone(), stops.clone());
    let function = Function::with_initializer(
        |_: &Context| Ok(7u8),
        |_: &u8, _: &Context, _| Ok(Response::text("ok")),
    )
    .pre_freeze(move |_: &u8, _: &Context| {
        f.fetch_add(1, Ordering::SeqCst);
        Ok(())
    })
    .pre_stop(move |_: &u8, _: &Context| {
        s.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    let server = TestServer::start(function).unwrap();
    assert_eq!(server.initialize().unwrap().status, 200);
    assert_eq!(server.pre_freeze().unwrap().status, 200);
    assert_eq!(server.pre_stop().unwrap().status, 200);
    assert_eq!(
        (freezes.load(Ordering::SeqCst), stops.load(Ordering::SeqCst)),
        (1, 1)
    );
}

#[test]
fn a_configuration_made_in_code_is_checked_as_the_environments_is() {
    let mut config = tinyfc::Config::default();
    config.workers = 0;
    let err = TestServer::start_with(config, Function::new(echo)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("TINYFC_WORKERS"), "{err}");
}

/// An SSE handler: three events, each flushed as one chunk, `pause` apart.
fn sse(pause: Duration) -> impl Fn(&(), &Context, Request) -> Result<Response, Error> {
    move |_: &(), _: &Context, _: Request| {
        Ok(Response::stream(move |w| {
            for i in 0..3 {
                if i > 0 {
                    std::thread::sleep(pause);
                }
                write!(w, "data: {i}\n\n")?;
                w.flush()?;
            }
            Ok(())
        })
        .header("content-type", "text/event-stream"))
    }
}

#[test]
fn a_streamed_answer_runs_in_process_and_gives_its_chunks_in_order() {
    let handler = sse(Duration::ZERO);
    let resp = handler(&(), &testing::context(), testing::http("GET", "/events")).unwrap();
    let chunks = testing::chunks(resp).unwrap();
    assert_eq!(
        chunks,
        [&b"data: 0\n\n"[..], b"data: 1\n\n", b"data: 2\n\n"]
    );
    // Bytes are one chunk; a producer's error is the error; 64 KiB unflushed make a chunk.
    assert_eq!(testing::chunks(Response::text("x")).unwrap(), [b"x"]);
    let failing = Response::stream(|w| {
        w.write_all(b"partial")?;
        Err(std::io::Error::other("upstream gone"))
    });
    assert_eq!(
        testing::chunks(failing).unwrap_err().to_string(),
        "upstream gone"
    );
    let big = Response::stream(|w| w.write_all(&vec![b'x'; 64 * 1024 + 1]));
    let sizes: Vec<usize> = testing::chunks(big).unwrap().iter().map(Vec::len).collect();
    assert_eq!(sizes, [64 * 1024 + 1]);
    let body = testing::body(
        sse(Duration::ZERO)(&(), &testing::context(), testing::http("GET", "/")).unwrap(),
    );
    assert_eq!(body.unwrap(), b"data: 0\n\ndata: 1\n\ndata: 2\n\n");
}

#[test]
fn a_test_server_gives_each_chunk_of_a_stream_with_the_time_it_arrived() {
    let pause = Duration::from_millis(200);
    let server = TestServer::start(Function::new(sse(pause))).unwrap();
    let streamed = server.stream("GET", "/events", &[], b"").unwrap();
    assert_eq!(streamed.status, 200);
    assert_eq!(streamed.header("content-type"), Some("text/event-stream"));
    let data: Vec<&[u8]> = streamed.chunks.iter().map(|c| &c.data[..]).collect();
    assert_eq!(data, [&b"data: 0\n\n"[..], b"data: 1\n\n", b"data: 2\n\n"]);
    // The first chunk arrived when it was produced, not with the last: the producer paused
    // twice between them (half that is the bound, for a loaded machine's late reads).
    let at: Vec<Duration> = streamed.chunks.iter().map(|c| c.arrived).collect();
    assert!(at[0] <= at[1] && at[1] <= at[2], "{at:?}");
    assert!(at[2] - at[0] >= pause, "{at:?}");
    assert_eq!(streamed.body(), b"data: 0\n\ndata: 1\n\ndata: 2\n\n");
    assert!(streamed.complete);
}

#[test]
fn a_test_server_gives_the_chunks_of_a_stream_cut_short_and_says_it_was_cut() {
    let function = Function::new(|_: &(), _: &Context, _: Request| {
        Ok(Response::stream(|w| {
            for i in 0..2 {
                write!(w, "data: {i}\n\n")?;
                w.flush()?;
            }
            Err(std::io::Error::other("upstream gone"))
        }))
    });
    let server = TestServer::start(function).unwrap();
    let streamed = server.stream("GET", "/events", &[], b"").unwrap();
    assert_eq!(streamed.status, 200); // the head was sent before the producer failed
    let data: Vec<&[u8]> = streamed.chunks.iter().map(|c| &c.data[..]).collect();
    assert_eq!(data, [&b"data: 0\n\n"[..], b"data: 1\n\n"]);
    assert!(!streamed.complete);
    assert_eq!(streamed.body(), b"data: 0\n\ndata: 1\n\n");
}
