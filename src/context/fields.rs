//! FC's headers and environment variables, written once: the table every use of them reads
//! (the context's parsing and its environment fallback, the testing helpers' headers, the
//! redaction in `Debug`, and the check that docs/context.md lists them).

use super::Context;
use crate::headers::SECRET_HEADERS;

/// A field's value in a [`Context`], borrowed to write it (readers borrow a clone: `Debug` and
/// the testing helpers).
pub(crate) enum Value<'a> {
    /// A `String`, empty when nothing says it.
    Text(&'a mut String),
    /// An `Option<u32>`, `None` when nothing says it or it is not a number.
    Number(&'a mut Option<u32>),
    /// An `Option<String>`, `None` when nothing says it.
    Optional(&'a mut Option<String>),
}

/// One field of [`Context`] and where its value comes from. It holds no pointer: its names are
/// places in `TEXT`, its field an index, so `FIELDS` is read-only data. A table of `&str`s and
/// `fn`s would be ~150 pointers for the loader to relocate at start, a private page of memory
/// in every instance (RssAnon +4 kB) and 3.6 KB of relocations in the binary.
#[derive(Clone, Copy)]
pub(crate) struct Field {
    /// Its index in `FIELDS`, which [`value_of`] takes.
    index: u8,
    /// The field's path in `Context`, e.g. `credentials.access_key_id`.
    name: Span,
    /// The request header that sets it (a call's header wins over the environment); empty if
    /// none does.
    header: Span,
    /// The environment variables that set it when the call has no such header, first set wins;
    /// the unused ones empty.
    env: [Span; MAX_ENV],
}

impl Field {
    /// The field's path in `Context`, e.g. `credentials.access_key_id`.
    pub(crate) fn name(&self) -> &'static str {
        self.name.text()
    }

    /// The request header that sets it, if one does.
    pub(crate) fn header(&self) -> Option<&'static str> {
        Some(self.header.text()).filter(|h| !h.is_empty())
    }

    /// The environment variables that set it when the call has no such header, in order.
    pub(crate) fn env(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.env
            .iter()
            .map(Span::text)
            .take_while(|v| !v.is_empty())
    }

    /// The field in `context`.
    pub(crate) fn value<'a>(&self, context: &'a mut Context) -> Value<'a> {
        value_of(context, self.index)
    }

    /// A credential: never logged, never shown by `Debug`.
    pub(crate) fn is_secret(&self) -> bool {
        self.header().is_some_and(|h| SECRET_HEADERS.contains(&h))
    }
}

/// Where one name lies in `TEXT`.
#[derive(Clone, Copy)]
struct Span {
    /// Its first byte.
    at: u16,
    /// Its length (0: no name).
    len: u8,
}

impl Span {
    /// The name. (`get`, not indexing: a panic's location would be a relocated pointer too.)
    fn text(&self) -> &'static str {
        let at = self.at as usize;
        TEXT.get(at..at + self.len as usize).unwrap_or_default()
    }
}

/// The most environment variables one field has.
const MAX_ENV: usize = 2;

/// One row of the table as written below, read only at compile time (by `FIELDS`, `TEXT`,
/// `BY_HEADER` and [`value_of`]), so none of its pointers reaches the binary.
struct Spec {
    /// [`Field`]'s name.
    name: &'static str,
    /// [`Field`]'s header.
    header: Option<&'static str>,
    /// [`Field`]'s variables.
    env: &'static [&'static str],
}

/// The table: `SPECS`, and [`value_of`], which reaches each row's field.
macro_rules! fields {
    ($($kind:ident $($path:ident).+, $header:expr, [$($env:literal),*];)*) => {
        const SPECS: &[Spec] = &[$(
            Spec { name: stringify!($($path).+), header: $header, env: &[$($env),*] },
        )*];

        /// The field at `index` in `FIELDS` of `context`.
        fn value_of(context: &mut Context, index: u8) -> Value<'_> {
            value_at!(context, index; $($kind $($path).+),*)
        }
    };
}

/// An `if` per row on its compile-time index, the last row the final `else` (no index is past
/// it): no panic path, whose location would be one more relocated pointer.
macro_rules! value_at {
    ($context:ident, $index:ident; $kind:ident $($path:ident).+) => {
        Value::$kind(&mut $context.$($path).+)
    };
    ($context:ident, $index:ident; $kind:ident $($path:ident).+, $($rest:tt)+) => {
        if $index == const { position(stringify!($($path).+)) } {
            Value::$kind(&mut $context.$($path).+)
        } else {
            value_at!($context, $index; $($rest)+)
        }
    };
}

// Every field of [`Context`] but `deadline` (computed from `timeout_s`): the headers of FC's
// custom runtime requests, and the variables of its "Environment variables" page.
#[rustfmt::skip]
fields! {
    Text request_id, Some("x-fc-request-id"), [];
    Text credentials.access_key_id, Some("x-fc-access-key-id"), ["ALIBABA_CLOUD_ACCESS_KEY_ID"];
    Text credentials.access_key_secret, Some("x-fc-access-key-secret"), ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"];
    Text credentials.security_token, Some("x-fc-security-token"), ["ALIBABA_CLOUD_SECURITY_TOKEN"];
    Text function_name, Some("x-fc-function-name"), ["FC_FUNCTION_NAME"];
    Text function_handler, Some("x-fc-function-handler"), ["FC_FUNCTION_HANDLER"];
    Number memory_mb, Some("x-fc-function-memory"), ["FC_FUNCTION_MEMORY_SIZE"];
    Number timeout_s, Some("x-fc-function-timeout"), [];
    Text initializer, Some("x-fc-function-initializer"), [];
    Number initialization_timeout_s, Some("x-fc-initialization-timeout"), [];
    Text pre_stop_handler, Some("x-fc-instance-lifecycle-pre-stop-handler"), [];
    Text pre_freeze_handler, Some("x-fc-instance-lifecycle-pre-freeze-handler"), [];
    Text region, Some("x-fc-region"), ["FC_REGION"];
    Text account_id, Some("x-fc-account-id"), ["FC_ACCOUNT_ID"];
    Text qualifier, Some("x-fc-qualifier"), ["FC_QUALIFIER"];
    Text version_id, Some("x-fc-version-id"), ["FC_FUNCTION_VERSION", "FC_VER_ID"];
    Text service_name, Some("x-fc-service-name"), ["FC_SERVICE_NAME"];
    Text log_project, Some("x-fc-service-logproject"), [];
    Text log_store, Some("x-fc-service-logstore"), [];
    Text control_path, Some("x-fc-control-path"), [];
    Text log_type, Some("x-fc-log-type"), [];
    Number retry_count, Some("x-fc-retry-count"), [];
    Optional base_path, Some("x-fc-base-path"), [];
    Optional client_ip, Some("x-fc-client-ip"), [];
    Optional api_server_ip, Some("x-fc-api-server-ip"), [];
    Optional invocation_type, Some("x-fc-invocation-type"), [];
    Optional function_type, Some("x-fc-function-type"), [];
    Optional span_context, Some("x-fc-tracing-opentracing-span-context"), [];
    Optional span_baggages, Some("x-fc-tracing-opentracing-span-baggages"), [];
    Optional jaeger_endpoint, Some("x-fc-tracing-jaeger-endpoint"), [];
    Optional eagleeye_trace_id, Some("x-fc-eagleeye-traceid"), [];
    Optional eagleeye_rpc_id, Some("x-fc-eagleeye-rpcid"), [];
    Optional eagleeye_user_data, Some("x-fc-eagleeye-userdata"), [];
    Optional instance_id, None, ["FC_INSTANCE_ID"];
    Optional code_path, None, ["FC_FUNC_CODE_PATH"];
}

/// How many fields the table has (at most 64: `Context::refill` keeps a bit per field).
const COUNT: usize = SPECS.len();

/// The table's fields, in its order.
pub(crate) static FIELDS: [Field; COUNT] = LAYOUT.1;

/// Every name of the table, one after the other; a [`Span`] says where one is.
const TEXT: &str = match std::str::from_utf8(&LAYOUT.0) {
    Ok(text) => text,
    Err(_) => panic!("the table's names are UTF-8"),
};

/// The length of `TEXT`.
const TEXT_LEN: usize = {
    let mut len = 0;
    let mut i = 0;
    while i < COUNT {
        let s = &SPECS[i];
        len += s.name.len() + header_of(s).len();
        let mut e = 0;
        while e < s.env.len() {
            len += s.env[e].len();
            e += 1;
        }
        i += 1;
    }
    len
};

/// `TEXT`'s bytes and `FIELDS`, laid out from `SPECS` at compile time.
const LAYOUT: ([u8; TEXT_LEN], [Field; COUNT]) = {
    assert!(COUNT <= 64 && TEXT_LEN <= u16::MAX as usize);
    let none = Span { at: 0, len: 0 };
    let mut text = [0u8; TEXT_LEN];
    let empty = Field {
        index: 0,
        name: none,
        header: none,
        env: [none; MAX_ENV],
    };
    let mut fields = [empty; COUNT];
    let mut at = 0;
    let mut i = 0;
    while i < COUNT {
        let s = &SPECS[i];
        assert!(s.env.len() <= MAX_ENV);
        fields[i].index = i as u8;
        // The name, the header, then the variables.
        let mut n = 0;
        while n < 2 + s.env.len() {
            let name = match n {
                0 => s.name,
                1 => header_of(s),
                _ => s.env[n - 2],
            };
            let bytes = name.as_bytes();
            assert!(bytes.len() <= u8::MAX as usize);
            let mut b = 0;
            while b < bytes.len() {
                text[at + b] = bytes[b];
                b += 1;
            }
            let span = Span {
                at: at as u16,
                len: bytes.len() as u8,
            };
            match n {
                0 => fields[i].name = span,
                1 => fields[i].header = span,
                _ => fields[i].env[n - 2] = span,
            }
            at += bytes.len();
            n += 1;
        }
        i += 1;
    }
    (text, fields)
};

/// A row's header, empty if it has none.
const fn header_of(spec: &Spec) -> &'static str {
    match spec.header {
        Some(h) => h,
        None => "",
    }
}

/// The index in `SPECS` of the field named `name` (a compile error if there is none).
const fn position(name: &str) -> u8 {
    let mut i = 0;
    while i < COUNT {
        if same(SPECS[i].name, name) {
            return i as u8;
        }
        i += 1;
    }
    panic!("no such field")
}

/// `a == b`, at compile time.
const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// `FIELDS`' indexes ordered by header (length, then bytes), fields without a header last; and
/// where each length's headers begin in it. [`field_of`] compares a name only with the headers
/// of its length (one or two), as the hand-written `match` on the length did, while the table
/// reads in the order of the docs.
static BY_HEADER: [u8; COUNT] = by_header();
static LENGTH_STARTS: [u8; MAX_HEADER + 2] = length_starts();

/// Longer than every header of the table.
const MAX_HEADER: usize = 48;

/// The index in `FIELDS` of the field `name` (lower-case) sets. (`get`, not indexing, as in
/// [`Span::text`].)
pub(crate) fn field_of(name: &str) -> Option<usize> {
    let n = name.len();
    let (from, to) = (*LENGTH_STARTS.get(n)?, *LENGTH_STARTS.get(n + 1)?);
    let same_length = BY_HEADER.get(from as usize..to as usize)?;
    same_length
        .iter()
        .map(|&i| usize::from(i))
        .find(|&i| FIELDS.get(i).and_then(Field::header) == Some(name))
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
            match SPECS[order[at] as usize].header {
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
const fn by_header() -> [u8; COUNT] {
    let mut order = [0u8; COUNT];
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
                SPECS[order[j] as usize].header,
                SPECS[order[j - 1] as usize].header,
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
