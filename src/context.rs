//! The per-request [`Context`]: what the platform says about the function and the call, read
//! from its `x-fc-*` request headers.

use std::fmt;
use std::time::{Duration, Instant};

use crate::headers::Headers;

/// The per-request context, from the platform's request headers.
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
    /// When the request arrived plus `x-fc-function-timeout`; `None` without that header.
    pub deadline: Option<Instant>,
}

impl Context {
    /// Builds the context from request headers, received at `arrived`.
    pub fn from_headers(headers: &Headers, arrived: Instant) -> Context {
        let mut c = Context::default();
        c.refill(headers, arrived);
        c
    }

    /// [`Context::from_headers`] into this context, reusing its strings' memory: each thread that
    /// serves calls keeps one, so a call allocates nothing for its context.
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
            deadline: _, // set below
        } = self;
        for s in [
            &mut *request_id,
            access_key_id,
            access_key_secret,
            security_token,
            function_name,
            function_handler,
            initializer,
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
        ] {
            s.clear();
        }
        for n in [memory_mb, timeout_s, initialization_timeout_s, retry_count] {
            *n = None;
        }
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
            // On the length first: a `match` on strings alone compares with every arm in turn,
            // for each of the platform's twenty headers (the test below checks every length).
            match (name.len(), name) {
                (10, "request-id") => text(&mut self.request_id),
                (13, "access-key-id") => text(&mut self.credentials.access_key_id),
                (17, "access-key-secret") => text(&mut self.credentials.access_key_secret),
                (14, "security-token") => text(&mut self.credentials.security_token),
                (13, "function-name") => text(&mut self.function_name),
                (16, "function-handler") => text(&mut self.function_handler),
                (15, "function-memory") => number(&mut self.memory_mb),
                (16, "function-timeout") => number(&mut self.timeout_s),
                (20, "function-initializer") => text(&mut self.initializer),
                (22, "initialization-timeout") => number(&mut self.initialization_timeout_s),
                (35, "instance-lifecycle-pre-stop-handler") => text(&mut self.pre_stop_handler),
                (37, "instance-lifecycle-pre-freeze-handler") => text(&mut self.pre_freeze_handler),
                (6, "region") => text(&mut self.region),
                (10, "account-id") => text(&mut self.account_id),
                (9, "qualifier") => text(&mut self.qualifier),
                (10, "version-id") => text(&mut self.version_id),
                (12, "service-name") => text(&mut self.service_name),
                (18, "service-logproject") => text(&mut self.log_project),
                (16, "service-logstore") => text(&mut self.log_store),
                (12, "control-path") => text(&mut self.control_path),
                (8, "log-type") => text(&mut self.log_type),
                (11, "retry-count") => number(&mut self.retry_count),
                _ => {}
            }
        }
        self.deadline = self
            .timeout_s
            .map(|t| arrived + Duration::from_secs(t.into()));
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
        let c = Context::from_headers(&h, Instant::now());
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
