//! The rules for users: first-start bootstrap, creation, login with lockout, password changes and
//! resets. Handlers and the `rehome` binary call these; SQL stays in `store::users`.

use std::net::IpAddr;

use chrono::Duration;
use model::ids::UserId;

use super::session::{start_session, NewSession, SessionKind};
use super::Role;
use super::{password, throttle};
use crate::store::users::{Kept, UserRow};
use crate::{App, Error, Result};

/// The name of the user created on first start.
pub const BOOTSTRAP_ADMIN: &str = "admin";
/// Consecutive failed logins after which an account is locked for [`lockout`].
pub const LOCKOUT_AFTER: i64 = 5;
/// How long an account stays locked after too many failed logins.
pub fn lockout() -> Duration {
    Duration::minutes(5)
}

/// Checks a login name: 1–64 letters, digits, `.`, `-`, `_` or `@`.
pub fn check_name(name: &str) -> Result<()> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'));
    if name.is_empty() || name.len() > 64 || !ok_chars {
        return Err(Error::field(
            "name",
            "use 1 to 64 letters, digits, '.', '-', '_' or '@'",
        ));
    }
    Ok(())
}

/// Creates a user with `roles` and returns its id. `must_change` makes their first act a password
/// change, as for any password an administrator chose for them.
pub async fn create_user(
    app: &App,
    name: &str,
    password: &str,
    roles: &[Role],
    must_change: bool,
) -> Result<UserId> {
    check_name(name)?;
    password::check_policy("password", name, password, None)?;
    insert(app, name, password, roles, must_change).await
}

async fn insert(
    app: &App,
    name: &str,
    password: &str,
    roles: &[Role],
    must_change: bool,
) -> Result<UserId> {
    let now = app.clock.now();
    let id = UserId::new();
    app.store
        .insert_user(&UserRow {
            id,
            name: name.to_string(),
            password_hash: app.limits.passwords.hash(password).await?,
            must_change_password: must_change,
            failed_logins: 0,
            locked_until: None,
            created_at: now,
            updated_at: now,
            roles: roles.to_vec(),
        })
        .await?;
    Ok(id)
}

/// Issues an API token for `user` (e.g. for the demo or a script), valid 30 days.
pub async fn issue_api_token(app: &App, user: UserId) -> Result<String> {
    Ok(start_session(app, user, SessionKind::Api).await?.token)
}

/// On first start (no users at all), creates `admin` with the TenantAdmin role and a random
/// password, which it returns for the caller to show once; the password must be changed at first
/// login. `None` when users already exist.
pub async fn bootstrap_admin(app: &App) -> Result<Option<String>> {
    if app.store.count_users().await? > 0 {
        return Ok(None);
    }
    let password = password::generate();
    match insert(app, BOOTSTRAP_ADMIN, &password, &[Role::TenantAdmin], true).await {
        Ok(_) => {
            tracing::info!(user = BOOTSTRAP_ADMIN, "created the first administrator");
            Ok(Some(password))
        }
        // Another replica bootstrapped at the same moment: its password is the one printed.
        Err(Error::Conflict(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Gives `user_name` a new random password (returned once), which must be changed at the next
/// login, ends all their sessions and lifts any lockout. For `rehome admin reset-password`.
pub async fn reset_password(app: &App, user_name: &str) -> Result<String> {
    let user = app
        .store
        .user_by_name(user_name)
        .await?
        .ok_or(Error::NotFound("user"))?;
    let password = password::generate();
    set_password(app, user.id, &password, true).await?;
    app.store.delete_user_sessions(user.id, None).await?;
    tracing::info!(user = %user.name, "password reset");
    Ok(password)
}

async fn set_password(app: &App, user: UserId, password: &str, must_change: bool) -> Result<()> {
    let hash = app.limits.passwords.hash(password).await?;
    app.store
        .set_password(user, &hash, must_change, app.clock.now())
        .await
}

/// How long a successful sign-in address keeps an account open to it while the account is locked.
pub fn known_address_memory() -> Duration {
    Duration::days(90)
}

/// A short fingerprint of a name that failed to sign in, for the log: enough to tell repeats
/// apart, without writing what was typed (which may be a password typed in the wrong field).
pub fn name_fingerprint(name: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(name.as_bytes());
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks `name` and `password` from client address `from` and opens a session of `kind`.
///
/// The rules, in order: an address with too many failed sign-ins is refused at once
/// ([`Error::Throttled`]); a permit from the password gate is taken ([`Error::Busy`] when the
/// server is checking as many passwords as it can); an attempt is counted on the account before
/// the password is checked, so at most [`LOCKOUT_AFTER`] wrong passwords are checked per account
/// and lockout period whatever the parallelism; a locked account stays open to addresses it
/// signed in from before. Every other refusal is the same [`Error::BadCredentials`] after the same
/// work (one password computation), whether the name, the password or a lockout was the reason.
pub async fn login(
    app: &App,
    name: &str,
    password: &str,
    kind: SessionKind,
    from: Option<IpAddr>,
) -> Result<(UserRow, NewSession)> {
    let now = app.clock.now();
    let limits = &app.limits;
    let fingerprint = || format!("unknown name {}", name_fingerprint(name));
    if let Some(address) = from {
        if limits.sign_in_failures.is_blocked(address, now) {
            tracing::warn!(address = %address, "login refused: too many failed sign-ins from this address");
            audit_sign_in(app, &fingerprint(), from, "sign-in throttled", 429).await;
            return Err(Error::Throttled(
                "too many failed sign-ins from your address; wait 15 minutes".to_string(),
            ));
        }
    }
    let permit = limits.passwords.admit()?;
    let Some(user) = app.store.user_by_name(name).await? else {
        // The same work as for a wrong password, so timing does not reveal names.
        permit.verify(password, password::DUMMY_HASH).await?;
        return Err(refuse(app, None, name, from, "unknown user").await);
    };
    let address = from.map(|a| throttle::key(a).to_string());
    let known = match &address {
        Some(address) => {
            let since = now - known_address_memory();
            app.store
                .is_known_login_address(user.id, address, since)
                .await?
        }
        None => false,
    };
    let until = now + lockout();
    let Some(attempt) = app
        .store
        .take_login_attempt(user.id, now, LOCKOUT_AFTER, until, known)
        .await?
    else {
        // Locked: the same work and answer as a wrong password, without checking this one.
        permit.verify(password, password::DUMMY_HASH).await?;
        return Err(refuse(app, Some(&user.name), name, from, "account locked").await);
    };
    if !permit.verify(password, &user.password_hash).await? {
        // The attempt that made the count locked the account when it was taken.
        if attempt == LOCKOUT_AFTER {
            tracing::warn!(user = ?user.name, "account locked for {} minutes after {LOCKOUT_AFTER} failed sign-ins", lockout().num_minutes());
            audit_sign_in(app, &user.name, from, "account locked", 401).await;
        }
        return Err(refuse(app, Some(&user.name), name, from, "wrong password").await);
    }
    app.store.clear_login_failures(user.id).await?;
    // The address's own count of failures is left as it is: signing in to one's own account
    // between guesses at others must not reset it.
    if let Some(address) = &address {
        app.store
            .remember_login_address(user.id, address, now)
            .await?;
    }
    let session = start_session(app, user.id, kind).await?;
    tracing::info!(user = ?user.name, address = ?from, "logged in");
    audit_sign_in(app, &user.name, from, "sign-in", 200).await;
    Ok((user, session))
}

/// Counts a refused sign-in against the address, logs and records it (a name that is no account
/// only as a fingerprint), and gives the one answer every refusal gets.
async fn refuse(
    app: &App,
    user: Option<&str>,
    typed: &str,
    from: Option<IpAddr>,
    reason: &'static str,
) -> Error {
    if let Some(address) = from {
        app.limits.sign_in_failures.hit(address, app.clock.now());
    }
    let actor = match user {
        Some(user) => {
            tracing::warn!(user = ?user, address = ?from, "login refused: {reason}");
            user.to_string()
        }
        None => {
            let fingerprint = name_fingerprint(typed);
            tracing::warn!(
                name = %fingerprint,
                address = ?from,
                "login refused: {reason} (the name is logged as a fingerprint)"
            );
            format!("unknown name {fingerprint}")
        }
    };
    let mut entry =
        crate::audit::entry(app, &actor, from.map(|a| a.to_string()), "sign-in refused");
    entry.status = 401;
    entry.after = Some(serde_json::json!({ "reason": reason }));
    crate::audit::record(app, entry).await;
    Error::BadCredentials
}

async fn audit_sign_in(app: &App, actor: &str, from: Option<IpAddr>, action: &str, status: i64) {
    let mut entry = crate::audit::entry(app, actor, from.map(|a| a.to_string()), action);
    entry.status = status;
    crate::audit::record(app, entry).await;
}

/// Lifts the lockout of `user_name` and restarts its count of failed sign-ins. For
/// `rehome admin unlock`.
pub async fn unlock(app: &App, user_name: &str) -> Result<()> {
    let user = app
        .store
        .user_by_name(user_name)
        .await?
        .ok_or(Error::NotFound("user"))?;
    app.store.clear_login_failures(user.id).await?;
    tracing::info!(user = ?user.name, "account unlocked");
    Ok(())
}

/// Changes the password of `user` after checking the current one and the policy; clears the
/// must-change flag and ends their other sessions (`keep` is the one making the change).
pub async fn change_password(
    app: &App,
    user: UserId,
    current: &str,
    new: &str,
    keep: &str,
) -> Result<()> {
    let row = app.store.user(user).await?.ok_or(Error::Unauthenticated)?;
    let permit = app.limits.passwords.admit()?;
    // Counted like a sign-in, so a stolen session cannot guess the password it lacks.
    let now = app.clock.now();
    let until = now + lockout();
    let wrong = || {
        Error::field(
            "current",
            format!(
                "is not your current password (after {LOCKOUT_AFTER} wrong ones, wait {} minutes)",
                lockout().num_minutes()
            ),
        )
    };
    let Some(attempt) = app
        .store
        .take_login_attempt(user, now, LOCKOUT_AFTER, until, false)
        .await?
    else {
        permit.verify(current, password::DUMMY_HASH).await?;
        return Err(wrong());
    };
    if !permit.verify(current, &row.password_hash).await? {
        if attempt == LOCKOUT_AFTER {
            tracing::warn!(user = ?row.name, "account locked for {} minutes after {LOCKOUT_AFTER} wrong current passwords", lockout().num_minutes());
            audit_sign_in(app, &row.name, None, "account locked", 401).await;
        }
        return Err(wrong());
    }
    app.store.clear_login_failures(user).await?;
    password::check_policy("new", &row.name, new, Some(current))?;
    set_password(app, user, new, false).await?;
    app.store.delete_user_sessions(user, Some(keep)).await?;
    tracing::info!(user = %row.name, "password changed");
    Ok(())
}

fn last_tenant_admin() -> Error {
    Error::Conflict("this is the last TenantAdmin; give the role to another user first".to_string())
}

/// Gives `user` the `roles`, refusing to take TenantAdmin from the last user who has it (checked
/// and changed in one transaction).
pub async fn set_roles(app: &App, user: UserId, roles: &[Role]) -> Result<()> {
    let now = app.clock.now();
    match app
        .store
        .change_keeping(user, Some(roles), Role::TenantAdmin, now)
        .await?
    {
        Kept::Changed => Ok(()),
        Kept::LastHolder => Err(last_tenant_admin()),
        Kept::Missing => Err(Error::NotFound("user")),
    }
}

/// Changes `id` for `by`: gives it `roles` (never taking TenantAdmin from the last holder) and a
/// `password` set by an admin, which the user must change and which ends their sessions. Returns
/// the user as changed.
pub async fn update_user(
    app: &App,
    by: &super::Caller,
    id: UserId,
    roles: Option<&[Role]>,
    password: Option<&str>,
) -> Result<UserRow> {
    let user = app.store.user(id).await?.ok_or(Error::NotFound("user"))?;
    if let Some(new) = password {
        password::check_policy("password", &user.name, new, None)?;
    }
    if let Some(roles) = roles {
        set_roles(app, user.id, roles).await?;
    }
    if let Some(new) = password {
        set_password(app, user.id, new, true).await?;
        app.store.delete_user_sessions(user.id, None).await?;
    }
    tracing::info!(by = %by.name, user = %user.name, "user updated");
    app.store
        .user(user.id)
        .await?
        .ok_or(Error::NotFound("user"))
}

/// Adds the TenantAdmin role to `user_name`. For `rehome admin grant`, the way back when no
/// TenantAdmin is left who could give it.
pub async fn grant_tenant_admin(app: &App, user_name: &str) -> Result<()> {
    let user = app
        .store
        .user_by_name(user_name)
        .await?
        .ok_or(Error::NotFound("user"))?;
    let mut roles = user.roles.clone();
    roles.push(Role::TenantAdmin);
    set_roles(app, user.id, &roles).await?;
    tracing::info!(user = ?user.name, "TenantAdmin role granted on the server's command line");
    Ok(())
}

/// Deletes `id` for `by` (who must be allowed to edit users): never oneself, never the last
/// tenant administrator.
pub async fn delete_user(app: &App, by: &super::Caller, id: UserId) -> Result<()> {
    by.require(super::Area::Tenant, super::Access::Edit)?;
    if id == by.user {
        return Err(Error::Conflict(
            "you cannot delete yourself; ask another TenantAdmin".to_string(),
        ));
    }
    let user = app.store.user(id).await?.ok_or(Error::NotFound("user"))?;
    let now = app.clock.now();
    match app
        .store
        .change_keeping(id, None, Role::TenantAdmin, now)
        .await?
    {
        Kept::Changed => {}
        Kept::LastHolder => return Err(last_tenant_admin()),
        Kept::Missing => return Err(Error::NotFound("user")),
    }
    tracing::info!(by = %by.name, user = %user.name, "user deleted");
    Ok(())
}
