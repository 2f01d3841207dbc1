//! `ApiError`: every way a request can be refused, rendered as RFC 9457 problem JSON.
//!
//! Handlers return `Result<Response, ApiError>`; the error's `IntoResponse` picks the
//! status and writes `application/problem+json` with `type`, `title`, `status`,
//! `detail` and, for validation, `errors: [{field, message}]`. Store failures keep
//! their cause as a source for logs, while the client sees only a generic detail.

use axum::response::{IntoResponse, Response};
use herald_store::{StoreError, StoreErrorKind};
use http::{header, HeaderValue, StatusCode};

/// Base of the `type` URI of every problem; the slug names the kind of problem.
const PROBLEM_BASE: &str = "https://herald.dev/problems/";

/// One invalid field of a request: `field` names it as the client wrote it
/// (`url`, `event_types[1]`, `data.email_id`, a query parameter such as `limit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field, array element or parameter at fault.
    pub field: String,
    /// What is wrong, phrased as the rule it breaks (`must be a string`).
    pub message: String,
}

/// A refused or failed request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// No `Authorization: Bearer` key, or a key that is neither the admin key nor a
    /// tenant key (401).
    #[error("missing or unknown API key")]
    Unauthorized,
    /// A tenant key on an admin-only route (403).
    #[error("this route needs the admin key")]
    Forbidden,
    /// The named resource does not exist, or the key may not see it (404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// No route has this path (404).
    #[error("no route matches this path")]
    RouteNotFound,
    /// The path exists but not with this method (405).
    #[error("this method is not allowed on this route")]
    MethodNotAllowed,
    /// The body is not JSON at all, or malformed JSON (400).
    #[error("request body is not valid JSON")]
    MalformedJson(#[source] serde_json::Error),
    /// The query string could not be decoded (400).
    #[error("query string is malformed")]
    MalformedQuery,
    /// The body could not be read from the connection (400).
    #[error("request body could not be read")]
    UnreadableBody,
    /// The body did not arrive in time (408).
    #[error("the request body did not arrive within {0} seconds")]
    BodyTimeout(u64),
    /// Well-formed JSON (or query) that breaks a rule (422).
    #[error("request has invalid fields")]
    Validation(Vec<FieldError>),
    /// The body, or one field of it, is over its size limit (413).
    #[error("{what} is larger than the limit of {limit} bytes")]
    TooLarge {
        /// What is too large (`request body`, `data`).
        what: &'static str,
        /// The limit in bytes.
        limit: usize,
    },
    /// The resource exists already, or its state forbids the action (409).
    #[error("{0}")]
    Conflict(String),
    /// The store failed; 503 when it is unavailable, 500 otherwise.
    #[error("store operation failed")]
    Store(#[from] StoreError),
    /// A response could not be produced (500); the text is for logs only.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl ApiError {
    /// A 422 naming one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    /// A 422 naming `field`: `name` is not an event type of the catalog.
    pub(crate) fn unknown_event_type(field: impl Into<String>, name: &str) -> Self {
        ApiError::invalid(field, format!("{name} is not in the event-type catalog"))
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::RouteNotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::MalformedJson(_) | ApiError::MalformedQuery | ApiError::UnreadableBody => {
                StatusCode::BAD_REQUEST
            }
            ApiError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Store(error) => match error.kind() {
                StoreErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                StoreErrorKind::InvalidCursor => StatusCode::UNPROCESSABLE_ENTITY,
                StoreErrorKind::NotFound => StatusCode::NOT_FOUND,
                StoreErrorKind::Conflict => StatusCode::CONFLICT,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// (slug of the `type` URI, `title`, `detail`, `errors`).
    fn problem(&self) -> (&'static str, &'static str, String, Option<Vec<FieldError>>) {
        match self {
            ApiError::Unauthorized => (
                "unauthorized",
                "Unauthorized",
                "send `Authorization: Bearer <key>` with the admin key or a tenant key".into(),
                None,
            ),
            ApiError::Forbidden => ("forbidden", "Forbidden", self.to_string(), None),
            ApiError::NotFound(_) | ApiError::RouteNotFound => {
                ("not-found", "Not Found", self.to_string(), None)
            }
            ApiError::MethodNotAllowed => (
                "method-not-allowed",
                "Method Not Allowed",
                self.to_string(),
                None,
            ),
            ApiError::MalformedJson(source) => (
                "malformed-request",
                "Malformed Request",
                format!("request body is not valid JSON: {source}"),
                None,
            ),
            ApiError::BodyTimeout(_) => {
                ("request-timeout", "Request Timeout", self.to_string(), None)
            }
            ApiError::MalformedQuery | ApiError::UnreadableBody => (
                "malformed-request",
                "Malformed Request",
                self.to_string(),
                None,
            ),
            ApiError::Validation(errors) => {
                let detail = match errors.as_slice() {
                    [one] => format!("{} {}", one.field, one.message),
                    _ => format!("{} fields are invalid", errors.len()),
                };
                (
                    "validation",
                    "Invalid Request",
                    detail,
                    Some(errors.clone()),
                )
            }
            ApiError::TooLarge { .. } => (
                "payload-too-large",
                "Payload Too Large",
                self.to_string(),
                None,
            ),
            ApiError::Conflict(_) => ("conflict", "Conflict", self.to_string(), None),
            ApiError::Store(error) => match error.kind() {
                StoreErrorKind::Unavailable => (
                    "unavailable",
                    "Service Unavailable",
                    "storage is unavailable; retry later".into(),
                    None,
                ),
                StoreErrorKind::InvalidCursor => {
                    let message = "is not a cursor returned by this list";
                    let errors = vec![FieldError {
                        field: "cursor".into(),
                        message: message.into(),
                    }];
                    (
                        "validation",
                        "Invalid Request",
                        format!("cursor {message}"),
                        Some(errors),
                    )
                }
                StoreErrorKind::NotFound => ("not-found", "Not Found", "not found".into(), None),
                StoreErrorKind::Conflict => (
                    "conflict",
                    "Conflict",
                    "the resource was changed concurrently; retry".into(),
                    None,
                ),
                _ => (
                    "internal",
                    "Internal Server Error",
                    "internal error".into(),
                    None,
                ),
            },
            ApiError::Internal(_) => (
                "internal",
                "Internal Server Error",
                "internal error".into(),
                None,
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            // The cause chain goes to the log, never to the client.
            tracing::error!(error = %self, cause = ?std::error::Error::source(&self), "request failed");
        }
        let body = self.problem_body().to_string();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl ApiError {
    /// The problem+json document of this error (also embedded per item in batch answers).
    pub(crate) fn problem_body(&self) -> serde_json::Value {
        let status = self.status();
        let (slug, title, detail, errors) = self.problem();
        let mut problem = serde_json::Map::new();
        problem.insert("type".into(), format!("{PROBLEM_BASE}{slug}").into());
        problem.insert("title".into(), title.into());
        problem.insert("status".into(), status.as_u16().into());
        problem.insert("detail".into(), detail.into());
        if let Some(errors) = errors {
            let errors: Vec<serde_json::Value> = errors
                .into_iter()
                .map(|error| serde_json::json!({"field": error.field, "message": error.message}))
                .collect();
            problem.insert("errors".into(), errors.into());
        }
        serde_json::Value::Object(problem)
    }
}
