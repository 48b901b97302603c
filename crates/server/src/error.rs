use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use model::FieldError;
use serde::Serialize;

/// Everything a request can fail with. The one place errors become HTTP.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input; names the fields. Nothing was changed.
    #[error("invalid input: {}", fields_text(.0))]
    Invalid(Vec<FieldError>),
    /// Not logged in, or the token or session is not valid.
    #[error("authentication required")]
    Unauthenticated,
    /// A login was refused. Deliberately does not say whether the name or the password was wrong.
    #[error("wrong user name or password, or the account is locked for a few minutes after repeated failures")]
    BadCredentials,
    /// The user must change their password before doing anything else.
    #[error(
        "change your password first (POST /api/v1/auth/password, or the console's password page)"
    )]
    PasswordChangeRequired,
    /// Logged in, but no role allows this.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// No such thing.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request conflicts with the current state (e.g. a name already taken).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A system the server calls (LDAP, Microsoft Graph, Entra) failed or refused: not the
    /// caller's invalid input. Names the system and the setting to check.
    #[error("{system}: {message} (check {field})")]
    Upstream {
        /// [`Upstream::LDAP`], [`Upstream::GRAPH`] or [`Upstream::ENTRA`].
        system: &'static str,
        /// The setting that decides what was asked of it, e.g. `url` or `client_secret`.
        field: String,
        /// What it answered, or why it could not be reached.
        message: String,
    },
    /// The body is larger than the route reads; says the limit.
    #[error("the body is larger than {0} MiB, the most this route reads")]
    TooLarge(usize),
    /// The server is at capacity for this kind of work; the client should retry in a moment.
    #[error("the server is busy: {0}; try again in a moment")]
    Busy(&'static str),
    /// The caller's address sent too many requests of this kind; it should wait.
    #[error("too many requests: {0}")]
    Throttled(String),
    /// The database failed.
    #[error("store: {0}")]
    Store(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Anything else that is our fault.
    #[error("internal: {0}")]
    Internal(String),
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Each field's error as `field: message`, one after another: what a log line, a CLI error and
/// a recorded run's error say.
fn fields_text(fields: &[FieldError]) -> String {
    fields
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<model::Error> for Error {
    fn from(e: model::Error) -> Error {
        match e {
            model::Error::Invalid(fields) => Error::Invalid(fields),
            other => Error::Invalid(vec![FieldError::new("body", other.to_string())]),
        }
    }
}

/// The systems an [`Error::Upstream`] names.
pub struct Upstream;

impl Upstream {
    /// An Active Directory domain controller.
    pub const LDAP: &'static str = "LDAP";
    /// Microsoft Graph.
    pub const GRAPH: &'static str = "Microsoft Graph";
    /// Entra's sign-in and device registration services.
    pub const ENTRA: &'static str = "Entra";
    /// Samba's `net` program, which provisions offline domain joins.
    pub const SAMBA: &'static str = "Samba";
}

impl Error {
    /// A failure of `system`, about the setting `field`.
    pub fn upstream(
        system: &'static str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Error {
        Error::Upstream {
            system,
            field: field.into(),
            message: message.into(),
        }
    }

    /// A single-field validation error.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Invalid(vec![FieldError::new(field, message)])
    }
}

/// Whether `e` says the database could not be reached (connection refused, cut or timed out, the
/// pool closed, the server shutting down) rather than that a query was wrong: the request may
/// succeed when retried.
pub fn store_unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // PostgreSQL's connection exceptions (class 08) and operator intervention (57P: shutting
        // down, starting up).
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    }
}

/// The body of every error answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    /// `invalid`, `unauthenticated`, `bad_credentials`, `password_change_required`,
    /// `forbidden`, `not_found`, `conflict`, `upstream`, `too_large`, `busy`, `throttled`,
    /// `store_unavailable` (the database cannot be reached: retry) or `internal`.
    code: &'a str,
    /// What went wrong, for a person.
    message: String,
    /// With `invalid`: each field that is wrong and why; with `upstream`: the setting to check.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<crate::api::openapi::schemas::FieldError>)]
    fields: Vec<FieldError>,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            Error::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            Error::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            Error::BadCredentials => (StatusCode::UNAUTHORIZED, "bad_credentials"),
            Error::PasswordChangeRequired => (StatusCode::FORBIDDEN, "password_change_required"),
            Error::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Error::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Error::Upstream { .. } => (StatusCode::BAD_GATEWAY, "upstream"),
            Error::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            Error::Busy(_) => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            Error::Throttled(_) => (StatusCode::TOO_MANY_REQUESTS, "throttled"),
            Error::Store(e) if store_unreachable(e) => {
                (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable")
            }
            Error::Store(_) | Error::Migrate(_) | Error::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        let retry = matches!(self, Error::Busy(_) | Error::Throttled(_))
            || status == StatusCode::SERVICE_UNAVAILABLE;
        let (message, fields) = match self {
            Error::Store(e) if store_unreachable(&e) => {
                // Every request fails alike while the database is away: one line per interval.
                if let Some(answered) = UNREACHABLE_LOG.hit(std::time::Instant::now()) {
                    tracing::warn!(error = %e, answered, "the database is unreachable; answered 503 to {} requests since the last such line", answered);
                }
                (
                    "the server cannot reach its database; try again in a moment".to_string(),
                    Vec::new(),
                )
            }
            Error::Invalid(fields) => ("some fields are invalid".to_string(), fields),
            Error::Upstream {
                system,
                field,
                message,
            } => (
                format!("{} failed: {}", system, message),
                vec![FieldError::new(field, message)],
            ),
            // Store errors can quote SQL and values: log them, answer in general terms.
            e @ (Error::Store(_) | Error::Migrate(_) | Error::Internal(_)) => {
                tracing::error!(error = %e, "request failed");
                (
                    "the server could not complete the request; see its log".to_string(),
                    Vec::new(),
                )
            }
            other => (other.to_string(), Vec::new()),
        };
        let mut response = (
            status,
            Json(ErrorBody {
                code,
                message,
                fields,
            }),
        )
            .into_response();
        if retry {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        response
    }
}

/// A condition that every request meets while it lasts, logged once per interval with how often
/// it was met since the last line.
struct Repeats {
    interval: std::time::Duration,
    /// When the last line was logged, and the hits since.
    state: std::sync::Mutex<(Option<std::time::Instant>, u64)>,
}

impl Repeats {
    const fn new(interval: std::time::Duration) -> Repeats {
        Repeats {
            interval,
            state: std::sync::Mutex::new((None, 0)),
        }
    }

    /// Counts a hit at `now`; the hits to log (this one included) when a line is due.
    fn hit(&self, now: std::time::Instant) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.1 += 1;
        let due = match state.0 {
            None => true,
            Some(last) => now.saturating_duration_since(last) >= self.interval,
        };
        if !due {
            return None;
        }
        let hits = state.1;
        *state = (Some(now), 0);
        Some(hits)
    }
}

static UNREACHABLE_LOG: Repeats = Repeats::new(std::time::Duration::from_secs(10));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_condition_is_logged_once_per_interval_with_its_count() {
        let repeats = Repeats::new(std::time::Duration::from_secs(10));
        let start = std::time::Instant::now();
        let at = |s: u64| start + std::time::Duration::from_secs(s);
        assert_eq!(repeats.hit(at(0)), Some(1));
        assert_eq!(repeats.hit(at(1)), None);
        assert_eq!(repeats.hit(at(9)), None);
        assert_eq!(repeats.hit(at(10)), Some(3));
        assert_eq!(repeats.hit(at(25)), Some(1));
    }

    #[test]
    fn invalid_input_reads_as_each_field_and_its_message() {
        let error = Error::Invalid(vec![
            FieldError::new("path", "cannot read relative/x.json"),
            FieldError::new("scope.ous[0]", "not a DN"),
        ]);
        assert_eq!(
            error.to_string(),
            "invalid input: path: cannot read relative/x.json; scope.ous[0]: not a DN"
        );
    }

    #[test]
    fn an_unreachable_database_is_a_retryable_503_and_a_bad_query_stays_a_500() {
        let answer = Error::Store(sqlx::Error::PoolTimedOut).into_response();
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            answer.headers().get(axum::http::header::RETRY_AFTER),
            Some(&axum::http::HeaderValue::from_static("1"))
        );
        let cut = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert!(store_unreachable(&sqlx::Error::Io(cut)));
        let answer = Error::Store(sqlx::Error::RowNotFound).into_response();
        assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(answer
            .headers()
            .get(axum::http::header::RETRY_AFTER)
            .is_none());
    }
}
