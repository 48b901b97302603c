//! Users, their roles and their sessions (`0002_auth.sql`). Plain rows in and out; the rules
//! (hashing, expiry, lockout) live in `crate::auth`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use model::ids::UserId;
use sqlx::Row;

use super::{from_ms, parse_text, to_ms, Store};
use crate::auth::Role;
use crate::{Error, Result};

/// A user as stored, with the password hash; never serialized, and its Debug output leaves the
/// hash out.
#[derive(Clone)]
pub struct UserRow {
    /// The user's id.
    pub id: UserId,
    /// Login name as typed at creation.
    pub name: String,
    /// Argon2 PHC string.
    pub password_hash: String,
    /// Whether the next thing they must do is change their password.
    pub must_change_password: bool,
    /// Consecutive failed logins.
    pub failed_logins: i64,
    /// No sign-in before this instant; `None` when the account was never locked or was unlocked.
    pub locked_until: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Roles, in [`Role::ALL`] order.
    pub roles: Vec<Role>,
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("roles", &self.roles)
            .field("must_change_password", &self.must_change_password)
            .field("failed_logins", &self.failed_logins)
            .field("locked_until", &self.locked_until)
            .finish_non_exhaustive()
    }
}

/// What a session was issued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// A browser session, by cookie, with a CSRF token and an idle expiry.
    Console,
    /// An API client, by `Authorization: Bearer`, with a fixed expiry.
    Api,
}

impl SessionKind {
    /// The stable name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Console => "console",
            SessionKind::Api => "api",
        }
    }

    /// The kind named `text`.
    pub fn parse(text: &str) -> Option<SessionKind> {
        match text {
            "console" => Some(SessionKind::Console),
            "api" => Some(SessionKind::Api),
            _ => None,
        }
    }
}

/// A console session or API token as stored (only the hash of the token).
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    /// Whose it is.
    pub user_id: UserId,
    /// A console session or an API token.
    pub kind: SessionKind,
    /// The CSRF value of a console session; empty for API tokens.
    pub csrf_token: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it was last used (written at most once a minute).
    pub last_used_at: DateTime<Utc>,
    /// Not valid at or after this instant.
    pub expires_at: DateTime<Utc>,
}

const USER_COLUMNS: &str =
    "id, name, password_hash, must_change_password, failed_logins, locked_until, created_at, updated_at";

/// The stored `locked_until` of an account that is not locked.
const NOT_LOCKED: i64 = 0;

fn user_from_row(row: &sqlx::any::AnyRow) -> Result<UserRow> {
    let locked_until: i64 = row.try_get("locked_until")?;
    Ok(UserRow {
        id: parse_text("user id", &row.try_get::<String, _>("id")?)?,
        name: row.try_get("name")?,
        password_hash: row.try_get("password_hash")?,
        must_change_password: row.try_get::<i64, _>("must_change_password")? != 0,
        failed_logins: row.try_get("failed_logins")?,
        locked_until: (locked_until != NOT_LOCKED).then(|| from_ms(locked_until)),
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
        roles: Vec::new(),
    })
}

fn sort_roles(mut roles: Vec<Role>) -> Vec<Role> {
    roles.sort_by_key(|r| Role::ALL.iter().position(|x| x == r));
    roles.dedup();
    roles
}

/// Maps a unique-key violation to a conflict the caller can act on.
fn conflict_on_duplicate(e: sqlx::Error, what: &str) -> Error {
    match &e {
        sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation => {
            Error::Conflict(format!("{what} already exists; choose another name"))
        }
        _ => Error::Store(e),
    }
}

/// What a role change or deletion guarded by [`Store::change_keeping`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// Done.
    Changed,
    /// Refused: it would have left no user with the kept role.
    LastHolder,
    /// There is no such user.
    Missing,
}

impl Store {
    /// Inserts a user with roles. A taken name (case-insensitive) is a conflict.
    pub async fn insert_user(&self, user: &UserRow) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO users (id, name, password_hash, must_change_password, failed_logins, locked_until, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(user.id.to_string())
        .bind(&user.name)
        .bind(&user.password_hash)
        .bind(i64::from(user.must_change_password))
        .bind(user.failed_logins)
        .bind(user.locked_until.map_or(NOT_LOCKED, to_ms))
        .bind(to_ms(user.created_at))
        .bind(to_ms(user.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_on_duplicate(e, "a user with this name"))?;
        for role in sort_roles(user.roles.clone()) {
            sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
                .bind(user.id.to_string())
                .bind(role.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn roles_of(&self, id: UserId) -> Result<Vec<Role>> {
        let rows = sqlx::query("SELECT role FROM user_roles WHERE user_id = $1")
            .bind(id.to_string())
            .fetch_all(self.pool())
            .await?;
        let mut roles = Vec::new();
        for row in rows {
            let name: String = row.try_get("role")?;
            // A role this build does not know (written by a newer one) grants nothing.
            roles.extend(Role::parse(&name));
        }
        Ok(sort_roles(roles))
    }

    /// The user of `row`, if any, with its roles.
    async fn with_roles(&self, row: Option<sqlx::any::AnyRow>) -> Result<Option<UserRow>> {
        let Some(row) = row else { return Ok(None) };
        let mut user = user_from_row(&row)?;
        user.roles = self.roles_of(user.id).await?;
        Ok(Some(user))
    }

    /// The user called `name`, compared case-insensitively.
    pub async fn user_by_name(&self, name: &str) -> Result<Option<UserRow>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE lower(name) = lower($1)"
        ))
        .bind(name)
        .fetch_optional(self.pool())
        .await?;
        self.with_roles(row).await
    }

    /// The user with `id`.
    pub async fn user(&self, id: UserId) -> Result<Option<UserRow>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        self.with_roles(row).await
    }

    /// Every user, by name.
    pub async fn users(&self) -> Result<Vec<UserRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY lower(name)"
        ))
        .fetch_all(self.pool())
        .await?;
        let mut roles: HashMap<String, Vec<Role>> = HashMap::new();
        for row in sqlx::query("SELECT user_id, role FROM user_roles")
            .fetch_all(self.pool())
            .await?
        {
            let user: String = row.try_get("user_id")?;
            let role: String = row.try_get("role")?;
            roles.entry(user).or_default().extend(Role::parse(&role));
        }
        rows.iter()
            .map(|row| {
                let mut user = user_from_row(row)?;
                user.roles = sort_roles(roles.remove(&user.id.to_string()).unwrap_or_default());
                Ok(user)
            })
            .collect()
    }

    /// How many users hold `role`.
    pub async fn count_with_role(&self, role: Role) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM user_roles WHERE role = $1")
            .bind(role.as_str())
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }

    /// How many users there are.
    pub async fn count_users(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Replaces the roles of `id` with `roles`, or deletes the user when `roles` is `None`, unless
    /// that would leave nobody holding `keep`. The check and the change are one transaction that
    /// first takes the lock every such change takes, so two admins demoting themselves at the same
    /// moment cannot both succeed.
    pub async fn change_keeping(
        &self,
        id: UserId,
        roles: Option<&[Role]>,
        keep: Role,
        now: DateTime<Utc>,
    ) -> Result<Kept> {
        let mut tx = self.pool().begin().await?;
        match self.backend() {
            super::Backend::Postgres => {
                sqlx::query("SELECT pg_advisory_xact_lock(7201517)")
                    .execute(&mut *tx)
                    .await?;
            }
            // A write as the first statement takes SQLite's one write lock, with a fresh snapshot.
            super::Backend::Sqlite => {
                sqlx::query("UPDATE users SET updated_at = updated_at WHERE id = $1")
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let held: Vec<String> = sqlx::query("SELECT role FROM user_roles WHERE user_id = $1")
            .bind(id.to_string())
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get("role"))
            .collect::<std::result::Result<_, _>>()?;
        let exists = sqlx::query("SELECT id FROM users WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            return Ok(Kept::Missing);
        }
        let loses = held.iter().any(|r| r == keep.as_str())
            && !roles.is_some_and(|roles| roles.contains(&keep));
        if loses {
            let others: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM user_roles WHERE role = $1 AND user_id <> $2",
            )
            .bind(keep.as_str())
            .bind(id.to_string())
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
            if others == 0 {
                return Ok(Kept::LastHolder);
            }
        }
        sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        match roles {
            Some(roles) => {
                for role in sort_roles(roles.to_vec()) {
                    sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
                        .bind(id.to_string())
                        .bind(role.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query("UPDATE users SET updated_at = $1 WHERE id = $2")
                    .bind(to_ms(now))
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            None => {
                for table in ["user_sessions", "user_login_addresses"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
                        .bind(id.to_string())
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query("DELETE FROM users WHERE id = $1")
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(Kept::Changed)
    }

    /// Sets a new password hash, the must-change flag, and clears any lockout.
    pub async fn set_password(
        &self,
        id: UserId,
        hash: &str,
        must_change: bool,
        now: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE users SET password_hash = $1, must_change_password = $2, failed_logins = 0, locked_until = 0, updated_at = $3 WHERE id = $4",
        )
        .bind(hash)
        .bind(i64::from(must_change))
        .bind(to_ms(now))
        .bind(id.to_string())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Takes one sign-in attempt for `id` at `now`, counted before the password is checked, in one
    /// statement that decides: it is granted only while the account is not locked, and the attempt
    /// that makes `limit` locks the account until `until` at once. So parallel guesses cannot get
    /// more than `limit` passwords checked per lockout period, and attempts cut short (a crash
    /// mid-check) never leave the account locked past `until`: once a lock has run out the count
    /// starts again. With `bypass_lock` (an address the user signed in from before) the attempt is
    /// granted and counted whatever the lock. Returns the new count, or `None` when refused.
    pub async fn take_login_attempt(
        &self,
        id: UserId,
        now: DateTime<Utc>,
        limit: i64,
        until: DateTime<Utc>,
        bypass_lock: bool,
    ) -> Result<Option<i64>> {
        let row = sqlx::query(
            "UPDATE users SET \
               failed_logins = CASE WHEN failed_logins >= $4 AND locked_until <= $3 THEN 1 ELSE failed_logins + 1 END, \
               locked_until = CASE \
                 WHEN (CASE WHEN failed_logins >= $4 AND locked_until <= $3 THEN 1 ELSE failed_logins + 1 END) >= $4 \
                   AND locked_until <= $3 THEN $5 \
                 ELSE locked_until END \
             WHERE id = $1 AND ($2 = 1 OR locked_until <= $3) \
             RETURNING failed_logins",
        )
        .bind(id.to_string())
        .bind(i64::from(bypass_lock))
        .bind(to_ms(now))
        .bind(limit)
        .bind(to_ms(until))
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| r.try_get("failed_logins").map_err(Error::from))
            .transpose()
    }

    /// Clears the failed-sign-in count and any lockout of `id`.
    pub async fn clear_login_failures(&self, id: UserId) -> Result<()> {
        sqlx::query("UPDATE users SET failed_logins = 0, locked_until = $1 WHERE id = $2")
            .bind(NOT_LOCKED)
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Remembers that `id` signed in with the right password from `address` at `now`.
    pub async fn remember_login_address(
        &self,
        id: UserId,
        address: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO user_login_addresses (user_id, address, last_success) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, address) DO UPDATE SET last_success = excluded.last_success",
        )
        .bind(id.to_string())
        .bind(address)
        .bind(to_ms(now))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Whether `id` signed in with the right password from `address` at or after `since`.
    pub async fn is_known_login_address(
        &self,
        id: UserId,
        address: &str,
        since: DateTime<Utc>,
    ) -> Result<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM user_login_addresses WHERE user_id = $1 AND address = $2 AND last_success >= $3",
        )
        .bind(id.to_string())
        .bind(address)
        .bind(to_ms(since))
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// Stores a new session.
    pub async fn insert_session(&self, session: &SessionRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO user_sessions (token_hash, user_id, kind, csrf_token, created_at, last_used_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&session.token_hash)
        .bind(session.user_id.to_string())
        .bind(session.kind.as_str())
        .bind(&session.csrf_token)
        .bind(to_ms(session.created_at))
        .bind(to_ms(session.last_used_at))
        .bind(to_ms(session.expires_at))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The session whose token hashes to `token_hash`, expired or not.
    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionRow>> {
        let row = sqlx::query(
            "SELECT token_hash, user_id, kind, csrf_token, created_at, last_used_at, expires_at FROM user_sessions WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let kind: String = row.try_get("kind")?;
        Ok(Some(SessionRow {
            token_hash: row.try_get("token_hash")?,
            user_id: parse_text("session user", &row.try_get::<String, _>("user_id")?)?,
            kind: SessionKind::parse(&kind).ok_or_else(|| {
                Error::Internal(format!("stored session kind {kind:?} is not understood"))
            })?,
            csrf_token: row.try_get("csrf_token")?,
            created_at: from_ms(row.try_get("created_at")?),
            last_used_at: from_ms(row.try_get("last_used_at")?),
            expires_at: from_ms(row.try_get("expires_at")?),
        }))
    }

    /// Moves a session's last use and expiry forward.
    pub async fn touch_session(
        &self,
        token_hash: &str,
        last_used_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE user_sessions SET last_used_at = $1, expires_at = $2 WHERE token_hash = $3",
        )
        .bind(to_ms(last_used_at))
        .bind(to_ms(expires_at))
        .bind(token_hash)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Deletes one session.
    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM user_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Deletes every session of `user`, except `keep` when given.
    pub async fn delete_user_sessions(&self, user: UserId, keep: Option<&str>) -> Result<()> {
        sqlx::query("DELETE FROM user_sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(user.to_string())
            .bind(keep.unwrap_or(""))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Deletes sessions that expired before `now`; returns how many.
    pub async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM user_sessions WHERE expires_at <= $1")
            .bind(to_ms(now))
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::SessionKind;

    #[test]
    fn session_kinds_keep_their_stored_names() {
        for kind in [SessionKind::Console, SessionKind::Api] {
            assert_eq!(SessionKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(SessionKind::Console.as_str(), "console");
        assert_eq!(SessionKind::Api.as_str(), "api");
        assert_eq!(SessionKind::parse("Console"), None);
    }
}
