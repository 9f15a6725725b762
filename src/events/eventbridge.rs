//! EventBridge-based triggers: CloudEvents 1.0 with Alibaba Cloud's extension attributes, whose
//! `data` depends on the source. Samples: EventBridge docs, "Event overview" (事件概述) for a
//! plain EventBridge event (fixture `eventbridge`); FC docs, "Trigger event format"
//! (触发器event格式), sections RocketMQ, RabbitMQ and Kafka triggers (`rocketmq`, `rabbitmq`,
//! `kafka`). MNS queue triggers use the same envelope (see [`MnsQueueEvent`](super::MnsQueueEvent)).
//!
//! With batch push on, FC delivers an array of events (FC's samples); without it, one event.
//! [`Batch`] reads both.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// One CloudEvent as EventBridge delivers it. `D` is the type of `data`: one of the data types
/// here, your own, or [`serde_json::Value`] (the default) for any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "D: DeserializeOwned + Default"))]
pub struct CloudEvent<D = serde_json::Value> {
    /// `id`: the event's ID, unique with `source`.
    pub id: String,
    /// `source`: the event source, e.g. `acs:alikafka` or the trigger's own source name.
    pub source: String,
    /// `specversion`: the CloudEvents version, `1.0`.
    #[serde(rename = "specversion", default)]
    pub spec_version: Option<String>,
    /// `type`: the event type, e.g. `alikafka:Topic:Message`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// `datacontenttype`: the media type of `data`, e.g. `application/json; charset=utf-8`.
    #[serde(rename = "datacontenttype", default)]
    pub data_content_type: Option<String>,
    /// `dataschema`: the schema `data` follows, if any.
    #[serde(rename = "dataschema", default)]
    pub data_schema: Option<String>,
    /// `subject`: what the event is about, e.g. `acs:mns:cn-hangzhou:<account>:queues/<name>`.
    #[serde(default)]
    pub subject: Option<String>,
    /// `time`: when the event happened, as the source wrote it.
    #[serde(default)]
    pub time: Option<String>,
    /// `aliyunaccountid`: the account the event belongs to.
    #[serde(rename = "aliyunaccountid", default)]
    pub aliyun_account_id: Option<String>,
    /// `aliyunpublishtime`: when EventBridge received the event, as it wrote it.
    #[serde(rename = "aliyunpublishtime", default)]
    pub aliyun_publish_time: Option<String>,
    /// `aliyunoriginalaccountid`: the account that published the event.
    #[serde(rename = "aliyunoriginalaccountid", default)]
    pub aliyun_original_account_id: Option<String>,
    /// `aliyuneventbusname`: the event bus it went through.
    #[serde(rename = "aliyuneventbusname", default)]
    pub aliyun_event_bus_name: Option<String>,
    /// `aliyunregionid`: the region where EventBridge received it.
    #[serde(rename = "aliyunregionid", default)]
    pub aliyun_region_id: Option<String>,
    /// `aliyunpublishaddr`: the address of the publisher.
    #[serde(rename = "aliyunpublishaddr", default)]
    pub aliyun_publish_addr: Option<String>,
    /// `data`: the event's content, as the source defines it.
    #[serde(default)]
    pub data: D,
}

/// One or more events: an event delivered alone reads as a batch of one. Derefs to a slice.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Batch<T>(pub Vec<T>);

impl<T> std::ops::Deref for Batch<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T> IntoIterator for Batch<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Batch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor rather than `#[serde(untagged)]`: a bad event keeps serde's own message
        // ("missing field `id`") instead of "did not match any variant".
        struct OneOrMany<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for OneOrMany<T> {
            type Value = Batch<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an event or an array of events")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                // No size hint taken from the input: the body's size already bounds it.
                let mut v = Vec::new();
                while let Some(item) = seq.next_element()? {
                    v.push(item);
                }
                Ok(Batch(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(|one| Batch(vec![one]))
            }
        }
        d.deserialize_any(OneOrMany(PhantomData))
    }
}

/// What an EventBridge trigger delivers, with `data` as any JSON.
pub type EventBridgeEvent = Batch<CloudEvent<serde_json::Value>>;

/// What a RocketMQ trigger delivers.
pub type RocketMqEvent = Batch<CloudEvent<RocketMqData>>;

/// What a RabbitMQ trigger delivers.
pub type RabbitMqEvent = Batch<CloudEvent<RabbitMqData>>;

/// What a Kafka (ApsaraMQ for Kafka) trigger delivers.
pub type KafkaEvent = Batch<CloudEvent<KafkaData>>;

/// The `data` of a RocketMQ CloudEvent: one message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RocketMqData {
    /// `topic`: the topic.
    #[serde(default)]
    pub topic: String,
    /// `systemProperties`: RocketMQ's properties (`TAGS`, `KEYS`, `MIN_OFFSET`, `MAX_OFFSET`,
    /// `UNIQ_KEY`, `CONSUME_START_TIME`, ...), strings or numbers as sent.
    #[serde(default)]
    pub system_properties: BTreeMap<String, serde_json::Value>,
    /// `userProperties`: the message's own properties.
    #[serde(default)]
    pub user_properties: BTreeMap<String, serde_json::Value>,
    /// `body`: the message body.
    #[serde(default)]
    pub body: String,
}

/// The `data` of a RabbitMQ CloudEvent: one message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RabbitMqData {
    /// `envelope`: delivery information.
    #[serde(default)]
    pub envelope: Option<RabbitMqEnvelope>,
    /// `body`: the message body, as JSON when it is JSON (FC's sample: `{"Hello": "RabbitMQ"}`).
    #[serde(default)]
    pub body: serde_json::Value,
    /// `props`: the AMQP message properties (`contentEncoding`, `messageId`, ...).
    #[serde(default)]
    pub props: BTreeMap<String, serde_json::Value>,
}

/// The `envelope` of a RabbitMQ message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RabbitMqEnvelope {
    /// `deliveryTag`: the delivery tag.
    #[serde(default)]
    pub delivery_tag: Option<u64>,
    /// `exchange`: the exchange (empty for the default exchange).
    #[serde(default)]
    pub exchange: Option<String>,
    /// `redeliver`: whether this is a redelivery.
    #[serde(default)]
    pub redeliver: Option<bool>,
    /// `routingKey`: the routing key.
    #[serde(default)]
    pub routing_key: Option<String>,
}

/// The `data` of a Kafka CloudEvent: one record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KafkaData {
    /// `topic`: the topic.
    #[serde(default)]
    pub topic: String,
    /// `partition`: the partition.
    #[serde(default)]
    pub partition: Option<i64>,
    /// `offset`: the record's offset.
    #[serde(default)]
    pub offset: Option<i64>,
    /// `timestamp`: the record's timestamp, milliseconds since the epoch.
    #[serde(default, deserialize_with = "super::de::int_or_string")]
    pub timestamp: Option<i64>,
    /// `headers`: the record's headers.
    #[serde(default)]
    pub headers: Option<KafkaHeaders>,
    /// `key`: the record's key.
    #[serde(default)]
    pub key: Option<String>,
    /// `value`: the record's value: a string for the trigger's Text format, Base64 for Binary,
    /// JSON for Json.
    #[serde(default)]
    pub value: serde_json::Value,
}

/// The `headers` of a Kafka record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KafkaHeaders {
    /// `headers`: the headers, as sent.
    #[serde(default)]
    pub headers: Vec<serde_json::Value>,
    /// `isReadOnly`: reserved by the platform, no meaning.
    #[serde(default)]
    pub is_read_only: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::fixtures::example;

    #[test]
    fn eventbridge_sample_deserializes_as_a_batch_of_one() {
        let e: EventBridgeEvent = serde_json::from_str(example("eventbridge").unwrap()).unwrap();
        assert_eq!(e.len(), 1);
        let ev = &e[0];
        assert_eq!(ev.id, "45ef4dewdwe1-7c35-447a-bd93-fab****");
        assert_eq!(ev.source, "acs:aliyuncvc");
        assert_eq!(ev.event_type, "aliyuncvc:MeetingEvent:MemberOperate");
        assert_eq!(ev.spec_version.as_deref(), Some("1.0"));
        assert_eq!(ev.aliyun_event_bus_name.as_deref(), Some("default"));
        assert_eq!(
            ev.aliyun_publish_time.as_deref(),
            Some("2020-11-19T21:04:42.179PRC")
        );
        assert_eq!(ev.data["action"], "camera_off");
    }

    #[test]
    fn rocketmq_sample_deserializes() {
        let e: RocketMqEvent = serde_json::from_str(example("rocketmq").unwrap()).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].event_type, "mq:Topic:SendMessage");
        let d = &e[0].data;
        assert_eq!((d.topic.as_str(), d.body.as_str()), ("TopicName", "TEST"));
        assert_eq!(d.system_properties["TAGS"], "systemProperties.TAGS");
        assert_eq!(d.system_properties["CONSUME_START_TIME"], 1628577790396u64);
        assert!(d.user_properties.is_empty());
    }

    #[test]
    fn rabbitmq_sample_deserializes() {
        let e: RabbitMqEvent = serde_json::from_str(example("rabbitmq").unwrap()).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].event_type, "amqp:Queue:SendMessage");
        let d = &e[0].data;
        let env = d.envelope.as_ref().unwrap();
        assert_eq!(env.delivery_tag, Some(98));
        assert_eq!(env.routing_key.as_deref(), Some("housekeeping"));
        assert_eq!(env.redeliver, Some(false));
        assert_eq!(d.body["Hello"], "RabbitMQ");
        assert_eq!(d.props["contentEncoding"], "UTF-8");
    }

    #[test]
    fn kafka_sample_deserializes() {
        let e: KafkaEvent = serde_json::from_str(example("kafka").unwrap()).unwrap();
        assert_eq!(e.len(), 2);
        let ev = &e[0];
        assert_eq!(ev.source, "acs:alikafka");
        assert_eq!(ev.event_type, "alikafka:Topic:Message");
        assert_eq!(ev.aliyun_account_id.as_deref(), Some("164901546557****"));
        assert_eq!(ev.aliyun_event_bus_name, None);
        let d = &ev.data;
        assert_eq!((d.partition, d.offset), (Some(7), Some(25)));
        assert_eq!(d.timestamp, Some(1655952591589));
        assert_eq!(d.key.as_deref(), Some("keytest"));
        assert_eq!(d.value, "hello kafka msg");
        assert_eq!(d.headers.as_ref().unwrap().is_read_only, Some(false));
    }

    #[test]
    fn a_bad_event_in_a_batch_keeps_serdes_message() {
        let err = serde_json::from_str::<KafkaEvent>(r#"[{"source":"s","type":"t"}]"#).unwrap_err();
        assert!(err.to_string().contains("missing field `id`"), "{err}");
        let err = serde_json::from_str::<KafkaEvent>("42").unwrap_err();
        assert!(
            err.to_string().contains("an event or an array of events"),
            "{err}"
        );
    }

    #[test]
    fn a_cloud_event_without_data_reads_with_default_data() {
        let e: EventBridgeEvent =
            serde_json::from_str(r#"{"id":"1","source":"s","type":"t"}"#).unwrap();
        assert_eq!(e[0].data, serde_json::Value::Null);
    }
}
