use super::*;

/// The value each field gets in `every_context_field_is_in_the_table_and_comes_from_its_header`:
/// its index for numbers, its name otherwise.
fn sample(i: usize, field: &Field) -> String {
    match field.value(&mut Context::default()) {
        Value::Number(_) => i.to_string(),
        _ => field.name().to_string(),
    }
}

#[test]
fn every_context_field_is_in_the_table_and_comes_from_its_header() {
    let headers: Headers = FIELDS
        .iter()
        .enumerate()
        .filter_map(|(i, f)| Some((f.header()?.to_ascii_uppercase(), sample(i, f))))
        .collect();
    let env = Environment::from_lookup(|k| {
        let i = FIELDS
            .iter()
            .position(|f| f.header().is_none() && f.env().any(|v| v == k))?;
        Some(sample(i, &FIELDS[i]))
    });
    let arrived = Instant::now();
    let mut c = Context::default();
    c.refill(&headers, arrived, &env);
    let text = |s: &str| s.to_string();
    let num = |name: &str| {
        FIELDS
            .iter()
            .position(|f| f.name() == name)
            .map(|i| i as u32)
    };
    // No `..`: a field added to `Context` fails to compile here until it is in this list, and
    // the assertion fails until it is in `FIELDS`.
    let expected = Context {
        request_id: text("request_id"),
        credentials: Credentials {
            access_key_id: text("credentials.access_key_id"),
            access_key_secret: text("credentials.access_key_secret"),
            security_token: text("credentials.security_token"),
        },
        function_name: text("function_name"),
        function_handler: text("function_handler"),
        memory_mb: num("memory_mb"),
        timeout_s: num("timeout_s"),
        initializer: text("initializer"),
        initialization_timeout_s: num("initialization_timeout_s"),
        pre_stop_handler: text("pre_stop_handler"),
        pre_freeze_handler: text("pre_freeze_handler"),
        region: text("region"),
        account_id: text("account_id"),
        qualifier: text("qualifier"),
        version_id: text("version_id"),
        service_name: text("service_name"),
        log_project: text("log_project"),
        log_store: text("log_store"),
        control_path: text("control_path"),
        log_type: text("log_type"),
        retry_count: num("retry_count"),
        base_path: Some(text("base_path")),
        client_ip: Some(text("client_ip")),
        api_server_ip: Some(text("api_server_ip")),
        invocation_type: Some(text("invocation_type")),
        function_type: Some(text("function_type")),
        span_context: Some(text("span_context")),
        span_baggages: Some(text("span_baggages")),
        jaeger_endpoint: Some(text("jaeger_endpoint")),
        eagleeye_trace_id: Some(text("eagleeye_trace_id")),
        eagleeye_rpc_id: Some(text("eagleeye_rpc_id")),
        eagleeye_user_data: Some(text("eagleeye_user_data")),
        instance_id: Some(text("instance_id")),
        code_path: Some(text("code_path")),
        deadline: Some(arrived + Duration::from_secs(num("timeout_s").unwrap().into())),
    };
    assert_eq!(c, expected);
    // Refilled from no headers and no environment, nothing of the call before is left.
    c.refill(&Headers::new(), Instant::now(), &Environment::default());
    assert_eq!(c, Context::default());
}

#[test]
fn every_header_is_found_in_the_table_and_no_other() {
    for (i, f) in FIELDS.iter().enumerate() {
        if let Some(h) = f.header() {
            assert_eq!(fields::field_of(h), Some(i), "{h}");
        }
    }
    for other in [
        "x-fc-",
        "x-fc-status",
        "x-fc-request-ie",
        "x-fc-region2",
        "host",
    ] {
        assert_eq!(fields::field_of(other), None, "{other}");
    }
}

#[test]
fn context_takes_the_first_of_repeated_headers_in_any_case() {
    let h: Headers = [
        ("X-FC-Region", "first"),
        ("x-fc-region", "second"),
        ("x-fc-function-memory", "512"),
        ("x-fc-function-memory", "1024"),
        ("content-type", "text/plain"),
    ]
    .into_iter()
    .collect();
    let ctx = Context::from_headers(&h, Instant::now());
    assert_eq!((ctx.region.as_str(), ctx.memory_mb), ("first", Some(512)));
    assert_eq!(ctx.deadline, None);
}

#[test]
fn optional_fields_are_none_when_absent_or_empty_and_keep_their_memory() {
    let with = |ip: &str| -> Headers { [("x-fc-client-ip", ip)].into_iter().collect() };
    let none = Environment::default();
    let mut c = Context::from_headers(&with("10.0.0.1"), Instant::now());
    assert_eq!(c.client_ip.as_deref(), Some("10.0.0.1"));
    let buffer = c.client_ip.as_ref().unwrap().as_ptr();
    c.refill(&with("10.0.0.2"), Instant::now(), &none);
    assert_eq!(c.client_ip.as_deref(), Some("10.0.0.2"));
    let kept = c.client_ip.as_ref().unwrap().as_ptr();
    assert_eq!(kept, buffer, "reallocated");
    c.refill(&with(""), Instant::now(), &none);
    assert_eq!(c.client_ip, None, "an empty header counts as absent");
    c.refill(&with("10.0.0.3"), Instant::now(), &none);
    c.refill(&Headers::new(), Instant::now(), &none);
    assert_eq!(c.client_ip, None);
    // Of repeated headers the first wins, even an empty one.
    let h: Headers = [("x-fc-base-path", ""), ("x-fc-base-path", "/b/")]
        .into_iter()
        .collect();
    assert_eq!(Context::from_headers(&h, Instant::now()).base_path, None);
}

#[test]
fn a_call_without_a_header_gets_the_environments_value_and_a_header_wins() {
    let vars = [
        ("FC_FUNCTION_NAME", "env-fn"),
        ("FC_FUNCTION_MEMORY_SIZE", "128"),
        ("FC_VER_ID", "3"),
        ("FC_INSTANCE_ID", "c-1"),
        ("FC_REGION", " "),
        ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ENVSECRET"),
    ];
    let env = Environment::from_lookup(|k| {
        let v = vars.iter().find(|(n, _)| *n == k)?;
        Some(v.1.to_string())
    });
    let mut c = Context::default();
    c.refill(&Headers::new(), Instant::now(), &env);
    assert_eq!(
        (c.function_name.as_str(), c.memory_mb),
        ("env-fn", Some(128))
    );
    assert_eq!(
        (c.version_id.as_str(), c.instance_id.as_deref()),
        ("3", Some("c-1"))
    );
    assert_eq!(c.region, "", "a blank variable is unset");
    assert_eq!(c.credentials.access_key_secret, "ENVSECRET");
    let h: Headers = [
        ("x-fc-function-name", "header-fn"),
        ("x-fc-function-memory", ""),
    ]
    .into_iter()
    .collect();
    c.refill(&h, Instant::now(), &env);
    assert_eq!(c.function_name, "header-fn");
    assert_eq!(c.memory_mb, Some(128), "an empty header counts as absent");
    for shown in [format!("{c:?}"), format!("{env:?}")] {
        assert!(!shown.contains("ENVSECRET"), "{shown}");
    }
    assert!(format!("{env:?}").contains("env-fn"));
}

#[test]
fn context_debug_shows_every_field_but_the_credentials() {
    let h: Headers = [
        ("x-fc-access-key-id", "KEYID1"),
        ("x-fc-access-key-secret", "SECRET1"),
        ("x-fc-security-token", "TOKEN1"),
        ("x-fc-function-timeout", "3"),
        ("x-fc-eagleeye-rpcid", "0.1"),
    ]
    .into_iter()
    .collect();
    let ctx = Context::from_headers(&h, Instant::now());
    assert_eq!(ctx.credentials.access_key_secret, "SECRET1");
    let shown = format!("{ctx:?}");
    for secret in ["KEYID1", "SECRET1", "TOKEN1"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(shown.contains("eagleeye_rpc_id: Some(\"0.1\")"), "{shown}");
    assert!(ctx.remaining().unwrap() <= Duration::from_secs(3));
}

#[test]
fn docs_context_md_lists_every_field_with_its_header_and_variables() {
    let doc = include_str!("../../docs/context.md");
    for f in &FIELDS {
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", f.name())))
            .unwrap_or_else(|| panic!("docs/context.md has no row for `{}`", f.name()));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let header = f.header().map(|h| format!("`{h}`"));
        assert!(
            cells[2].starts_with(header.as_deref().unwrap_or("none")),
            "the header of `{}`: {row}",
            f.name()
        );
        let env: Vec<String> = f.env().map(|v| format!("`{v}`")).collect();
        let listed: Vec<&str> = cells[3]
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|w| w.starts_with('`'))
            .collect();
        assert_eq!(listed, env, "the variables of `{}`: {row}", f.name());
    }
}

#[test]
fn a_context_refilled_call_after_call_equals_one_filled_afresh() {
    let env = Environment::from_lookup(|k| match k {
        "FC_FUNCTION_NAME" => Some("env-fn".into()),
        "FC_FUNCTION_MEMORY_SIZE" => Some("128".into()),
        _ => None,
    });
    let calls: [&[(&str, &str)]; 6] = [
        &[("x-fc-request-id", "1"), ("x-fc-function-name", "h-fn")],
        &[("x-fc-request-id", "2"), ("x-fc-client-ip", "10.0.0.1")],
        // A repeated header whose first value is empty: absent, though the second was written.
        &[("x-fc-region", ""), ("x-fc-region", "cn-hangzhou")],
        &[
            ("x-fc-function-memory", "512"),
            ("x-fc-function-timeout", "3"),
        ],
        &[],
        &[("X-Fc-Function-Name", "again"), ("x-fc-base-path", "/b/")],
    ];
    let arrived = Instant::now();
    let mut reused = Context::default();
    let mut stale = u64::MAX;
    for headers in calls {
        let headers: Headers = headers.iter().copied().collect();
        stale = reused.refill_changed(&headers, arrived, &env, stale);
        let mut fresh = Context::default();
        fresh.refill(&headers, arrived, &env);
        assert_eq!(reused, fresh, "after {headers:?}");
    }
}

#[test]
fn an_environment_value_set_in_code_fills_only_an_unset_field_and_keeps_the_table_order() {
    let read = |vars: &[(&str, &str)]| {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Environment::from_lookup(move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    };
    let env = read(&[("FC_REGION", "cn-shanghai")])
        .or_set("FC_FUNC_CODE_PATH", "/code")
        .or_set("FC_INSTANCE_ID", "i-1")
        .or_set("FC_REGION", "ignored")
        .or_set("NOT_AN_FC_VARIABLE", "ignored");
    let read_whole = read(&[
        ("FC_REGION", "cn-shanghai"),
        ("FC_INSTANCE_ID", "i-1"),
        ("FC_FUNC_CODE_PATH", "/code"),
    ]);
    assert_eq!(env, read_whole);
    assert_eq!(env.of("FC_INSTANCE_ID"), Some("i-1"));
    assert_eq!(env.of("FC_REGION"), Some("cn-shanghai"));
    assert_eq!(env.of("FC_ACCOUNT_ID"), None);
}
