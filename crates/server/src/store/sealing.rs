//! Start-up care of the sealed columns: refuse a secret key that cannot open what is stored (a
//! wrong key must never re-seal or lose data), and seal the clear values older versions stored.

use sqlx::Row;

use super::Store;
use crate::secrets::is_sealed;
use crate::{Error, Result};

/// The sealed columns: table, key columns that name the row, the purpose in the associated
/// data, and the column (NULL means no secret). A value is sealed for `<purpose>:<key>[:<key>…]`.
const SEALED: &[(&str, &[&str], &str, &str)] = &[
    ("psks", &["id"], "psk", "secret"),
    ("agent_certificates", &["id"], "agent-certificate", "secret"),
    ("runbook_secrets", &["runbook", "name"], "runbook", "secret"),
    ("bulk_tokens", &["id"], "bulk-token", "secret"),
    ("enrollment_flows", &["id"], "enrollment-flow", "secret"),
    (
        "provisioning_packages",
        &["directory"],
        "provisioning-package",
        "secret",
    ),
    (
        "directories",
        &["id"],
        "directory-connection",
        "connection_secret",
    ),
];

/// The associated data of a PSK's value.
pub fn psk_aad(id: &str) -> String {
    format!("psk:{}", id)
}

/// The associated data of an agent certificate's secret keys.
pub fn certificate_aad(id: &str) -> String {
    format!("agent-certificate:{}", id)
}

/// The associated data of one of a runbook's passwords.
pub fn runbook_aad(runbook: &str, name: &str) -> String {
    format!("runbook:{}:{}", runbook, name)
}

/// The associated data of a bulk enrollment token.
pub fn bulk_token_aad(id: &str) -> String {
    format!("bulk-token:{}", id)
}

/// The associated data of a directory's provisioning package.
pub fn provisioning_package_aad(directory: &str) -> String {
    format!("provisioning-package:{}", directory)
}

/// The associated data of a directory's bind password or client secret.
pub fn connection_aad(directory: &str) -> String {
    format!("directory-connection:{}", directory)
}

/// The associated data of what a sign-in under way keeps secret.
pub fn enrollment_flow_aad(id: &str) -> String {
    format!("enrollment-flow:{}", id)
}

fn aad(purpose: &str, keys: &[String]) -> String {
    format!("{}:{}", purpose, keys.join(":"))
}

impl Store {
    /// Fails when a sealed value does not open with this key, naming what to do.
    pub(super) async fn check_secret_key(&self) -> Result<()> {
        for (table, keys, purpose, column) in SEALED {
            let sql = format!(
                "SELECT {}, {} AS secret FROM {} WHERE {} IS NOT NULL",
                keys.join(", "),
                column,
                table,
                column
            );
            for row in sqlx::query(&sql).fetch_all(self.pool()).await? {
                let secret: String = row.try_get("secret")?;
                if !is_sealed(&secret) {
                    continue;
                }
                let names = keys
                    .iter()
                    .map(|k| row.try_get::<String, _>(*k))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                if self.secrets().open(&aad(purpose, &names), &secret).is_err() {
                    return Err(Error::Internal(format!(
                        "the secret key cannot open the secrets already in this database ({}): \
                         start the server with the key that sealed them (REHOME_SECRET_KEY, or \
                         the file secret.key in the data directory; every replica needs the same \
                         key). Nothing was changed.",
                        table
                    )));
                }
            }
        }
        Ok(())
    }

    /// Seals, in place, every secret still stored in clear. Each update only applies if the row
    /// still holds the clear value, so replicas starting together do not seal twice.
    pub(super) async fn seal_clear_secrets(&self) -> Result<()> {
        let mut sealed = 0;
        for (table, keys, purpose, column) in SEALED {
            let sql = format!(
                "SELECT {}, {} AS secret FROM {} WHERE {} IS NOT NULL",
                keys.join(", "),
                column,
                table,
                column
            );
            for row in sqlx::query(&sql).fetch_all(self.pool()).await? {
                let secret: String = row.try_get("secret")?;
                if is_sealed(&secret) {
                    continue;
                }
                let names = keys
                    .iter()
                    .map(|k| row.try_get::<String, _>(*k))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                let value = self.secrets().seal_str(&aad(purpose, &names), &secret)?;
                let filter = keys
                    .iter()
                    .enumerate()
                    .map(|(i, k)| format!("{} = ${}", k, i + 3))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                let update = format!(
                    "UPDATE {} SET {} = $1 WHERE {} = $2 AND {}",
                    table, column, column, filter
                );
                let mut query = sqlx::query(&update).bind(value).bind(secret);
                for name in names {
                    query = query.bind(name);
                }
                query.execute(self.pool()).await?;
                sealed += 1;
            }
        }
        if sealed > 0 {
            tracing::info!(
                count = sealed,
                "sealed secrets stored in clear by an older version"
            );
        }
        Ok(())
    }
}
