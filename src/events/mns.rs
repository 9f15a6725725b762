//! MNS (Simple Message Queue) topic and queue triggers. Samples: FC docs, "Trigger event format"
//! (触发器event格式), sections MNS topic triggers and MNS queue triggers.
//!
//! A topic trigger's "Event format" setting decides what arrives: `JSON` gives
//! [`MnsTopicEvent`]; `STREAM` gives the message body itself (read `req.body`, it is not JSON),
//! or, when the message has attributes, [`MnsTopicStreamEvent`]. A queue trigger goes through
//! EventBridge and delivers CloudEvents: [`MnsQueueEvent`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::eventbridge::{Batch, CloudEvent};

/// What an MNS topic trigger delivers when its event format is `JSON`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MnsTopicEvent {
    /// `TopicOwner`: the account ID that owns the topic.
    #[serde(default)]
    pub topic_owner: Option<String>,
    /// `TopicName`: the topic's name.
    #[serde(default)]
    pub topic_name: Option<String>,
    /// `Subscriber`: the subscriber's account ID.
    #[serde(default)]
    pub subscriber: Option<String>,
    /// `SubscriptionName`: the subscription's name.
    #[serde(default)]
    pub subscription_name: Option<String>,
    /// `MessageId`: the message's ID.
    #[serde(default)]
    pub message_id: Option<String>,
    /// `MessageMD5`: the MD5 of the message body.
    #[serde(rename = "MessageMD5", default)]
    pub message_md5: Option<String>,
    /// `Message`: the message body.
    pub message: String,
    /// `PublishTime`: when the message was published, in milliseconds since the epoch (a number
    /// in FC's sample, a string in MNS's own JSON format: either reads).
    #[serde(default, deserialize_with = "super::de::int_or_string")]
    pub publish_time: Option<i64>,
    /// The message's attributes: FC puts them beside the fields above as extra keys (its
    /// sample: `"key": "value"`). Every key not named above lands here.
    #[serde(flatten)]
    pub attributes: BTreeMap<String, serde_json::Value>,
}

/// What an MNS topic trigger delivers when its event format is `STREAM` and the message has
/// attributes (without attributes the event is the message body alone, not JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MnsTopicStreamEvent {
    /// `body`: the message body.
    pub body: String,
    /// `attrs`: the message attributes, e.g. `{"Extend": "{\"key\":\"value\"}"}`.
    #[serde(default)]
    pub attrs: BTreeMap<String, serde_json::Value>,
}

/// What an MNS queue trigger delivers: CloudEvents (an array when batching is on, as in FC's
/// sample) whose `data` is [`MnsQueueData`].
pub type MnsQueueEvent = Batch<CloudEvent<MnsQueueData>>;

/// The `data` of an MNS queue CloudEvent: one message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MnsQueueData {
    /// `requestId`: the ID of the request that sent the message.
    #[serde(default)]
    pub request_id: Option<String>,
    /// `messageId`: the message's ID.
    #[serde(default)]
    pub message_id: Option<String>,
    /// `messageBody`: the message body.
    #[serde(default)]
    pub message_body: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::fixtures::example;

    #[test]
    fn mns_topic_sample_deserializes() {
        let e: MnsTopicEvent = serde_json::from_str(example("mns-topic").unwrap()).unwrap();
        assert_eq!(e.message, "hello topic");
        assert_eq!(e.topic_name.as_deref(), Some("Mytopic"));
        assert_eq!(e.topic_owner.as_deref(), Some("118620210433****"));
        assert_eq!(e.subscription_name.as_deref(), Some("test-fc-subscribe"));
        assert_eq!(
            e.message_md5.as_deref(),
            Some("BA4BA9B48AC81F0F9C66F6C909C3****")
        );
        assert_eq!(
            e.message_id.as_deref(),
            Some("2F5B3C082B923D4EAC694B76D928****")
        );
        assert_eq!(e.publish_time, Some(1550216480040));
        assert!(e.attributes.is_empty(), "{:?}", e.attributes);
    }

    #[test]
    fn mns_topic_attributes_land_in_attributes() {
        let e: MnsTopicEvent =
            serde_json::from_str(example("mns-topic-attributes").unwrap()).unwrap();
        assert_eq!(e.message, "hello topic");
        assert_eq!(e.publish_time, Some(1550216302888));
        assert_eq!(e.attributes.len(), 1);
        assert_eq!(e.attributes["key"], "value");
    }

    #[test]
    fn mns_topic_publish_time_reads_from_a_string_too() {
        let e: MnsTopicEvent =
            serde_json::from_str(r#"{"Message":"m","PublishTime":"1449556920975"}"#).unwrap();
        assert_eq!(e.publish_time, Some(1449556920975));
        let e: MnsTopicEvent = serde_json::from_str(r#"{"Message":"m"}"#).unwrap();
        assert_eq!(e.publish_time, None);
        assert!(
            serde_json::from_str::<MnsTopicEvent>(r#"{"Message":"m","PublishTime":"soon"}"#)
                .is_err()
        );
    }

    #[test]
    fn mns_topic_stream_sample_deserializes() {
        let e: MnsTopicStreamEvent =
            serde_json::from_str(example("mns-topic-stream").unwrap()).unwrap();
        assert_eq!(e.body, "hello topic");
        assert_eq!(e.attrs["Extend"], r#"{"key":"value"}"#);
    }

    #[test]
    fn mns_queue_sample_deserializes() {
        let e: MnsQueueEvent = serde_json::from_str(example("mns-queue").unwrap()).unwrap();
        assert_eq!(e.len(), 2);
        let first = &e[0];
        assert_eq!(first.event_type, "mns:Queue:SendMessage");
        assert_eq!(first.source, "MNS-Function-mnstrigger");
        assert_eq!(
            first.subject.as_deref(),
            Some("acs:mns:cn-hangzhou:164901546557****:queues/zeus")
        );
        assert_eq!(first.aliyun_region_id.as_deref(), Some("cn-chengdu"));
        assert_eq!(first.data.message_body, "TEST");
        assert_eq!(
            first.data.message_id.as_deref(),
            Some("C6DB60D1574661357FA227277445****")
        );
        assert!(e[1].id.starts_with("d2g71017"));
    }
}
