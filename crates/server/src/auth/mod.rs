//! Who is calling: console users with session cookies (and CSRF tokens), API clients with bearer
//! tokens, and the roles that decide what each may do.
//!
//! Handlers take [`Caller`] as an extractor: it authenticates the request (bearer token or session
//! cookie), refuses a cookie-authenticated unsafe request without the session's CSRF token in
//! `X-CSRF-Token`, and refuses a user who must first change their password. Console form handlers
//! take [`CsrfPending`] instead and check the form's `csrf` field.

pub mod accounts;
pub mod gate;
pub mod password;
mod roles;
pub(crate) mod routes;
pub mod session;
pub mod throttle;

pub use accounts::{bootstrap_admin, create_user, issue_api_token, reset_password};
pub use roles::{Access, Area, Role};
pub use routes::router;
pub use session::{Authenticated, CsrfPending};

use model::ids::UserId;

use crate::{Error, Result};

/// An authenticated console or API user, extracted from the request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user: UserId,
    /// Their login name.
    pub name: String,
    /// Their roles.
    pub roles: Vec<Role>,
}

impl Caller {
    /// Ok when one of the caller's roles grants `access` in `area`; 403 otherwise.
    pub fn require(&self, area: Area, access: Access) -> Result<()> {
        if self.roles.iter().any(|r| r.allows(area, access)) {
            Ok(())
        } else {
            Err(Error::Forbidden("none of your roles allows this"))
        }
    }
}
