//! The per-request [`Context`]: what the platform says about the function and the call, read
//! from its `x-fc-*` request headers, else from the instance's environment, read once at start.
//! Which header and which variable set each field is written once, in `fields.rs`.

use std::fmt;
use std::time::{Duration, Instant};

use crate::headers::Headers;

mod fields;
#[cfg(test)]
mod tests;

pub(crate) use fields::{Field, Value, FIELDS};

/// The per-request context, from the platform's request headers and the instance's environment.
///
/// Text fields the platform documents for every call are `String`s, empty when the header is
/// absent; the fields for headers seen only on some calls are `Option`s, `None` when the header is
/// absent or empty (live FC traffic sends some of them empty). Any other header, `x-fc-*` or not,
/// is in [`Request::headers`](crate::Request::headers). A call without a header gets the
/// environment's value where FC sets one (e.g. `FC_FUNCTION_NAME` for `function_name`); the
/// header wins. docs/context.md lists every field with its header and variable.
///
/// `#[non_exhaustive]`: FC adds headers, and so fields come. Start from [`Context::default`] or
/// `tinyfc::testing::context()` and set fields; a struct literal would break when one comes, so
/// it does not compile:
///
/// ```compile_fail
/// let ctx = tinyfc::Context { function_name: "f".into(), ..Default::default() };
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Context {
    /// `x-fc-request-id`.
    pub request_id: String,
    /// `x-fc-access-key-id`, `x-fc-access-key-secret`, `x-fc-security-token`; else
    /// `ALIBABA_CLOUD_ACCESS_KEY_ID`, `ALIBABA_CLOUD_ACCESS_KEY_SECRET`,
    /// `ALIBABA_CLOUD_SECURITY_TOKEN`.
    pub credentials: Credentials,
    /// `x-fc-function-name`, else `FC_FUNCTION_NAME`.
    pub function_name: String,
    /// `x-fc-function-handler`, else `FC_FUNCTION_HANDLER`.
    pub function_handler: String,
    /// `x-fc-function-memory`, else `FC_FUNCTION_MEMORY_SIZE`, in MB.
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
    /// `x-fc-region`, else `FC_REGION`.
    pub region: String,
    /// `x-fc-account-id`, else `FC_ACCOUNT_ID`.
    pub account_id: String,
    /// `x-fc-qualifier`, else `FC_QUALIFIER`.
    pub qualifier: String,
    /// `x-fc-version-id`, else `FC_FUNCTION_VERSION`, else `FC_VER_ID` (custom.debian10).
    pub version_id: String,
    /// `x-fc-service-name`, else `FC_SERVICE_NAME`.
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
    /// `FC_INSTANCE_ID` (environment only): the instance serving the call.
    pub instance_id: Option<String>,
    /// `FC_FUNC_CODE_PATH` (environment only): where the code package is unpacked.
    pub code_path: Option<String>,
    /// When the request arrived plus `x-fc-function-timeout`; `None` without that header.
    pub deadline: Option<Instant>,
}

/// The values FC's environment gives the context's fields, read once at start
/// ([`Config::from_lookup`](crate::Config)): by index in `FIELDS`, the first of the field's
/// variables that is set and not blank. Only the fields it sets take room (none outside FC: no
/// allocation). Its `Debug` shows no credential.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Environment {
    /// (index in `FIELDS`, value), in the table's order.
    set: Vec<(usize, String)>,
}

impl Environment {
    /// The environment `get` (a variable lookup) gives.
    pub(crate) fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Environment {
        let first_set = |f: &Field| {
            f.env().find_map(|k| {
                get(k)
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty())
            })
        };
        let set = FIELDS.iter().enumerate();
        Environment {
            set: set.filter_map(|(i, f)| Some((i, first_set(f)?))).collect(),
        }
    }

    /// The value the environment gives the field that `variable` sets, if it sets one.
    pub(crate) fn of(&self, variable: &str) -> Option<&str> {
        self.value(Self::index_of(variable)?)
    }

    /// This environment with `value` for the field that `variable` sets, unless it already has
    /// one (the way `TestServer` stands in for the variables FC sets in every instance).
    pub(crate) fn or_set(mut self, variable: &str, value: &str) -> Environment {
        if let Some(index) = Self::index_of(variable) {
            if self.value(index).is_none() {
                let at = self.set.partition_point(|(i, _)| *i < index);
                self.set.insert(at, (index, value.to_string()));
            }
        }
        self
    }

    /// The index in `FIELDS` of the field that `variable` sets.
    fn index_of(variable: &str) -> Option<usize> {
        FIELDS.iter().position(|f| f.env().any(|v| v == variable))
    }

    /// The value for the field at `index`, if the environment sets it.
    fn value(&self, index: usize) -> Option<&str> {
        let found = self.set.iter().find(|(i, _)| *i == index);
        found.map(|(_, value)| value.as_str())
    }
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.set.iter().map(|(i, v)| {
                let field = &FIELDS[*i];
                let shown = if field.is_secret() { "<redacted>" } else { v };
                (field.env().next().unwrap_or_default(), shown)
            }))
            .finish()
    }
}

impl Context {
    /// Builds the context from request headers, received at `arrived` (without the
    /// environment's values: those come with a server's configuration).
    pub fn from_headers(headers: &Headers, arrived: Instant) -> Context {
        let mut c = Context::default();
        c.refill(headers, arrived, &Environment::default());
        c
    }

    /// [`Context::from_headers`] into this context, with `env`'s values for the fields no header
    /// set, reusing the strings' memory. Every field is in `FIELDS`
    /// (`every_context_field_is_in_the_table_and_comes_from_its_header` checks it), so none can
    /// keep the call before's value.
    pub(crate) fn refill(&mut self, headers: &Headers, arrived: Instant, env: &Environment) {
        self.refill_changed(headers, arrived, env, u64::MAX);
    }

    /// [`Context::refill`] for a context that `env` and headers alone filled, and whose fields
    /// outside `stale` (a bit per field of `FIELDS`) hold `env`'s value or none: only the stale
    /// fields no header sets now are reset. Returns the fields this call's headers set, the next
    /// call's `stale`. A call then touches only its own headers' fields: with FC's twenty or so
    /// headers on every call, resetting the other fields each time cost more than reading them.
    pub(crate) fn refill_changed(
        &mut self,
        headers: &Headers,
        arrived: Instant,
        env: &Environment,
        stale: u64,
    ) -> u64 {
        // Bits per field of `FIELDS`: set by this call's headers; written by one (a repeated
        // header's later value, which an earlier empty one then unsets, included).
        let (mut set, mut written): (u64, u64) = (0, 0);
        // In reverse, so that of a repeated header the first one wins (assigned last). Names in
        // `Headers` are lower-case. An empty value counts as absent.
        for (name, value) in headers.iter().rev() {
            if !name.starts_with("x-fc-") {
                continue;
            }
            let Some(i) = fields::field_of(name) else {
                continue;
            };
            if value.is_empty() {
                set &= !(1 << i);
                continue;
            }
            set |= 1 << i;
            written |= 1 << i;
            set_value(FIELDS[i].value(self), value);
        }
        let mut reset = (stale | written) & !set;
        while reset != 0 {
            let i = reset.trailing_zeros() as usize;
            reset &= reset - 1;
            let Some(field) = FIELDS.get(i) else { break };
            match (env.value(i), field.value(self)) {
                (Some(value), slot) => set_value(slot, value),
                (None, Value::Text(text)) => text.clear(),
                (None, Value::Number(number)) => *number = None,
                (None, Value::Optional(optional)) => *optional = None,
            }
        }
        self.deadline = self
            .timeout_s
            .map(|t| arrived + Duration::from_secs(t.into()));
        set
    }

    /// Time left before the function timeout (zero once past it); `None` without a timeout header.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }
}

/// A serving thread's context, refilled for each call: its strings keep their memory, so a call
/// allocates nothing for its context. A thread serves one server, so one environment.
pub(crate) struct CallContext {
    ctx: Context,
    /// The fields a header of the last call set (all before the first): the ones to reset
    /// (`Context::refill_changed`).
    from_headers: u64,
}

impl Default for CallContext {
    fn default() -> CallContext {
        CallContext {
            ctx: Context::default(),
            from_headers: u64::MAX,
        }
    }
}

impl CallContext {
    /// The context of a call with `headers`, which arrived at `arrived`.
    pub(crate) fn refill(
        &mut self,
        headers: &Headers,
        arrived: Instant,
        env: &Environment,
    ) -> &Context {
        let stale = self.from_headers;
        self.from_headers = self.ctx.refill_changed(headers, arrived, env, stale);
        &self.ctx
    }
}

/// Writes `value` into `slot`, reusing its allocation.
fn set_value(slot: Value<'_>, value: &str) {
    match slot {
        Value::Text(s) => {
            s.clear();
            s.push_str(value);
        }
        Value::Number(number) => *number = value.parse().ok(),
        Value::Optional(Some(s)) => {
            s.clear();
            s.push_str(value);
        }
        Value::Optional(field) => *field = Some(value.to_owned()),
    }
}

/// Every field in `FIELDS`' order, the credentials redacted: printing a context cannot leak them.
impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Context");
        // The table's accessors borrow mutably: read a copy.
        let mut copy = self.clone();
        for field in &FIELDS {
            let _ = match field.value(&mut copy) {
                _ if field.is_secret() => d.field(field.name(), &"<redacted>"),
                Value::Text(text) => d.field(field.name(), text),
                Value::Number(number) => d.field(field.name(), number),
                Value::Optional(optional) => d.field(field.name(), optional),
            };
        }
        d.field("deadline", &self.deadline).finish()
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
