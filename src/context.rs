//! The per-request [`Context`]: what the platform says about the function and the call, read
//! from its `x-fc-*` request headers, and about the instance, read from its environment at start.

use std::fmt;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::headers::Headers;

/// The per-request context, from the platform's request headers and the instance's environment.
///
/// Text fields the platform documents for every call are `String`s, empty when the header is
/// absent; the fields for headers seen only on some calls are `Option`s, `None` when the header is
/// absent or empty (live FC traffic sends some of them empty). Any other header, `x-fc-*` or not,
/// is in [`Request::headers`](crate::Request::headers).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// `x-fc-request-id`.
    pub request_id: String,
    /// `x-fc-access-key-id`, `x-fc-access-key-secret`, `x-fc-security-token`.
    pub credentials: Credentials,
    /// `x-fc-function-name`.
    pub function_name: String,
    /// `x-fc-function-handler`.
    pub function_handler: String,
    /// `x-fc-function-memory`, in MB.
    pub memory_mb: Option<u32>,
    /// `x-fc-function-timeout`, in seconds.
    pub timeout_s: Option<u32>,
    /// `x-fc-function-initializer`.
    pub initializer: String,
    /// `x-fc-initialization-timeout`, in seconds.
    pub initialization_timeout_s: Option<u32>,
    /// `x-fc-instance-lifecycle-pre-stop-handler`.
    pub pre_stop_handler: String,
    /// `x-fc-instance-lifecycle-pre-freeze-handler`.
    pub pre_freeze_handler: String,
    /// `x-fc-region`.
    pub region: String,
    /// `x-fc-account-id`.
    pub account_id: String,
    /// `x-fc-qualifier`.
    pub qualifier: String,
    /// `x-fc-version-id`.
    pub version_id: String,
    /// `x-fc-service-name`.
    pub service_name: String,
    /// `x-fc-service-logproject`.
    pub log_project: String,
    /// `x-fc-service-logstore`.
    pub log_store: String,
    /// `x-fc-control-path`.
    pub control_path: String,
    /// `x-fc-log-type` (`Tail` when the caller asked for the log tail).
    pub log_type: String,
    /// `x-fc-retry-count`, when the platform retries an asynchronous invocation.
    pub retry_count: Option<u32>,
    /// `x-fc-base-path`: the prefix of an HTTP function's path when it is reached without a custom
    /// domain, e.g. `/2016-08-15/proxy/svc/fn/` (see [`Request::route_path`](crate::Request::route_path)).
    pub base_path: Option<String>,
    /// `x-fc-client-ip`: the address of the client that called an HTTP function.
    pub client_ip: Option<String>,
    /// `x-fc-api-server-ip`: the address of the platform's front end that forwarded the call.
    pub api_server_ip: Option<String>,
    /// `x-fc-invocation-type`: `Sync` or `Async`, where the platform passes it on.
    pub invocation_type: Option<String>,
    /// `x-fc-function-type`: the kind of function the platform says it calls.
    pub function_type: Option<String>,
    /// `x-fc-tracing-opentracing-span-context`: the span this call runs in (Jaeger's
    /// `trace-id:span-id:parent-id:flags`), when tracing is enabled.
    pub span_context: Option<String>,
    /// `x-fc-tracing-opentracing-span-baggages`: that span's baggage.
    pub span_baggages: Option<String>,
    /// `x-fc-tracing-jaeger-endpoint`: where to report spans.
    pub jaeger_endpoint: Option<String>,
    /// `x-fc-eagleeye-traceid`: the platform's own trace id.
    pub eagleeye_trace_id: Option<String>,
    /// `x-fc-eagleeye-rpcid`: the platform's RPC id within that trace.
    pub eagleeye_rpc_id: Option<String>,
    /// `x-fc-eagleeye-userdata`: the platform's trace user data.
    pub eagleeye_user_data: Option<String>,
    /// `FC_INSTANCE_ID` (environment, read once at start): the instance serving the call.
    pub instance_id: Option<&'static str>,
    /// `FC_REGION` (environment, read once at start): the region the instance runs in.
    pub instance_region: Option<&'static str>,
    /// `FC_FUNC_CODE_PATH` (environment, read once at start): where the code package is unpacked.
    pub code_path: Option<&'static str>,
    /// When the request arrived plus `x-fc-function-timeout`; `None` without that header.
    pub deadline: Option<Instant>,
}

/// The environment's part of every context: `FC_INSTANCE_ID`, `FC_REGION`, `FC_FUNC_CODE_PATH`,
/// set once when the function starts. `&'static str`: the values live as long as the process, and
/// copying a reference into each call's context costs nothing (an `Arc<str>` would add two atomic
/// operations per field per call, shared by every worker).
static ENVIRONMENT: OnceLock<[Option<&'static str>; 3]> = OnceLock::new();

/// Sets the environment's part of every context from `config` (once per process: later calls
/// change nothing).
pub(crate) fn set_environment(config: &Config) {
    ENVIRONMENT.get_or_init(|| {
        let keep = |v: &Option<String>| v.clone().map(|s| &*Box::leak(s.into_boxed_str()));
        [
            keep(&config.instance_id),
            keep(&config.instance_region),
            keep(&config.code_path),
        ]
    });
}

impl Context {
    /// Builds the context from request headers, received at `arrived`.
    pub fn from_headers(headers: &Headers, arrived: Instant) -> Context {
        let mut c = Context::default();
        c.refill(headers, arrived);
        c
    }

    /// [`Context::from_headers`] into this context, reusing its strings' memory: each thread that
    /// serves calls keeps one, so a call allocates nothing for its context (an optional field
    /// keeps its memory while its header comes with every call, as on live traffic).
    pub(crate) fn refill(&mut self, headers: &Headers, arrived: Instant) {
        // Every field by name (no `..`): a new field must be reset here too, or a call would see
        // the one before it's.
        let Context {
            request_id,
            credentials:
                Credentials {
                    access_key_id,
                    access_key_secret,
                    security_token,
                },
            function_name,
            function_handler,
            memory_mb,
            timeout_s,
            initializer,
            initialization_timeout_s,
            pre_stop_handler,
            pre_freeze_handler,
            region,
            account_id,
            qualifier,
            version_id,
            service_name,
            log_project,
            log_store,
            control_path,
            log_type,
            retry_count,
            base_path,
            client_ip,
            api_server_ip,
            invocation_type,
            function_type,
            span_context,
            span_baggages,
            jaeger_endpoint,
            eagleeye_trace_id,
            eagleeye_rpc_id,
            eagleeye_user_data,
            instance_id,
            instance_region,
            code_path,
            deadline,
        } = self;
        for s in [
            &mut *request_id,
            &mut *access_key_id,
            &mut *access_key_secret,
            &mut *security_token,
            &mut *function_name,
            &mut *function_handler,
            &mut *initializer,
            &mut *pre_stop_handler,
            &mut *pre_freeze_handler,
            &mut *region,
            &mut *account_id,
            &mut *qualifier,
            &mut *version_id,
            &mut *service_name,
            &mut *log_project,
            &mut *log_store,
            &mut *control_path,
            &mut *log_type,
        ] {
            s.clear();
        }
        for n in [
            &mut *memory_mb,
            &mut *timeout_s,
            &mut *initialization_timeout_s,
            &mut *retry_count,
        ] {
            *n = None;
        }
        // In `OPTIONAL`'s order. Not reset to `None` here, which would free their memory: a bit
        // per field says whether this call's headers set it, and the rest are reset below.
        let mut optional = [
            base_path,
            client_ip,
            api_server_ip,
            invocation_type,
            function_type,
            span_context,
            span_baggages,
            jaeger_endpoint,
            eagleeye_trace_id,
            eagleeye_rpc_id,
            eagleeye_user_data,
        ];
        let mut set: u16 = 0;
        // In reverse, so that of a repeated header the first one wins (assigned last). Names in
        // `Headers` are lower-case.
        for (name, value) in headers.iter().rev() {
            let Some(name) = name.strip_prefix("x-fc-") else {
                continue;
            };
            let text = |s: &mut String| {
                s.clear();
                s.push_str(value);
            };
            let number = |n: &mut Option<u32>| *n = value.parse().ok();
            let mut optional_text = |i: usize| {
                let field = &mut *optional[i];
                if value.is_empty() {
                    set &= !(1 << i); // present but empty: absent
                    return;
                }
                set |= 1 << i;
                match field {
                    Some(s) => text(s),
                    None => *field = Some(value.to_owned()),
                }
            };
            // On the length first: a `match` on strings alone compares with every arm in turn,
            // for each of the platform's twenty headers (the test below checks every length).
            match (name.len(), name) {
                (10, "request-id") => text(request_id),
                (13, "access-key-id") => text(access_key_id),
                (17, "access-key-secret") => text(access_key_secret),
                (14, "security-token") => text(security_token),
                (13, "function-name") => text(function_name),
                (16, "function-handler") => text(function_handler),
                (15, "function-memory") => number(memory_mb),
                (16, "function-timeout") => number(timeout_s),
                (20, "function-initializer") => text(initializer),
                (22, "initialization-timeout") => number(initialization_timeout_s),
                (35, "instance-lifecycle-pre-stop-handler") => text(pre_stop_handler),
                (37, "instance-lifecycle-pre-freeze-handler") => text(pre_freeze_handler),
                (6, "region") => text(region),
                (10, "account-id") => text(account_id),
                (9, "qualifier") => text(qualifier),
                (10, "version-id") => text(version_id),
                (12, "service-name") => text(service_name),
                (18, "service-logproject") => text(log_project),
                (16, "service-logstore") => text(log_store),
                (12, "control-path") => text(control_path),
                (8, "log-type") => text(log_type),
                (11, "retry-count") => number(retry_count),
                (9, "base-path") => optional_text(0),
                (9, "client-ip") => optional_text(1),
                (13, "api-server-ip") => optional_text(2),
                (15, "invocation-type") => optional_text(3),
                (13, "function-type") => optional_text(4),
                (32, "tracing-opentracing-span-context") => optional_text(5),
                (33, "tracing-opentracing-span-baggages") => optional_text(6),
                (23, "tracing-jaeger-endpoint") => optional_text(7),
                (16, "eagleeye-traceid") => optional_text(8),
                (14, "eagleeye-rpcid") => optional_text(9),
                (17, "eagleeye-userdata") => optional_text(10),
                _ => {}
            }
        }
        for (i, field) in optional.into_iter().enumerate() {
            if set & (1 << i) == 0 {
                *field = None;
            }
        }
        let env = ENVIRONMENT.get().copied().unwrap_or_default();
        [*instance_id, *instance_region, *code_path] = env;
        *deadline = timeout_s.map(|t| arrived + Duration::from_secs(t.into()));
    }

    /// Time left before the function timeout (zero once past it); `None` without a timeout header.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }
}

/// Manual so that credentials never reach a log through `{:?}`.
impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("request_id", &self.request_id)
            .field("credentials", &self.credentials)
            .field("function_name", &self.function_name)
            .field("region", &self.region)
            .field("qualifier", &self.qualifier)
            .field("control_path", &self.control_path)
            .field("base_path", &self.base_path)
            .field("instance_id", &self.instance_id)
            .finish_non_exhaustive()
    }
}

/// The temporary STS credentials the platform passes with every call. Its `Debug` shows none of
/// them, so printing a context cannot leak them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// `x-fc-access-key-id`.
    pub access_key_id: String,
    /// `x-fc-access-key-secret` (secret).
    pub access_key_secret: String,
    /// `x-fc-security-token` (secret).
    pub security_token: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names of the optional text headers after `x-fc-`, in the order of `Context::refill`'s list of optional fields.
    const OPTIONAL: [&str; 11] = [
        "base-path",
        "client-ip",
        "api-server-ip",
        "invocation-type",
        "function-type",
        "tracing-opentracing-span-context",
        "tracing-opentracing-span-baggages",
        "tracing-jaeger-endpoint",
        "eagleeye-traceid",
        "eagleeye-rpcid",
        "eagleeye-userdata",
    ];

    #[test]
    fn context_takes_the_first_of_repeated_headers_in_any_case() {
        let h: Headers = [
            ("X-FC-Region", "first"),
            ("x-fc-region", "second"),
            ("x-fc-function-memory", " 512 "),
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
    fn every_context_field_comes_from_its_header() {
        let names = [
            "request-id",
            "access-key-id",
            "access-key-secret",
            "security-token",
            "function-name",
            "function-handler",
            "function-initializer",
            "instance-lifecycle-pre-stop-handler",
            "instance-lifecycle-pre-freeze-handler",
            "region",
            "account-id",
            "qualifier",
            "version-id",
            "service-name",
            "service-logproject",
            "service-logstore",
            "control-path",
            "log-type",
        ];
        let mut h: Headers = names.iter().map(|n| (format!("X-Fc-{n}"), *n)).collect();
        for (i, n) in [
            "function-memory",
            "function-timeout",
            "initialization-timeout",
            "retry-count",
        ]
        .iter()
        .enumerate()
        {
            h.push(&format!("x-fc-{n}"), &(i + 1).to_string());
        }
        for n in OPTIONAL {
            h.push(&format!("x-fc-{n}"), n);
        }
        let c = Context::from_headers(&h, Instant::now());
        let optional = [
            &c.base_path,
            &c.client_ip,
            &c.api_server_ip,
            &c.invocation_type,
            &c.function_type,
            &c.span_context,
            &c.span_baggages,
            &c.jaeger_endpoint,
            &c.eagleeye_trace_id,
            &c.eagleeye_rpc_id,
            &c.eagleeye_user_data,
        ];
        assert_eq!(optional.map(|o| o.as_deref()), OPTIONAL.map(Some));
        let got = [
            &c.request_id,
            &c.credentials.access_key_id,
            &c.credentials.access_key_secret,
            &c.credentials.security_token,
            &c.function_name,
            &c.function_handler,
            &c.initializer,
            &c.pre_stop_handler,
            &c.pre_freeze_handler,
            &c.region,
            &c.account_id,
            &c.qualifier,
            &c.version_id,
            &c.service_name,
            &c.log_project,
            &c.log_store,
            &c.control_path,
            &c.log_type,
        ];
        assert_eq!(got.map(String::as_str), names);
        let numbers = [
            c.memory_mb,
            c.timeout_s,
            c.initialization_timeout_s,
            c.retry_count,
        ];
        assert_eq!(numbers, [Some(1), Some(2), Some(3), Some(4)]);
        // Refilled from no headers, nothing of the call before is left.
        let mut next = c.clone();
        next.refill(&Headers::new(), Instant::now());
        assert_eq!(next, Context::default());
    }

    #[test]
    fn optional_fields_are_none_when_absent_or_empty_and_keep_their_memory() {
        let with = |ip: &str| -> Headers { [("x-fc-client-ip", ip)].into_iter().collect() };
        let mut c = Context::from_headers(&with("10.0.0.1"), Instant::now());
        assert_eq!(c.client_ip.as_deref(), Some("10.0.0.1"));
        let buffer = c.client_ip.as_ref().unwrap().as_ptr();
        c.refill(&with("10.0.0.2"), Instant::now());
        assert_eq!(c.client_ip.as_deref(), Some("10.0.0.2"));
        assert_eq!(
            c.client_ip.as_ref().unwrap().as_ptr(),
            buffer,
            "reallocated"
        );
        c.refill(&with(""), Instant::now());
        assert_eq!(c.client_ip, None, "an empty header counts as absent");
        c.refill(&with("10.0.0.3"), Instant::now());
        c.refill(&Headers::new(), Instant::now());
        assert_eq!(c.client_ip, None);
        // Of repeated headers the first wins, even an empty one.
        let h: Headers = [("x-fc-base-path", ""), ("x-fc-base-path", "/b/")]
            .into_iter()
            .collect();
        assert_eq!(Context::from_headers(&h, Instant::now()).base_path, None);
    }

    #[test]
    fn context_debug_hides_credentials() {
        let h: Headers = [
            ("x-fc-access-key-secret", "SECRET1"),
            ("x-fc-function-timeout", "3"),
        ]
        .into_iter()
        .collect();
        let ctx = Context::from_headers(&h, Instant::now());
        assert_eq!(ctx.credentials.access_key_secret, "SECRET1");
        assert!(!format!("{ctx:?}").contains("SECRET1"));
        assert!(ctx.remaining().unwrap() <= Duration::from_secs(3));
    }
}
