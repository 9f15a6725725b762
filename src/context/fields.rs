//! FC's headers and environment variables, written once: the table every use of them reads
//! (the context's parsing and its environment fallback, the testing helpers' headers, the
//! redaction in `Debug`, and the check that docs/context.md lists them).

use super::Context;
use crate::headers::SECRET_HEADERS;

/// A field's value in a [`Context`], borrowed to write it (readers borrow a clone: `Debug` and
/// the testing helpers). One accessor per field rather than a reader and a writer: each is a
/// pointer in the table that the loader relocates at start (a private page of the binary).
pub(crate) enum Value<'a> {
    /// A `String`, empty when nothing says it.
    Text(&'a mut String),
    /// An `Option<u32>`, `None` when nothing says it or it is not a number.
    Number(&'a mut Option<u32>),
    /// An `Option<String>`, `None` when nothing says it.
    Optional(&'a mut Option<String>),
}

/// One field of [`Context`] and where its value comes from.
pub(crate) struct Field {
    /// The field's path in `Context`, e.g. `credentials.access_key_id`.
    pub(crate) name: &'static str,
    /// The request header that sets it (a call's header wins over the environment).
    pub(crate) header: Option<&'static str>,
    /// The environment variables that set it when the call has no such header, first set wins.
    pub(crate) env: &'static [&'static str],
    /// The field in a `Context`.
    pub(crate) value: fn(&mut Context) -> Value<'_>,
}

impl Field {
    /// A credential: never logged, never shown by `Debug`.
    pub(crate) fn is_secret(&self) -> bool {
        self.header.is_some_and(|h| SECRET_HEADERS.contains(&h))
    }
}

macro_rules! field {
    ($kind:ident $($path:ident).+, $header:expr, [$($env:literal),*]) => {
        Field {
            name: stringify!($($path).+),
            header: $header,
            env: &[$($env),*],
            value: |c| Value::$kind(&mut c.$($path).+),
        }
    };
}

/// Every field of [`Context`] but `deadline` (computed from `timeout_s`): the headers of FC's
/// custom runtime requests, and the variables of its "Environment variables" page.
pub(crate) static FIELDS: [Field; 35] = TABLE;

/// `FIELDS` as a constant, which the sort below can read at compile time.
const TABLE: [Field; 35] = [
    field!(Text request_id, Some("x-fc-request-id"), []),
    field!(Text credentials.access_key_id, Some("x-fc-access-key-id"), ["ALIBABA_CLOUD_ACCESS_KEY_ID"]),
    field!(Text credentials.access_key_secret, Some("x-fc-access-key-secret"), ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"]),
    field!(Text credentials.security_token, Some("x-fc-security-token"), ["ALIBABA_CLOUD_SECURITY_TOKEN"]),
    field!(Text function_name, Some("x-fc-function-name"), ["FC_FUNCTION_NAME"]),
    field!(Text function_handler, Some("x-fc-function-handler"), ["FC_FUNCTION_HANDLER"]),
    field!(Number memory_mb, Some("x-fc-function-memory"), ["FC_FUNCTION_MEMORY_SIZE"]),
    field!(Number timeout_s, Some("x-fc-function-timeout"), []),
    field!(Text initializer, Some("x-fc-function-initializer"), []),
    field!(Number initialization_timeout_s, Some("x-fc-initialization-timeout"), []),
    field!(Text pre_stop_handler, Some("x-fc-instance-lifecycle-pre-stop-handler"), []),
    field!(Text pre_freeze_handler, Some("x-fc-instance-lifecycle-pre-freeze-handler"), []),
    field!(Text region, Some("x-fc-region"), ["FC_REGION"]),
    field!(Text account_id, Some("x-fc-account-id"), ["FC_ACCOUNT_ID"]),
    field!(Text qualifier, Some("x-fc-qualifier"), ["FC_QUALIFIER"]),
    field!(Text version_id, Some("x-fc-version-id"), ["FC_FUNCTION_VERSION", "FC_VER_ID"]),
    field!(Text service_name, Some("x-fc-service-name"), ["FC_SERVICE_NAME"]),
    field!(Text log_project, Some("x-fc-service-logproject"), []),
    field!(Text log_store, Some("x-fc-service-logstore"), []),
    field!(Text control_path, Some("x-fc-control-path"), []),
    field!(Text log_type, Some("x-fc-log-type"), []),
    field!(Number retry_count, Some("x-fc-retry-count"), []),
    field!(Optional base_path, Some("x-fc-base-path"), []),
    field!(Optional client_ip, Some("x-fc-client-ip"), []),
    field!(Optional api_server_ip, Some("x-fc-api-server-ip"), []),
    field!(Optional invocation_type, Some("x-fc-invocation-type"), []),
    field!(Optional function_type, Some("x-fc-function-type"), []),
    field!(Optional span_context, Some("x-fc-tracing-opentracing-span-context"), []),
    field!(Optional span_baggages, Some("x-fc-tracing-opentracing-span-baggages"), []),
    field!(Optional jaeger_endpoint, Some("x-fc-tracing-jaeger-endpoint"), []),
    field!(Optional eagleeye_trace_id, Some("x-fc-eagleeye-traceid"), []),
    field!(Optional eagleeye_rpc_id, Some("x-fc-eagleeye-rpcid"), []),
    field!(Optional eagleeye_user_data, Some("x-fc-eagleeye-userdata"), []),
    field!(Optional instance_id, None, ["FC_INSTANCE_ID"]),
    field!(Optional code_path, None, ["FC_FUNC_CODE_PATH"]),
];

/// `FIELDS`' indexes ordered by header (length, then bytes), fields without a header last; and
/// where each length's headers begin in it. [`field_of`] compares a name only with the headers
/// of its length (one or two), as the hand-written `match` on the length did, while the table
/// reads in the order of the docs.
static BY_HEADER: [u8; TABLE.len()] = by_header();
static LENGTH_STARTS: [u8; MAX_HEADER + 2] = length_starts();

/// Longer than every header of the table.
const MAX_HEADER: usize = 48;

/// The index in `FIELDS` of the field `name` (lower-case) sets.
pub(crate) fn field_of(name: &str) -> Option<usize> {
    let n = name.len();
    if n > MAX_HEADER {
        return None;
    }
    let same_length = &BY_HEADER[LENGTH_STARTS[n] as usize..LENGTH_STARTS[n + 1] as usize];
    let found = same_length
        .iter()
        .find(|&&i| FIELDS[i as usize].header.is_some_and(|h| h == name));
    found.map(|&i| i as usize)
}

/// For each length `n`, where `BY_HEADER`'s headers of length `n` begin (and those of `n + 1`
/// end); the header-less fields are past the last.
const fn length_starts() -> [u8; MAX_HEADER + 2] {
    let order = by_header();
    let mut starts = [0u8; MAX_HEADER + 2];
    let mut n = 0;
    while n < starts.len() {
        // The first entry whose header is at least `n` long (or has none).
        let mut at = 0;
        while at < order.len() {
            match TABLE[order[at] as usize].header {
                Some(h) if h.len() < n => at += 1,
                _ => break,
            }
        }
        starts[n] = at as u8;
        n += 1;
    }
    starts
}

/// True if `a` orders before `b` in `BY_HEADER` (a header-less field after every other).
const fn before(a: Option<&str>, b: Option<&str>) -> bool {
    let (a, b) = match (a, b) {
        (Some(a), Some(b)) => (a.as_bytes(), b.as_bytes()),
        (Some(_), None) => return true,
        _ => return false,
    };
    if a.len() != b.len() {
        return a.len() < b.len();
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
        i += 1;
    }
    false
}

/// `BY_HEADER`, sorted at compile time (insertion sort: 35 entries).
const fn by_header() -> [u8; TABLE.len()] {
    let mut order = [0u8; TABLE.len()];
    let mut i = 0;
    while i < order.len() {
        order[i] = i as u8;
        i += 1;
    }
    let mut i = 1;
    while i < order.len() {
        let mut j = i;
        while j > 0
            && before(
                TABLE[order[j] as usize].header,
                TABLE[order[j - 1] as usize].header,
            )
        {
            let t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
            j -= 1;
        }
        i += 1;
    }
    order
}
