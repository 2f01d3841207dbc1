//! The event-type catalog: the nine outreach events Herald ships with.
//!
//! Each type has a description, a JSON schema for `data` and a realistic sample (sent
//! by test mode). Schemas document payloads; ingest does not enforce them unless the
//! type is marked `strict` (DESIGN section 2). Operators add types through the API.

use crate::EventError;

/// One event type in the catalog.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EventTypeDef {
    /// Dot-separated lowercase name, e.g. `email.sent`.
    pub name: String,
    /// What happened when this event is sent.
    pub description: String,
    /// JSON schema of `data`.
    pub schema: serde_json::Value,
    /// A realistic `data` object, used by test mode.
    pub sample: serde_json::Value,
    /// When set, ingest refuses `data` whose top-level required fields are missing.
    pub strict: bool,
}

/// Checks an event type name: two or more dot-separated words of `[a-z0-9_]`, each
/// starting with a letter, at most 128 characters.
pub fn validate_event_type_name(name: &str) -> Result<(), EventError> {
    let segment_ok = |segment: &str| {
        segment.starts_with(|c: char| c.is_ascii_lowercase())
            && segment
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    let segments = name.split('.').count();
    if name.len() <= 128 && segments >= 2 && name.split('.').all(segment_ok) {
        Ok(())
    } else {
        Err(EventError::InvalidTypeName)
    }
}

/// (name, description, schema properties, required fields, sample) for each built-in type.
const BUILTIN: [(&str, &str, &str, &str, &str); 9] = [
    (
        "email.sent",
        "An outreach email left the sending mailbox.",
        r#"{"recipient":{"type":"object","properties":{"email":{"type":"string","format":"email"},"name":{"type":"string"}},"required":["email"]},"campaign_id":{"type":"string"},"email_id":{"type":"string"},"subject":{"type":"string"},"sent_at":{"type":"string","format":"date-time"},"step":{"type":"integer"}}"#,
        r#"["recipient","campaign_id","email_id"]"#,
        r#"{"recipient":{"email":"alex@example.com","name":"Alex Rivera"},"campaign_id":"cmp_123","email_id":"eml_456","subject":"Quick question about your Q1 hiring","sent_at":"2026-12-03T15:00:00Z","step":1}"#,
    ),
    (
        "email.opened",
        "A recipient opened an outreach email (tracking pixel loaded).",
        r#"{"recipient":{"type":"object","properties":{"email":{"type":"string","format":"email"}},"required":["email"]},"campaign_id":{"type":"string"},"email_id":{"type":"string"},"opened_at":{"type":"string","format":"date-time"},"user_agent":{"type":"string"}}"#,
        r#"["recipient","email_id"]"#,
        r#"{"recipient":{"email":"alex@example.com"},"campaign_id":"cmp_123","email_id":"eml_456","opened_at":"2026-12-03T15:02:11Z","user_agent":"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X)"}"#,
    ),
    (
        "email.clicked",
        "A recipient clicked a tracked link in an outreach email.",
        r#"{"recipient":{"type":"object","properties":{"email":{"type":"string","format":"email"}},"required":["email"]},"campaign_id":{"type":"string"},"email_id":{"type":"string"},"url":{"type":"string","format":"uri"},"clicked_at":{"type":"string","format":"date-time"}}"#,
        r#"["recipient","email_id","url"]"#,
        r#"{"recipient":{"email":"alex@example.com"},"campaign_id":"cmp_123","email_id":"eml_456","url":"https://supapitch.example/case-studies/acme","clicked_at":"2026-12-03T15:03:40Z"}"#,
    ),
    (
        "email.bounced",
        "An outreach email could not be delivered to the recipient's mailbox.",
        r#"{"recipient":{"type":"object","properties":{"email":{"type":"string","format":"email"}},"required":["email"]},"campaign_id":{"type":"string"},"email_id":{"type":"string"},"bounce_type":{"type":"string","enum":["hard","soft"]},"smtp_code":{"type":"integer"},"reason":{"type":"string"}}"#,
        r#"["recipient","email_id","bounce_type"]"#,
        r#"{"recipient":{"email":"old.address@example.com"},"campaign_id":"cmp_123","email_id":"eml_457","bounce_type":"hard","smtp_code":550,"reason":"5.1.1 The email account that you tried to reach does not exist"}"#,
    ),
    (
        "email.replied",
        "A recipient replied to an outreach email.",
        r#"{"recipient":{"type":"object","properties":{"email":{"type":"string","format":"email"}},"required":["email"]},"campaign_id":{"type":"string"},"email_id":{"type":"string"},"reply":{"type":"object","properties":{"body":{"type":"string"},"received_at":{"type":"string","format":"date-time"}},"required":["body"]},"intent":{"type":"string"}}"#,
        r#"["recipient","email_id","reply"]"#,
        r#"{"recipient":{"email":"alex@example.com"},"campaign_id":"cmp_123","email_id":"eml_456","reply":{"body":"Sounds good, let's talk Tuesday.","received_at":"2026-12-03T15:04:01Z"},"intent":"interested"}"#,
    ),
    (
        "reply.categorized",
        "A reply was categorized by AI (interested, not interested, out of office, ...).",
        r#"{"recipient":{"type":"object","properties":{"email":{"type":"string","format":"email"}},"required":["email"]},"campaign_id":{"type":"string"},"email_id":{"type":"string"},"category":{"type":"string","enum":["interested","not_interested","out_of_office","wrong_person","unsubscribe","other"]},"confidence":{"type":"number","minimum":0,"maximum":1}}"#,
        r#"["recipient","email_id","category"]"#,
        r#"{"recipient":{"email":"alex@example.com"},"campaign_id":"cmp_123","email_id":"eml_456","category":"interested","confidence":0.94}"#,
    ),
    (
        "campaign.completed",
        "Every recipient of a campaign has finished its sequence.",
        r#"{"campaign_id":{"type":"string"},"name":{"type":"string"},"completed_at":{"type":"string","format":"date-time"},"stats":{"type":"object","properties":{"recipients":{"type":"integer"},"sent":{"type":"integer"},"opened":{"type":"integer"},"replied":{"type":"integer"},"bounced":{"type":"integer"}}}}"#,
        r#"["campaign_id"]"#,
        r#"{"campaign_id":"cmp_123","name":"Q1 hiring managers","completed_at":"2026-12-03T18:00:00Z","stats":{"recipients":250,"sent":248,"opened":131,"replied":22,"bounced":2}}"#,
    ),
    (
        "recipient.added",
        "A recipient was added to a campaign.",
        r#"{"recipient":{"type":"object","properties":{"email":{"type":"string","format":"email"},"name":{"type":"string"},"company":{"type":"string"}},"required":["email"]},"campaign_id":{"type":"string"},"added_at":{"type":"string","format":"date-time"}}"#,
        r#"["recipient","campaign_id"]"#,
        r#"{"recipient":{"email":"sam@example.org","name":"Sam Okafor","company":"Example Org"},"campaign_id":"cmp_123","added_at":"2026-12-03T14:55:00Z"}"#,
    ),
    (
        "recipient.unsubscribed",
        "A recipient asked to receive no more outreach emails.",
        r#"{"recipient":{"type":"object","properties":{"email":{"type":"string","format":"email"}},"required":["email"]},"campaign_id":{"type":"string"},"email_id":{"type":"string"},"unsubscribed_at":{"type":"string","format":"date-time"},"source":{"type":"string","enum":["link","reply","manual"]}}"#,
        r#"["recipient"]"#,
        r#"{"recipient":{"email":"alex@example.com"},"campaign_id":"cmp_123","email_id":"eml_456","unsubscribed_at":"2026-12-03T16:20:00Z","source":"link"}"#,
    ),
];

/// The nine outreach event types of the default catalog.
pub fn builtin_catalog() -> Vec<EventTypeDef> {
    BUILTIN
        .iter()
        .map(|(name, description, properties, required, sample)| {
            // The literals above are checked by `builtin_catalog_is_well_formed`.
            let properties: serde_json::Value =
                serde_json::from_str(properties).expect("built-in schema is valid JSON");
            let required: serde_json::Value =
                serde_json::from_str(required).expect("built-in required list is valid JSON");
            let schema = serde_json::json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": properties,
                "required": required,
            });
            EventTypeDef {
                name: (*name).to_owned(),
                description: (*description).to_owned(),
                schema,
                sample: serde_json::from_str(sample).expect("built-in sample is valid JSON"),
                strict: false,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_is_well_formed() {
        let catalog = builtin_catalog();
        let names: Vec<&str> = catalog.iter().map(|def| def.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "email.sent",
                "email.opened",
                "email.clicked",
                "email.bounced",
                "email.replied",
                "reply.categorized",
                "campaign.completed",
                "recipient.added",
                "recipient.unsubscribed"
            ]
        );
        for def in &catalog {
            assert_eq!(validate_event_type_name(&def.name), Ok(()));
            // Every sample carries the fields its schema requires.
            let required = def.schema["required"].as_array().unwrap();
            for field in required {
                let field = field.as_str().unwrap();
                assert!(
                    def.sample.get(field).is_some(),
                    "{} sample lacks {field}",
                    def.name
                );
                assert!(
                    def.schema["properties"].get(field).is_some(),
                    "{} {field}",
                    def.name
                );
            }
        }
    }

    #[test]
    fn type_names_are_checked() {
        assert_eq!(validate_event_type_name("email.sent"), Ok(()));
        assert_eq!(validate_event_type_name("meeting.booked_v2"), Ok(()));
        for bad in [
            "email",
            "Email.sent",
            "email.",
            ".sent",
            "email.se nt",
            "email.*",
        ] {
            assert_eq!(
                validate_event_type_name(bad),
                Err(EventError::InvalidTypeName),
                "{bad}"
            );
        }
    }
}
