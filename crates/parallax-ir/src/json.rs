//! JSON text read strictly: every object holds each key once.
//!
//! `serde_json::Value` keeps the last of a repeated key, so a `config.json` with two
//! `hidden_size` fields, or a profile with two `name`s, would be read as whichever came last
//! without a word. Every JSON input of the project (model configs, profiles, traces) is read
//! through [`parse_unique`] instead, which refuses the repeat with its line and column.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// Parse `text` as one JSON value whose objects, at any depth, hold each key once.
///
/// # Errors
/// A `serde_json::Error` (with its line and column) for malformed JSON, or for a key that
/// appears twice in one object (`field `k` appears twice in one object`).
///
/// # Examples
/// ```
/// use parallax_ir::json::parse_unique;
/// assert_eq!(parse_unique(r#"{"a": {"b": 1}}"#).unwrap()["a"]["b"], 1);
/// let e = parse_unique("{\"a\": 1,\n \"a\": 2}").unwrap_err();
/// assert!(e.to_string().contains("field `a` appears twice"));
/// assert_eq!(e.line(), 2);
/// // a key is quoted escaped: no terminal control reaches the message
/// let e = parse_unique("{\"\\u001b[2J\": 1, \"\\u001b[2J\": 2}").unwrap_err();
/// assert!(e.to_string().contains("`\\u{1b}[2J` appears twice") && !e.to_string().contains('\u{1b}'));
/// ```
pub fn parse_unique(text: &str) -> Result<Value, serde_json::Error> {
    let UniqueValue(v) = serde_json::from_str(text)?;
    Ok(v)
}

/// A JSON value deserialised with repeated keys refused.
struct UniqueValue(Value);

impl<'de> Deserialize<'de> for UniqueValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = UniqueValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<UniqueValue, E> {
        Ok(UniqueValue(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<UniqueValue, E> {
        Ok(UniqueValue(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<UniqueValue, E> {
        Ok(UniqueValue(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<UniqueValue, E> {
        Ok(UniqueValue(Value::from(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<UniqueValue, E> {
        Ok(UniqueValue(Value::String(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<UniqueValue, E> {
        Ok(UniqueValue(Value::String(v)))
    }
    fn visit_unit<E>(self) -> Result<UniqueValue, E> {
        Ok(UniqueValue(Value::Null))
    }
    fn visit_none<E>(self) -> Result<UniqueValue, E> {
        Ok(UniqueValue(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<UniqueValue, D::Error> {
        UniqueValue::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueValue, A::Error> {
        let mut out = Vec::new();
        while let Some(UniqueValue(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(UniqueValue(Value::Array(out)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueValue, A::Error> {
        let mut obj = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            if obj.contains_key(&k) {
                // escaped and cut, as every value an error quotes
                let shown = crate::shown(&k.escape_debug().to_string(), 80);
                return Err(de::Error::custom(format!(
                    "field `{shown}` appears twice in one object"
                )));
            }
            let UniqueValue(v) = map.next_value()?;
            obj.insert(k, v);
        }
        Ok(UniqueValue(Value::Object(obj)))
    }
}
