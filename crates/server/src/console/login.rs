//! Logging in and out of the console, and changing one's password (forced at first login).

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::page;
use crate::auth::accounts;
use crate::auth::password::MIN_LENGTH;
use crate::auth::session::{clear_cookie, session_cookie, SessionKind};
use crate::auth::throttle::ClientAddr;
use crate::auth::{Authenticated, CsrfPending};
use crate::{App, Error, Result};

fn login_form(error: Option<&str>, name: &str) -> Markup {
    page(
        "Log in",
        html! {
            main {
                form.card method="post" action="/login" {
                    h1 { "rehome" }
                    @if let Some(error) = error { p.error role="alert" { (error) } }
                    label for="name" { "User name" }
                    input #name name="name" autocomplete="username" required value=(name);
                    label for="password" { "Password" }
                    input #password name="password" type="password" autocomplete="current-password" required;
                    p { button type="submit" { "Log in" } }
                }
            }
        },
    )
}

/// `GET /login`: the form, or the dashboard for someone already signed in.
pub async fn login_page(session: std::result::Result<Authenticated, Error>) -> Response {
    match session {
        Ok(session) if !session.must_change_password() => Redirect::to("/").into_response(),
        _ => login_form(None, "").into_response(),
    }
}

/// The login form's fields.
#[derive(Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
}

/// `POST /login`: opens a console session and sets its cookie; refused when another site's page
/// sent the form (login CSRF).
pub async fn login(
    State(app): State<App>,
    ClientAddr(from): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response> {
    if !super::origin::is_same_origin(&headers) {
        return Err(Error::Forbidden(
            "the login form was sent from another site's page",
        ));
    }
    match accounts::login(&app, &form.name, &form.password, SessionKind::Console, from).await {
        Ok((user, session)) => {
            let next = if user.must_change_password {
                "/password"
            } else {
                "/"
            };
            Ok((
                [(SET_COOKIE, session_cookie(&app, &session.token))],
                Redirect::to(next),
            )
                .into_response())
        }
        Err(e @ Error::BadCredentials) => {
            let message = e.to_string();
            Ok((
                StatusCode::UNAUTHORIZED,
                login_form(Some(&message), &form.name),
            )
                .into_response())
        }
        Err(e) => Err(e),
    }
}

fn password_form(session: &Authenticated, errors: &[String]) -> Markup {
    page(
        "Change password",
        html! {
            main {
                form.card method="post" action="/password" {
                    h1 { "Change password" }
                    @if session.must_change_password() {
                        p.notice { "Choose a new password before you continue." }
                    }
                    @for error in errors { p.error role="alert" { (error) } }
                    input type="hidden" name="csrf" value=(session.csrf_token());
                    label for="current" { "Current password" }
                    input #current name="current" type="password" autocomplete="current-password" required;
                    label for="new" { "New password (at least " (MIN_LENGTH) " characters, not your user name)" }
                    input #new name="new" type="password" autocomplete="new-password" required minlength=(MIN_LENGTH);
                    label for="confirm" { "New password again" }
                    input #confirm name="confirm" type="password" autocomplete="new-password" required;
                    p {
                        button type="submit" { "Change password" }
                        @if !session.must_change_password() { " " a href="/" { "Cancel" } }
                    }
                }
            }
        },
    )
}

/// `GET /password`: the change-password form.
pub async fn password_page(session: std::result::Result<Authenticated, Error>) -> Response {
    match session {
        Ok(session) => password_form(&session, &[]).into_response(),
        Err(_) => Redirect::to("/login").into_response(),
    }
}

/// The change-password form's fields.
#[derive(Deserialize)]
pub struct PasswordForm {
    /// Optional so that a form without it is refused as a CSRF failure, not as malformed.
    #[serde(default)]
    csrf: Option<String>,
    current: String,
    new: String,
    confirm: String,
}

/// `POST /password`: checks and stores the new password, then goes to the dashboard.
pub async fn change_password(
    State(app): State<App>,
    pending: std::result::Result<CsrfPending, Error>,
    Form(form): Form<PasswordForm>,
) -> Result<Response> {
    let session = match pending {
        Ok(pending) => pending.verify(form.csrf.as_deref())?,
        Err(Error::Unauthenticated) => return Ok(Redirect::to("/login").into_response()),
        Err(e) => return Err(e),
    };
    if form.new != form.confirm {
        let errors = ["The two new passwords differ.".to_string()];
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            password_form(&session, &errors),
        )
            .into_response());
    }
    let user = session.caller().user;
    match accounts::change_password(&app, user, &form.current, &form.new, session.token_hash())
        .await
    {
        Ok(()) => Ok(Redirect::to("/").into_response()),
        Err(Error::Invalid(fields)) => {
            let errors: Vec<String> = fields
                .iter()
                .map(|f| match f.field.as_str() {
                    "current" => format!("Current password {}.", f.message),
                    _ => format!("New password: {}.", f.message),
                })
                .collect();
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                password_form(&session, &errors),
            )
                .into_response())
        }
        Err(e) => Err(e),
    }
}

/// The logout form's field.
#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: Option<String>,
}

/// `POST /logout`: ends the session and clears the cookie.
pub async fn logout(
    State(app): State<App>,
    pending: std::result::Result<CsrfPending, Error>,
    Form(form): Form<LogoutForm>,
) -> Result<Response> {
    let session = match pending {
        Ok(pending) => pending.verify(form.csrf.as_deref())?,
        Err(Error::Unauthenticated) => return Ok(Redirect::to("/login").into_response()),
        Err(e) => return Err(e),
    };
    session.end(&app).await?;
    Ok(([(SET_COOKIE, clear_cookie(&app))], Redirect::to("/login")).into_response())
}
