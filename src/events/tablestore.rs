//! Tablestore trigger. Sample: FC docs, "Trigger event format" (触发器event格式), section
//! Tablestore triggers, and the Tablestore trigger's "Event format" page.
//!
//! FC delivers this event encoded as CBOR, not JSON. These types model the decoded shape (the
//! fixture is that shape as JSON) and derive serde, so a CBOR crate reads the body straight into
//! them, e.g. `ciborium::from_reader::<TablestoreEvent, _>(&req.body[..])`. tinyfc itself has no
//! CBOR dependency: most functions never see this trigger.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// What a Tablestore trigger delivers: rows changed in one table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TablestoreEvent {
    /// `Version`: the payload version, `Sync-v1`.
    pub version: String,
    /// `Records`: the changed rows.
    #[serde(default)]
    pub records: Vec<TablestoreRecord>,
}

/// One changed row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TablestoreRecord {
    /// `Type`: `PutRow`, `UpdateRow` or `DeleteRow`.
    #[serde(rename = "Type")]
    pub row_type: String,
    /// `Info`: when the row changed.
    #[serde(default)]
    pub info: Option<TablestoreRowInfo>,
    /// `PrimaryKey`: the row's primary key columns.
    #[serde(default)]
    pub primary_key: Vec<TablestorePrimaryKey>,
    /// `Columns`: the attribute columns that changed.
    #[serde(default)]
    pub columns: Vec<TablestoreColumn>,
}

/// The `Info` of a changed row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TablestoreRowInfo {
    /// `Timestamp`: when the row was last modified, UTC, in microseconds since the epoch.
    pub timestamp: i64,
}

/// A primary key column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TablestorePrimaryKey {
    /// `ColumnName`: the column's name.
    pub column_name: String,
    /// `Value`: its value (Integer, String or Blob).
    pub value: TablestoreValue,
}

/// A changed attribute column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TablestoreColumn {
    /// `Type`: `Put`, `DeleteOneVersion` or `DeleteAllVersions`.
    #[serde(rename = "Type")]
    pub column_type: String,
    /// `ColumnName`: the column's name.
    pub column_name: String,
    /// `Value`: the new value (none for deletions).
    #[serde(default)]
    pub value: Option<TablestoreValue>,
    /// `Timestamp`: the version's timestamp, UTC, in milliseconds since the epoch.
    #[serde(default)]
    pub timestamp: Option<i64>,
}

/// A Tablestore cell value: Integer, Double, Boolean, String or Blob.
#[derive(Debug, Clone, PartialEq)]
pub enum TablestoreValue {
    /// A 64-bit integer.
    Integer(i64),
    /// A double.
    Double(f64),
    /// A boolean.
    Boolean(bool),
    /// A string.
    String(String),
    /// Binary data (a CBOR byte string; JSON has no such type).
    Blob(Vec<u8>),
}

impl Serialize for TablestoreValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            TablestoreValue::Integer(v) => s.serialize_i64(*v),
            TablestoreValue::Double(v) => s.serialize_f64(*v),
            TablestoreValue::Boolean(v) => s.serialize_bool(*v),
            TablestoreValue::String(v) => s.serialize_str(v),
            TablestoreValue::Blob(v) => s.serialize_bytes(v),
        }
    }
}

impl<'de> Deserialize<'de> for TablestoreValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ValueVisitor;
        impl Visitor<'_> for ValueVisitor {
            type Value = TablestoreValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer, double, boolean, string or blob")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(TablestoreValue::Integer(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                i64::try_from(v)
                    .map(TablestoreValue::Integer)
                    .map_err(|_| E::custom(format!("integer {v} is out of Tablestore's range")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(TablestoreValue::Double(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(TablestoreValue::Boolean(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(TablestoreValue::String(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(TablestoreValue::String(v))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
                Ok(TablestoreValue::Blob(v.to_vec()))
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Self::Value, E> {
                Ok(TablestoreValue::Blob(v))
            }
        }
        d.deserialize_any(ValueVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::fixtures::example;

    #[test]
    fn tablestore_sample_deserializes() {
        let e: TablestoreEvent = serde_json::from_str(example("tablestore").unwrap()).unwrap();
        assert_eq!(e.version, "Sync-v1");
        assert_eq!(e.records.len(), 1);
        let r = &e.records[0];
        assert_eq!(r.row_type, "PutRow");
        assert_eq!(r.info.as_ref().unwrap().timestamp, 1506416585740836);
        assert_eq!(r.primary_key.len(), 3);
        assert_eq!(r.primary_key[0].column_name, "pk_0");
        assert_eq!(
            r.primary_key[0].value,
            TablestoreValue::Integer(1506416585881590900)
        );
        assert_eq!(
            r.primary_key[1].value,
            TablestoreValue::String("2017-09-26 17:03:05.8815909 +0800 CST".into())
        );
        assert_eq!(r.columns.len(), 2);
        assert_eq!(r.columns[0].column_type, "Put");
        assert_eq!(
            r.columns[0].value,
            Some(TablestoreValue::String("hello_table_store".into()))
        );
        assert_eq!(r.columns[1].timestamp, Some(1506416585741));
    }

    #[test]
    fn tablestore_values_of_every_json_kind_and_deletions_read() {
        let c: TablestoreColumn =
            serde_json::from_str(r#"{"Type":"DeleteAllVersions","ColumnName":"gone"}"#).unwrap();
        assert_eq!((c.value, c.timestamp), (None, None));
        let v: Vec<TablestoreValue> = serde_json::from_str("[1.5, true, -3]").unwrap();
        assert_eq!(
            v,
            [
                TablestoreValue::Double(1.5),
                TablestoreValue::Boolean(true),
                TablestoreValue::Integer(-3)
            ]
        );
        assert!(serde_json::from_str::<TablestoreValue>("18446744073709551615").is_err());
        assert!(serde_json::from_str::<TablestoreValue>("null").is_err());
    }
}
