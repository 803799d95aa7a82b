//! The one error type of the HTTP API and its JSON shape:
//! `{"error": {"code": "...", "message": "...", "fields": {...}}}`.
//!
//! Everything a handler can fail with ends up here, including axum's own
//! rejections (through our `Json` and `Query` extractors), so a client never
//! sees a plain-text body or an HTML error page.

use std::collections::BTreeMap;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub type AppResult<T> = Result<T, AppError>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("sign in first")]
    Unauthenticated,
    #[error("wrong email or password")]
    BadCredentials,
    #[error("{0}")]
    Forbidden(String),
    /// The organization requires a second factor that the person has not set up.
    #[error(
        "this organization requires two-factor sign-in: set up an authenticator app or a passkey under Account → Security first"
    )]
    MfaEnrollmentRequired,
    /// A second-step code (TOTP, recovery code, passkey) that is wrong or was used.
    #[error("that code is not right, or it was already used")]
    WrongCode,
    /// A passkey's answer that does not verify (or a passkey this server doesn't know).
    #[error("the passkey could not be verified; try again or use another way to sign in")]
    PasskeyFailed,
    /// The second step of a sign-in whose challenge is unknown, used or expired.
    #[error("this sign-in has expired or was completed; sign in again")]
    ChallengeExpired,
    #[error("missing or wrong X-CSRF-Token header")]
    Csrf,
    /// A signed request (an inbound webhook) whose signature does not verify,
    /// or is too old.
    #[error("{0}")]
    BadSignature(String),
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("the request took too long")]
    Timeout,
    #[error("{0}")]
    Conflict(String),
    /// A write to a record a privacy request restricted (read-only until an
    /// admin lifts it): 409 `restricted`.
    #[error("{0}")]
    Restricted(String),
    #[error("the request body is larger than the limit")]
    TooLarge,
    /// 413 with what was over which limit (a file, an organization's storage).
    #[error("{0}")]
    TooLargeBecause(String),
    #[error("the requested range is outside the content")]
    RangeNotSatisfiable,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{message}")]
    Validation {
        message: String,
        fields: BTreeMap<String, String>,
    },
    #[error("too many attempts, try again later")]
    RateLimited { retry_after_secs: u64 },
    #[error("{0}")]
    Unavailable(String),
    /// The organization is closed: it can be read, not changed.
    #[error("this organization is closed and read-only; its owner can reopen it")]
    OrgClosed,
    #[error("the address is too long")]
    UriTooLong,
    #[error("the request's headers are too large")]
    HeadersTooLarge,
    /// The disk holding the data is full: writes wait for space, reads go on.
    #[error("the server's disk is full; nothing was saved, try again once space is freed")]
    DiskFull,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// A 422 naming one field.
    pub fn field(name: impl Into<String>, problem: impl Into<String>) -> Self {
        let mut fields = BTreeMap::new();
        fields.insert(name.into(), problem.into());
        AppError::Validation {
            message: "some fields are not valid".into(),
            fields,
        }
    }

    pub fn forbidden(msg: impl Into<String>) -> Self {
        AppError::Forbidden(msg.into())
    }

    /// 409 for a write to a restricted record; `what` names it ("this contact").
    pub fn restricted(what: &str) -> Self {
        AppError::Restricted(format!(
            "{what} is restricted by a privacy request and is read-only; \
             an admin must lift the restriction (Settings → Privacy) before it can be changed"
        ))
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            AppError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            AppError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            AppError::BadCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            AppError::MfaEnrollmentRequired => (StatusCode::FORBIDDEN, "mfa_enrollment_required"),
            AppError::WrongCode => (StatusCode::UNAUTHORIZED, "invalid_code"),
            AppError::PasskeyFailed => (StatusCode::UNAUTHORIZED, "passkey_failed"),
            AppError::ChallengeExpired => (StatusCode::UNAUTHORIZED, "challenge_expired"),
            AppError::Csrf => (StatusCode::FORBIDDEN, "csrf_failed"),
            AppError::BadSignature(_) => (StatusCode::UNAUTHORIZED, "invalid_signature"),
            AppError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            AppError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            AppError::Timeout => (StatusCode::REQUEST_TIMEOUT, "timeout"),
            AppError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            AppError::Restricted(_) => (StatusCode::CONFLICT, "restricted"),
            AppError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            AppError::TooLargeBecause(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            AppError::RangeNotSatisfiable => {
                (StatusCode::RANGE_NOT_SATISFIABLE, "range_not_satisfiable")
            }
            AppError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            AppError::Validation { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            AppError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            AppError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            AppError::OrgClosed => (StatusCode::FORBIDDEN, "org_closed"),
            AppError::UriTooLong => (StatusCode::URI_TOO_LONG, "uri_too_long"),
            AppError::HeadersTooLarge => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
            ),
            AppError::DiskFull => (StatusCode::INSUFFICIENT_STORAGE, "insufficient_storage"),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<rusqlite::Error> for AppError {
    /// A constraint the database enforces is the caller's mistake, named:
    /// a duplicate is 409, any other violated rule 422 on the field.
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, Some(msg)) = &e
            && f.code == rusqlite::ErrorCode::ConstraintViolation
        {
            let field = constraint_field(msg);
            return match f.extended_code {
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                    AppError::Conflict(format!("{field}: this value is already taken"))
                }
                rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => {
                    AppError::field("body", "refers to something that does not exist")
                }
                _ => AppError::field(field, "not an allowed value"),
            };
        }
        if let rusqlite::Error::SqliteFailure(f, _) = &e
            && f.code == rusqlite::ErrorCode::DiskFull
        {
            return AppError::DiskFull;
        }
        AppError::Internal(e.into())
    }
}

/// The column a constraint message names: `UNIQUE constraint failed:
/// tags.name` → `name`; `CHECK constraint failed: stage IN (…)` → `stage`.
fn constraint_field(msg: &str) -> String {
    let rest = msg
        .split_once("failed:")
        .map(|(_, r)| r.trim())
        .unwrap_or("");
    let first = rest.split([',', ' ', '(']).next().unwrap_or("");
    let col = first.rsplit('.').next().unwrap_or("");
    if !col.is_empty() && col.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        col.to_string()
    } else {
        "body".to_string()
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `validation_failed`.
    pub code: String,
    pub message: String,
    /// For 422: which input field is wrong and why (paths like `emails[1].email`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
}

/// True when an error, anywhere in its chain, is the disk running out of
/// space (SQLite's SQLITE_FULL or the OS's ENOSPC): the client gets 507.
fn is_disk_full(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        if let Some(rusqlite::Error::SqliteFailure(f, _)) = cause.downcast_ref::<rusqlite::Error>()
        {
            return f.code == rusqlite::ErrorCode::DiskFull;
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::StorageFull
                || io.raw_os_error() == Some(libc::ENOSPC);
        }
        false
    })
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Internal(e) = &self
            && is_disk_full(e)
        {
            tracing::warn!(error = ?e, "disk full");
            return AppError::DiskFull.into_response();
        }
        let (status, code) = self.status_and_code();
        let message = match &self {
            // 5xx bodies stay opaque; the details go to the log only.
            AppError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                "something went wrong on the server".to_string()
            }
            other => other.to_string(),
        };
        let fields = match &self {
            AppError::Validation { fields, .. } => Some(fields.clone()),
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message,
                fields,
            },
        };
        let mut resp = (status, axum::Json(body)).into_response();
        if let AppError::RateLimited { retry_after_secs } = self
            && let Ok(v) = HeaderValue::from_str(&retry_after_secs.max(1).to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

/// `axum::Json` with rejections turned into our error shape, and data errors
/// reported with the path of the offending field.
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let value = match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(v)) => v,
            Err(rejection) => return Err(json_rejection(rejection)),
        };
        // Every body this API takes is an object; serde would otherwise read
        // a struct from an array, field by field in order.
        if !value.is_object() {
            return Err(AppError::field("body", "send a JSON object"));
        }
        from_value(value).map(Json)
    }
}

/// Deserialize a JSON value, naming the failing field on error.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> AppResult<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let (field, problem) = if path == "." || path.is_empty() {
            // serde names missing and unknown fields only in the message.
            match quoted_name(&inner) {
                Some(name) => (name, inner.clone()),
                None => ("body".to_string(), inner.clone()),
            }
        } else {
            (path, inner)
        };
        AppError::field(field, problem)
    })
}

fn quoted_name(msg: &str) -> Option<String> {
    let start = msg.find('`')? + 1;
    let end = start + msg[start..].find('`')?;
    Some(msg[start..end].to_string())
}

fn json_rejection(r: JsonRejection) -> AppError {
    match r {
        JsonRejection::MissingJsonContentType(_) => {
            AppError::UnsupportedMediaType("send Content-Type: application/json".into())
        }
        JsonRejection::JsonSyntaxError(e) => AppError::BadRequest(format!("malformed JSON: {e}")),
        JsonRejection::JsonDataError(e) => AppError::field("body", e.body_text()),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            AppError::TooLarge
        }
        other => AppError::BadRequest(other.body_text()),
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// A JSON answer already written, by the thread that read what it holds.
/// A page of records is hundreds of small allocations; written and freed
/// on the reading thread they go back to that thread's own free lists,
/// where freeing them on an async worker handed every one back across
/// threads (a list storm spent a fifth of its core in the allocator).
pub struct JsonBytes(pub Vec<u8>);

impl JsonBytes {
    pub fn of<T: Serialize>(value: &T) -> AppResult<JsonBytes> {
        serde_json::to_vec(value)
            .map(JsonBytes)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("writing JSON: {e}")))
    }
}

impl IntoResponse for JsonBytes {
    fn into_response(self) -> Response {
        (
            [(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            self.0,
        )
            .into_response()
    }
}

/// `axum::extract::Query` with rejections in our error shape.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                // serde_urlencoded says "field: problem"; name the field.
                let text = e.body_text();
                let detail = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                Err(match detail.split_once(": ") {
                    Some((field, problem)) if !field.contains(' ') => {
                        AppError::field(field, problem)
                    }
                    _ => AppError::field("query", detail),
                })
            }
            Err(other) => Err(AppError::BadRequest(other.body_text())),
        }
    }
}

/// Collects field problems so one 422 names all of them at once.
#[derive(Default)]
pub struct Problems(BTreeMap<String, String>);

impl Problems {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn add(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        self.0.entry(field.into()).or_insert_with(|| problem.into());
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn into_result(self) -> AppResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation {
                message: "some fields are not valid".into(),
                fields: self.0,
            })
        }
    }
}

/// `axum::extract::Path` with rejections in our error shape: a path that does
/// not parse names nothing that exists, so it is a 404.
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|_| AppError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraint_messages_name_their_column() {
        assert_eq!(
            constraint_field("UNIQUE constraint failed: tags.name"),
            "name"
        );
        assert_eq!(
            constraint_field("CHECK constraint failed: stage IN ('a')"),
            "stage"
        );
        assert_eq!(constraint_field("FOREIGN KEY constraint failed"), "body");
    }

    #[test]
    fn constraint_violations_are_the_callers_not_500() {
        let conn = rusqlite::Connection::open_in_memory().expect("db");
        conn.execute_batch("CREATE TABLE t (name TEXT UNIQUE, n INTEGER CHECK (n > 0));")
            .expect("schema");
        conn.execute("INSERT INTO t VALUES ('a', 1)", [])
            .expect("row");
        let dup: AppError = conn
            .execute("INSERT INTO t VALUES ('a', 1)", [])
            .unwrap_err()
            .into();
        assert_eq!(dup.status_and_code().0, StatusCode::CONFLICT);
        let bad: AppError = conn
            .execute("INSERT INTO t VALUES ('b', 0)", [])
            .unwrap_err()
            .into();
        assert_eq!(bad.status_and_code().0, StatusCode::UNPROCESSABLE_ENTITY);
    }
}
