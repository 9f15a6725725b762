//! Serde types for the events FC's triggers deliver to event functions (cargo feature `events`),
//! one module per source, each tested against the platform's documented sample payload, kept as a
//! fixture file under `src/events/fixtures/` and reachable through [`fixtures::example`].
//!
//! | trigger | type | fixture |
//! |---|---|---|
//! | Timer | [`TimerEvent`] | `timer` |
//! | OSS | [`OssEvent`] | `oss` |
//! | MNS topic (JSON format) | [`MnsTopicEvent`] | `mns-topic`, `mns-topic-attributes` |
//! | MNS topic (STREAM format, with attributes) | [`MnsTopicStreamEvent`] | `mns-topic-stream` |
//! | MNS queue | [`MnsQueueEvent`] | `mns-queue` |
//! | SLS (Simple Log Service) | [`SlsEvent`] | `sls` |
//! | Tablestore (decoded from CBOR) | [`TablestoreEvent`] | `tablestore` |
//! | CDN | [`CdnEvent`] | `cdn`, `cdn-cached-objects`, `cdn-domain-started`, `cdn-domain-added` |
//! | EventBridge (CloudEvents) | [`EventBridgeEvent`] | `eventbridge` |
//! | RocketMQ, RabbitMQ, Kafka (through EventBridge) | [`RocketMqEvent`], [`RabbitMqEvent`], [`KafkaEvent`] | `rocketmq`, `rabbitmq`, `kafka` |
//! | HTTP trigger, as an event | [`HttpTriggerEvent`] | `http` |
//!
//! Rules every type keeps: field names are FC's exactly (`rename_all` or `rename`); a field FC
//! may leave out is an `Option` (or a collection that defaults to empty); unknown fields are
//! ignored, so a field FC adds later does not fail an invocation; numbers that FC's samples show
//! both as JSON numbers and as strings read from either. Read one with
//! [`json::event`](crate::json::event) or [`Request::json`](crate::Request::json).

mod cdn;
mod eventbridge;
pub mod fixtures;
mod http;
mod mns;
mod oss;
mod sls;
mod tablestore;
mod timer;

pub use cdn::{CdnEvent, CdnEventParameter, CdnRecord, CdnResource, CdnUserIdentity};
pub use eventbridge::{
    Batch, CloudEvent, EventBridgeEvent, KafkaData, KafkaEvent, KafkaHeaders, RabbitMqData,
    RabbitMqEnvelope, RabbitMqEvent, RocketMqData, RocketMqEvent,
};
pub use http::{HttpRequestContext, HttpRequestInfo, HttpTriggerEvent};
pub use mns::{MnsQueueData, MnsQueueEvent, MnsTopicEvent, MnsTopicStreamEvent};
pub use oss::{
    OssBucket, OssEvent, OssObject, OssObjectMeta, OssRecord, OssRequestParameters,
    OssResponseElements, OssSource, OssUserIdentity,
};
pub use sls::{SlsEvent, SlsSource};
pub use tablestore::{
    TablestoreColumn, TablestoreEvent, TablestorePrimaryKey, TablestoreRecord, TablestoreRowInfo,
    TablestoreValue,
};
pub use timer::TimerEvent;

/// Deserializers shared by the event types.
mod de {
    use serde::de::{self, Deserializer, Visitor};
    use std::fmt;

    /// An optional integer written either as a JSON number or as a string of digits (FC's tables
    /// call some fields String where its samples show numbers).
    pub(super) fn int_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        struct IntOrString;
        impl<'de> Visitor<'de> for IntOrString {
            type Value = Option<i64>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer or a string holding one")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Some(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                i64::try_from(v)
                    .map(Some)
                    .map_err(|_| E::custom(format!("integer {v} is out of range")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                v.trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
        }
        d.deserialize_any(IntOrString)
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures;

    #[test]
    fn every_fixture_is_listed_and_is_json() {
        let on_disk =
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/src/events/fixtures"))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n.ends_with(".json"))
                .count();
        assert_eq!(
            fixtures::NAMES.len(),
            on_disk,
            "a fixture file is not listed"
        );
        for name in fixtures::NAMES {
            let text = fixtures::example(name).unwrap();
            serde_json::from_str::<serde_json::Value>(text)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert_eq!(fixtures::example("no-such-trigger"), None);
    }
}
