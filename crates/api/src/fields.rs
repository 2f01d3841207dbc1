//! Field-by-field validation of JSON request bodies.
//!
//! Bodies are parsed once into their top-level fields, each kept as raw JSON text
//! (`RawValue`), so a field such as an event's `data` keeps its exact bytes, and every
//! other field is decoded on its own with an error that names it. The split between
//! 400 and 422 follows DESIGN section 6: text that is not JSON (or malformed JSON) is
//! 400; a JSON value that breaks a rule (not an object, a missing, ill-typed, duplicate
//! or unknown field) is 422 naming the field. An empty body counts as `{}`, so routes
//! whose fields are all optional can be called without one.
//!
//! `null` counts as "not given" for optional fields and as missing for required ones.

use std::fmt;

use serde::de::{DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::ApiError;

/// The top-level fields of a JSON object body, in the order sent.
#[derive(Debug)]
pub(crate) struct Fields {
    entries: Vec<(String, Box<RawValue>)>,
}

/// Deserializes a JSON object into its (name, raw value) pairs, keeping duplicates so
/// they can be refused rather than silently resolved.
struct FieldList(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for FieldList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(FieldListVisitor)
    }
}

struct FieldListVisitor;

impl<'de> Visitor<'de> for FieldListVisitor {
    type Value = FieldList;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FieldList, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<String, Box<RawValue>>()? {
            entries.push(entry);
        }
        Ok(FieldList(entries))
    }
}

impl Fields {
    /// Parses `body`, refusing fields not in `allowed` and fields given twice.
    pub(crate) fn parse(body: &[u8], allowed: &[&str]) -> Result<Fields, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Fields {
                entries: Vec::new(),
            });
        }
        let FieldList(entries) = serde_json::from_slice(body).map_err(|error| {
            if error.is_data() {
                // Valid JSON, but not an object.
                ApiError::invalid("body", "must be a JSON object")
            } else {
                ApiError::MalformedJson(error)
            }
        })?;
        for (index, (name, _)) in entries.iter().enumerate() {
            if !allowed.contains(&name.as_str()) {
                return Err(ApiError::invalid(name.clone(), "is not a known field"));
            }
            if entries[..index].iter().any(|(earlier, _)| earlier == name) {
                return Err(ApiError::invalid(name.clone(), "is given more than once"));
            }
        }
        Ok(Fields { entries })
    }

    /// Removes field `name`, as raw JSON text; `None` if absent or `null`.
    pub(crate) fn raw(&mut self, name: &str) -> Option<Box<RawValue>> {
        let index = self.entries.iter().position(|(key, _)| key == name)?;
        let (_, value) = self.entries.swap_remove(index);
        (value.get() != "null").then_some(value)
    }

    /// Decodes field `name` as `T`; `expected` completes "must be ..." on a type error.
    fn typed<T: DeserializeOwned>(
        &mut self,
        name: &str,
        expected: &str,
    ) -> Result<Option<T>, ApiError> {
        match self.raw(name) {
            None => Ok(None),
            Some(raw) => serde_json::from_str(raw.get())
                .map(Some)
                .map_err(|_| ApiError::invalid(name, format!("must be {expected}"))),
        }
    }

    /// An optional string field of at most `max_chars` characters.
    pub(crate) fn optional_string(
        &mut self,
        name: &str,
        max_chars: usize,
    ) -> Result<Option<String>, ApiError> {
        let value: Option<String> = self.typed(name, "a string")?;
        if let Some(text) = &value {
            if text.chars().count() > max_chars {
                let message = format!("must be at most {max_chars} characters");
                return Err(ApiError::invalid(name, message));
            }
        }
        Ok(value)
    }

    /// A required string field of at most `max_chars` characters.
    pub(crate) fn required_string(
        &mut self,
        name: &str,
        max_chars: usize,
    ) -> Result<String, ApiError> {
        self.optional_string(name, max_chars)?
            .ok_or_else(|| ApiError::invalid(name, "is required"))
    }

    /// An optional boolean field.
    pub(crate) fn optional_bool(&mut self, name: &str) -> Result<Option<bool>, ApiError> {
        self.typed(name, "true or false")
    }

    /// An optional non-negative integer field.
    pub(crate) fn optional_u64(&mut self, name: &str) -> Result<Option<u64>, ApiError> {
        self.typed(name, "a non-negative integer")
    }

    /// An optional JSON object field, decoded.
    pub(crate) fn optional_object(
        &mut self,
        name: &str,
    ) -> Result<Option<serde_json::Value>, ApiError> {
        let value: Option<serde_json::Value> = self.typed(name, "a JSON object")?;
        match value {
            Some(value) if !value.is_object() => {
                Err(ApiError::invalid(name, "must be a JSON object"))
            }
            other => Ok(other),
        }
    }

    /// An optional array of strings; a non-string element is named `name[index]`.
    pub(crate) fn optional_string_list(
        &mut self,
        name: &str,
    ) -> Result<Option<Vec<String>>, ApiError> {
        let Some(items) = self.typed::<Vec<serde_json::Value>>(name, "an array of strings")? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            match item {
                serde_json::Value::String(text) => out.push(text),
                _ => {
                    return Err(ApiError::invalid(
                        format!("{name}[{index}]"),
                        "must be a string",
                    ))
                }
            }
        }
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `body` allowing fields `a` to `d` and reads `a` as a required string.
    #[track_caller]
    fn check(body: &str, expect: Result<&str, (&str, &str)>) {
        let outcome = Fields::parse(body.as_bytes(), &["a", "b", "c", "d"])
            .and_then(|mut fields| fields.required_string("a", 5));
        match (outcome, expect) {
            (Ok(value), Ok(want)) => assert_eq!(value, want),
            (Err(ApiError::Validation(errors)), Err((field, message))) => {
                assert_eq!(errors.len(), 1);
                assert_eq!(
                    (errors[0].field.as_str(), errors[0].message.as_str()),
                    (field, message)
                );
            }
            (Err(ApiError::MalformedJson(_)), Err(("400", _))) => {}
            (other, want) => panic!("{body}: got {other:?}, want {want:?}"),
        }
    }

    #[test]
    fn reads_a_required_string() {
        check(r#"{"a":"x"}"#, Ok("x"));
        check(r#" {"b":1, "a":"\u00e9"} "#, Ok("é"));
    }

    #[test]
    fn malformed_json_is_400() {
        check(r#"{"a":"x""#, Err(("400", "")));
        check("nope", Err(("400", "")));
        check(r#"{"a":"x"} trailing"#, Err(("400", "")));
        check("{\"a\":\"\u{0}\"}", Err(("400", "")));
    }

    #[test]
    fn rule_breaking_json_is_422_naming_the_field() {
        check("[1]", Err(("body", "must be a JSON object")));
        check("\"a\"", Err(("body", "must be a JSON object")));
        check("{}", Err(("a", "is required")));
        check("", Err(("a", "is required")));
        check(r#"{"a":null}"#, Err(("a", "is required")));
        check(r#"{"a":1}"#, Err(("a", "must be a string")));
        check(
            r#"{"a":"toolong"}"#,
            Err(("a", "must be at most 5 characters")),
        );
        check(r#"{"a":"x","z":1}"#, Err(("z", "is not a known field")));
        check(
            r#"{"a":"x","a":"y"}"#,
            Err(("a", "is given more than once")),
        );
    }

    #[test]
    fn string_lists_name_the_bad_element() {
        let mut fields = Fields::parse(br#"{"b":["x",2]}"#, &["b"]).unwrap();
        match fields.optional_string_list("b") {
            Err(ApiError::Validation(errors)) => assert_eq!(errors[0].field, "b[1]"),
            other => panic!("{other:?}"),
        }
    }
}
