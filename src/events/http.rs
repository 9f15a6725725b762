//! The HTTP trigger's event format (payload version `v1`). Sample: FC docs, "Use an HTTP trigger
//! to invoke a function" (HTTP触发器调用函数), section Request struct.
//!
//! FC maps an HTTP trigger's request to this event for functions in its built-in runtimes. A
//! custom runtime or custom container (what tinyfc serves) gets the client's HTTP request itself
//! instead, as a [`Kind::Http`](crate::Kind::Http) invocation. The type is here for functions
//! that are handed this shape anyway (another function forwarding it, code shared with a
//! built-in runtime, `cargo tinyfc local --event-example http`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// An HTTP request as an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpTriggerEvent {
    /// `version`: the payload format version, `v1`.
    #[serde(default)]
    pub version: Option<String>,
    /// `rawPath`: the request path, URL-encoded, without the query string.
    pub raw_path: String,
    /// `body`: the request body; Base64 when `is_base64_encoded` (binary content).
    #[serde(default)]
    pub body: Option<String>,
    /// `isBase64Encoded`: whether `body` is Base64.
    #[serde(default)]
    pub is_base64_encoded: bool,
    /// `headers`: the request headers; repeated headers joined with `,`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `queryParameters`: the query string, decoded; repeated keys joined with `,`.
    #[serde(default)]
    pub query_parameters: BTreeMap<String, String>,
    /// `requestContext`: about the request and the trigger.
    #[serde(default)]
    pub request_context: Option<HttpRequestContext>,
}

/// The `requestContext` of an HTTP trigger event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRequestContext {
    /// `accountId`: the function owner's account ID.
    #[serde(default)]
    pub account_id: Option<String>,
    /// `domainName`: the host the request was sent to, e.g. `<trigger-id>.<region>.fcapp.run`.
    #[serde(default)]
    pub domain_name: Option<String>,
    /// `domainPrefix`: the first label of `domain_name`.
    #[serde(default)]
    pub domain_prefix: Option<String>,
    /// `http`: method, path, protocol and client.
    pub http: HttpRequestInfo,
    /// `requestId`: the invocation's request ID.
    #[serde(default)]
    pub request_id: Option<String>,
    /// `time`: when the request arrived, e.g. `2023-09-05T06:41:11Z`.
    #[serde(default)]
    pub time: Option<String>,
    /// `timeEpoch`: the same in milliseconds since the epoch, as a string.
    #[serde(default)]
    pub time_epoch: Option<String>,
}

/// The `requestContext.http` of an HTTP trigger event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRequestInfo {
    /// `method`: the HTTP method.
    pub method: String,
    /// `path`: the request path, decoded.
    #[serde(default)]
    pub path: Option<String>,
    /// `protocol`: e.g. `HTTP/1.1`.
    #[serde(default)]
    pub protocol: Option<String>,
    /// `sourceIp`: the client's IP address.
    #[serde(default)]
    pub source_ip: Option<String>,
    /// `userAgent`: the client's User-Agent.
    #[serde(default)]
    pub user_agent: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::fixtures::example;

    #[test]
    fn http_sample_deserializes() {
        let e: HttpTriggerEvent = serde_json::from_str(example("http").unwrap()).unwrap();
        assert_eq!(e.version.as_deref(), Some("v1"));
        assert_eq!(e.raw_path, "/example");
        assert_eq!(e.body.as_deref(), Some("Hello FC!"));
        assert!(!e.is_base64_encoded);
        assert_eq!(e.headers["header2"], "value1,value2");
        assert_eq!(e.query_parameters["parameter1"], "value1");
        let ctx = e.request_context.unwrap();
        assert_eq!(ctx.http.method, "GET");
        assert_eq!(ctx.http.path.as_deref(), Some("/example"));
        assert_eq!(
            ctx.http.user_agent.as_deref(),
            Some("PostmanRuntime/7.32.3")
        );
        assert_eq!(ctx.domain_prefix.as_deref(), Some("<http-trigger-id>"));
        assert_eq!(ctx.time_epoch.as_deref(), Some("1693896071895"));
    }

    #[test]
    fn http_event_without_body_or_maps_deserializes() {
        let e: HttpTriggerEvent = serde_json::from_str(r#"{"rawPath":"/"}"#).unwrap();
        assert_eq!((e.body, e.headers.len()), (None, 0));
    }
}
