//! CDN event trigger. Samples: FC docs, "Trigger event format" (触发器event格式), section CDN
//! triggers: `LogFileCreated` (fixture `cdn`), `CachedObjectsRefreshed`/`CachedObjectsPushed`
//! (`cdn-cached-objects`), `CdnDomainStarted`/`CdnDomainStopped` (`cdn-domain-started`) and
//! `CdnDomainAdded`/`CdnDomainDeleted` (`cdn-domain-added`).

use serde::{Deserialize, Serialize};

/// What a CDN event trigger delivers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdnEvent {
    /// `events`: one record per CDN event.
    pub events: Vec<CdnRecord>,
}

/// One CDN event. Which fields of [`CdnEventParameter`] are set depends on `event_name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CdnRecord {
    /// `eventName`: `LogFileCreated`, `CachedObjectsRefreshed`, `CachedObjectsPushed`,
    /// `CachedObjectsBlocked`, `CdnDomainStarted`, `CdnDomainStopped`, `CdnDomainAdded` or
    /// `CdnDomainDeleted`.
    pub event_name: String,
    /// `eventSource`: always `cdn`.
    pub event_source: String,
    /// `eventVersion`: the event version, `1.0.0`.
    #[serde(default)]
    pub event_version: Option<String>,
    /// `eventTime`: when it happened, e.g. `2018-06-14T15:31:49+08:00`.
    #[serde(default)]
    pub event_time: Option<String>,
    /// `region`: the CDN region, `cn-hangzhou` by default.
    #[serde(default)]
    pub region: Option<String>,
    /// `traceId`: an ID from the event source, for troubleshooting.
    #[serde(default)]
    pub trace_id: Option<String>,
    /// `resource`: the domain the event concerns.
    #[serde(default)]
    pub resource: Option<CdnResource>,
    /// `eventParameter`: the event's details.
    #[serde(default)]
    pub event_parameter: CdnEventParameter,
    /// `userIdentity`: the account the event belongs to.
    #[serde(default)]
    pub user_identity: Option<CdnUserIdentity>,
}

/// The `resource` of a CDN event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdnResource {
    /// `domain`: the accelerated domain name.
    pub domain: String,
}

/// The `userIdentity` of a CDN event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CdnUserIdentity {
    /// `aliUid`: the Alibaba Cloud account ID.
    pub ali_uid: String,
}

/// The `eventParameter` of a CDN event; the fields present depend on the event. FC's table calls
/// the times and sizes String while its samples show numbers: either reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CdnEventParameter {
    /// `domain`: the domain name (every event).
    #[serde(default)]
    pub domain: Option<String>,
    /// `filePath`: the log file's URL (`LogFileCreated`).
    #[serde(default)]
    pub file_path: Option<String>,
    /// `fileSize`: the log file's size in bytes (`LogFileCreated`).
    #[serde(default, deserialize_with = "super::de::int_or_string")]
    pub file_size: Option<i64>,
    /// `startTime`: start of the period the log file covers, seconds since the epoch
    /// (`LogFileCreated`).
    #[serde(default, deserialize_with = "super::de::int_or_string")]
    pub start_time: Option<i64>,
    /// `endTime`: end of that period, seconds since the epoch (`LogFileCreated`).
    #[serde(default, deserialize_with = "super::de::int_or_string")]
    pub end_time: Option<i64>,
    /// `objectPath`: the refreshed, pushed or blocked paths (`CachedObjects*`).
    #[serde(default)]
    pub object_path: Vec<String>,
    /// `objectType`: `File` or `Directory` (`CachedObjects*`).
    #[serde(default)]
    pub object_type: Option<String>,
    /// `taskId`: the refresh or push task's ID (`CachedObjects*`).
    #[serde(default, deserialize_with = "super::de::int_or_string")]
    pub task_id: Option<i64>,
    /// `createTime`: when the task started, seconds since the epoch (`CachedObjects*`).
    #[serde(default, deserialize_with = "super::de::int_or_string")]
    pub create_time: Option<i64>,
    /// `completeTime`: when the task finished, seconds since the epoch (`CachedObjects*`).
    #[serde(default, deserialize_with = "super::de::int_or_string")]
    pub complete_time: Option<i64>,
    /// `status`: the domain's status, e.g. `online` (`CdnDomainStarted`, `CdnDomainStopped`).
    #[serde(default)]
    pub status: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::fixtures::example;

    fn record(name: &str) -> CdnRecord {
        let mut e: CdnEvent = serde_json::from_str(example(name).unwrap()).unwrap();
        assert_eq!(e.events.len(), 1);
        let r = e.events.remove(0);
        assert_eq!(r.event_source, "cdn");
        assert_eq!(r.event_version.as_deref(), Some("1.0.0"));
        assert_eq!(r.resource.as_ref().unwrap().domain, "example.com");
        assert_eq!(r.event_parameter.domain.as_deref(), Some("example.com"));
        assert_eq!(
            r.user_identity.as_ref().unwrap().ali_uid,
            "164901546557****"
        );
        r
    }

    #[test]
    fn cdn_log_file_created_sample_deserializes() {
        let r = record("cdn");
        assert_eq!(r.event_name, "LogFileCreated");
        assert_eq!(r.event_time.as_deref(), Some("2018-06-14T15:31:49+08:00"));
        let p = &r.event_parameter;
        assert!(p.file_path.as_deref().unwrap().ends_with("Signature=xxxx"));
        assert_eq!(p.file_size, Some(1788115));
        assert_eq!(
            (p.start_time, p.end_time),
            (Some(1528959600), Some(1528959900))
        );
    }

    #[test]
    fn cdn_cached_objects_sample_deserializes() {
        let r = record("cdn-cached-objects");
        assert_eq!(r.event_name, "CachedObjectsRefreshed");
        let p = &r.event_parameter;
        assert_eq!(p.object_path.len(), 2);
        assert_eq!(p.object_path[0], "/2018/03/16/13/33b430c57e7.mp4");
        assert_eq!(p.object_type.as_deref(), Some("File"));
        assert_eq!(p.task_id, Some(2089687230));
        assert_eq!(
            (p.create_time, p.complete_time),
            (Some(1521180769), Some(1521180777))
        );
    }

    #[test]
    fn cdn_domain_samples_deserialize() {
        let r = record("cdn-domain-started");
        assert_eq!(r.event_name, "CdnDomainStarted");
        assert_eq!(r.event_parameter.status.as_deref(), Some("online"));
        let r = record("cdn-domain-added");
        assert_eq!(r.event_name, "CdnDomainAdded");
        assert_eq!(r.event_parameter.status, None);
    }

    #[test]
    fn cdn_times_read_from_strings_as_the_table_says() {
        let p: CdnEventParameter =
            serde_json::from_str(r#"{"startTime":"1528959600","fileSize":"12"}"#).unwrap();
        assert_eq!((p.start_time, p.file_size), (Some(1528959600), Some(12)));
    }
}
