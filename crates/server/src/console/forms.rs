//! What the console's editors share: the check every posting form passes (session, CSRF token,
//! role), and errors shown beside the field they concern.

use maud::{html, Markup};
use model::FieldError;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use axum::Form;

use super::keys::CsrfForm;
use super::Viewer;
use crate::auth::{Access, Area, CsrfPending};
use crate::{App, Error, Result};

/// The signed-in user behind a posted form, after its CSRF token, a pending password change and
/// their roles (`access` in `area`) are checked.
pub fn poster(
    pending: std::result::Result<CsrfPending, Error>,
    csrf: Option<&str>,
    area: Area,
    access: Access,
) -> Result<Viewer> {
    let session = pending?.verify(csrf)?;
    if session.must_change_password() {
        return Err(Error::PasswordChangeRequired);
    }
    session.caller().require(area, access)?;
    Ok(Viewer {
        caller: session.caller().clone(),
        csrf_token: session.csrf_token().to_string(),
    })
}

/// A form that carries nothing but its CSRF token (a delete or retry button), with the session
/// that posted it: [`Posted::check`] is [`poster`] for it.
pub struct Posted {
    pending: std::result::Result<CsrfPending, Error>,
    csrf: Option<String>,
}

impl Posted {
    /// The user behind the form, once its token, a pending password change and their roles
    /// (`access` in `area`) are checked.
    pub fn check(self, area: Area, access: Access) -> Result<Viewer> {
        poster(self.pending, self.csrf.as_deref(), area, access)
    }
}

impl FromRequest<App> for Posted {
    type Rejection = Response;

    async fn from_request(request: Request, app: &App) -> std::result::Result<Posted, Response> {
        let (mut parts, body) = request.into_parts();
        let pending = CsrfPending::from_request_parts(&mut parts, app).await;
        let Form(form) = Form::<CsrfForm>::from_request(Request::from_parts(parts, body), app)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Posted {
            pending,
            csrf: form.csrf,
        })
    }
}

/// The field errors of a refused form.
#[derive(Debug, Default)]
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    /// The errors of `error` when it is a refusal the user can fix (invalid input, a conflict);
    /// the error itself otherwise.
    pub fn from_error(error: Error) -> Result<Errors> {
        match error {
            Error::Invalid(fields) => Ok(Errors(fields)),
            Error::Conflict(message) => Ok(Errors(vec![FieldError::new("", message)])),
            Error::NotFound(what) => Ok(Errors(vec![FieldError::new(
                "",
                format!("{what} not found; it may have been deleted meanwhile"),
            )])),
            other => Err(other),
        }
    }

    /// One error on `field`.
    pub fn one(field: &str, message: impl Into<String>) -> Errors {
        Errors(vec![FieldError::new(field, message)])
    }

    fn concerns(field: &str, name: &str) -> bool {
        field == name
            || field
                .strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    }

    /// The errors of `name` and of the fields inside it, to put beside its input.
    pub fn at(&self, name: &str) -> Markup {
        html! {
            @for e in self.0.iter().filter(|e| Self::concerns(&e.field, name)) {
                span.field-error role="alert" {
                    @if e.field != name { code { (e.field) } ": " }
                    (e.message)
                }
            }
        }
    }

    /// The errors that concern none of `names` (a whole form, a line of an upload), for the top.
    pub fn rest(&self, names: &[&str]) -> Markup {
        let rest: Vec<&FieldError> = self
            .0
            .iter()
            .filter(|e| !names.iter().any(|n| Self::concerns(&e.field, n)))
            .collect();
        html! {
            @if !rest.is_empty() {
                div.errors role="alert" {
                    p { "Nothing was saved:" }
                    ul {
                        @for e in rest {
                            li { @if !e.field.is_empty() { strong { (e.field) } ": " } (e.message) }
                        }
                    }
                }
            } @else if !self.0.is_empty() {
                p.errors role="alert" { "Nothing was saved: correct the fields marked below." }
            }
        }
    }
}
