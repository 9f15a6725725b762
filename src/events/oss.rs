//! OSS trigger (native; an EventBridge-based OSS trigger delivers CloudEvents instead, see
//! [`CloudEvent`](super::CloudEvent)). Sample: FC docs, "Trigger event format" (触发器event格式),
//! section OSS triggers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What an OSS trigger delivers: the object events that matched its rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OssEvent {
    /// `events`: one record per object event.
    pub events: Vec<OssRecord>,
}

/// One OSS object event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OssRecord {
    /// `eventName`: the event type, e.g. `ObjectCreated:PutObject`, `ObjectRemoved:DeleteObject`.
    pub event_name: String,
    /// `eventSource`: always `acs:oss`.
    pub event_source: String,
    /// `eventTime`: when it happened, ISO 8601, e.g. `2022-08-13T06:45:43.000Z`.
    pub event_time: String,
    /// `eventVersion`: the event protocol version, `1.0`.
    #[serde(default)]
    pub event_version: Option<String>,
    /// `oss`: the bucket and object.
    pub oss: OssSource,
    /// `region`: the bucket's region, e.g. `cn-hangzhou`.
    #[serde(default)]
    pub region: Option<String>,
    /// `requestParameters`: about the request that caused the event.
    #[serde(default)]
    pub request_parameters: Option<OssRequestParameters>,
    /// `responseElements`: about OSS's answer to that request.
    #[serde(default)]
    pub response_elements: Option<OssResponseElements>,
    /// `userIdentity`: who made the request.
    #[serde(default)]
    pub user_identity: Option<OssUserIdentity>,
}

/// The `oss` part of a record: which bucket and object, and which rule matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OssSource {
    /// `bucket`: the bucket.
    pub bucket: OssBucket,
    /// `object`: the object.
    pub object: OssObject,
    /// `ossSchemaVersion`: the OSS schema version, `1.0`.
    #[serde(default)]
    pub oss_schema_version: Option<String>,
    /// `ruleId`: the ID of the rule the event matched.
    #[serde(default)]
    pub rule_id: Option<String>,
}

/// An OSS bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OssBucket {
    /// `name`: the bucket's name.
    pub name: String,
    /// `arn`: the bucket's ARN, e.g. `acs:oss:cn-hangzhou:123456789:testbucket`.
    #[serde(default)]
    pub arn: Option<String>,
    /// `ownerIdentity`: the account ID of the bucket's owner.
    #[serde(default)]
    pub owner_identity: Option<String>,
    /// `virtualBucket`: seen in live events (empty), not documented.
    #[serde(default)]
    pub virtual_bucket: Option<String>,
}

/// An OSS object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OssObject {
    /// `key`: the object's name, e.g. `source/a.png`.
    pub key: String,
    /// `size`: the object's size in bytes.
    #[serde(default)]
    pub size: Option<i64>,
    /// `deltaSize`: how the size changed, in bytes: the size for a new object, new minus old for
    /// an overwrite (so it can be negative).
    #[serde(default)]
    pub delta_size: Option<i64>,
    /// `eTag`: the object's ETag.
    #[serde(default)]
    pub e_tag: Option<String>,
    /// `objectMeta`: the object's MIME type and user metadata.
    #[serde(default)]
    pub object_meta: Option<OssObjectMeta>,
}

/// An object's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OssObjectMeta {
    /// `mimeType`: the object's content type, e.g. `image/png`.
    #[serde(default)]
    pub mime_type: Option<String>,
    /// `userMeta`: user metadata, names starting with `x-oss-meta-`.
    #[serde(default)]
    pub user_meta: BTreeMap<String, String>,
}

/// The `requestParameters` of a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OssRequestParameters {
    /// `sourceIPAddress`: the client's IP address.
    #[serde(rename = "sourceIPAddress", default)]
    pub source_ip_address: Option<String>,
}

/// The `responseElements` of a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OssResponseElements {
    /// `requestId`: the OSS request ID.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// The `userIdentity` of a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OssUserIdentity {
    /// `principalId`: the Alibaba Cloud account ID of the requester.
    #[serde(default)]
    pub principal_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::fixtures::example;

    #[test]
    fn oss_sample_deserializes() {
        let e: OssEvent = serde_json::from_str(example("oss").unwrap()).unwrap();
        assert_eq!(e.events.len(), 1);
        let r = &e.events[0];
        assert_eq!(r.event_name, "ObjectCreated:PutObject");
        assert_eq!(r.event_source, "acs:oss");
        assert_eq!(r.region.as_deref(), Some("cn-hangzhou"));
        assert_eq!(r.oss.bucket.name, "testbucket");
        assert_eq!(
            r.oss.bucket.arn.as_deref(),
            Some("acs:oss:cn-hangzhou:123456789:testbucket")
        );
        assert_eq!(r.oss.object.key, "source/a.png");
        assert_eq!(r.oss.object.size, Some(122539));
        assert_eq!(r.oss.object.delta_size, Some(122539));
        assert_eq!(
            r.oss.object.e_tag.as_deref(),
            Some("688A7BF4F233DC9C88A80BF985AB****")
        );
        let meta = r.oss.object.object_meta.as_ref().unwrap();
        assert_eq!(meta.mime_type.as_deref(), Some("application/zip"));
        assert_eq!(meta.user_meta["x-oss-meta-last-modified"], "20250213");
        let ip = &r.request_parameters.as_ref().unwrap().source_ip_address;
        assert_eq!(ip.as_deref(), Some("140.205.XX.XX"));
        let req = &r.response_elements.as_ref().unwrap().request_id;
        assert_eq!(req.as_deref(), Some("58F9FF2D3DF792092E12044C"));
    }

    #[test]
    fn oss_round_trips_through_serialize() {
        let e: OssEvent = serde_json::from_str(example("oss").unwrap()).unwrap();
        let again: OssEvent = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(e, again);
    }
}
