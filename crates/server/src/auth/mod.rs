//! Who is calling: console users with session cookies (and CSRF tokens), API clients with bearer
//! tokens, and the roles that decide what each may do.

mod roles;

pub use roles::{Access, Area, Role};

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
