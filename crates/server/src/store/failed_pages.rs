//! Failed Communications as the console reads them: every refused source, filtered in SQL and
//! read newest first by key, so a filter looks at all the rows kept and a deep page reads only
//! its own.

use super::communications::{failed_source, FailedSource};
use super::seek::{KeyColumn, Order, Seek, SeekPage};
use super::Store;
use crate::Result;

/// Which refusals: every field optional.
#[derive(Debug, Clone, Default)]
pub struct FailedFilter {
    /// The computer name it gave, with wildcards.
    pub computer: Option<String>,
    /// The address it came from, with wildcards.
    pub address: Option<String>,
    /// The refusal code.
    pub code: Option<String>,
}

impl FailedFilter {
    fn binds(&self) -> Vec<String> {
        vec![
            super::reports::pattern(&self.computer),
            super::reports::pattern(&self.address),
            self.code
                .as_deref()
                .map(str::trim)
                .unwrap_or_default()
                .to_string(),
        ]
    }
}

const WHERE: &str = "FROM failed_communications f \
     WHERE ($1 = '' OR LOWER(COALESCE(f.computer_name, '')) LIKE LOWER($1) ESCAPE '!') \
     AND ($2 = '' OR LOWER(COALESCE(f.remote_address, '')) LIKE LOWER($2) ESCAPE '!') \
     AND ($3 = '' OR f.code = $3)";

/// Newest first; ties by id.
const ORDER: Order = Order {
    columns: &[KeyColumn("f.at", true), KeyColumn("f.id", false)],
    descending: true,
    lead: 0,
};

impl Store {
    /// How many refused sources `filter` keeps.
    pub async fn failed_count(&self, filter: &FailedFilter) -> Result<u64> {
        self.count_of(&format!("SELECT COUNT(*) {WHERE}"), &filter.binds())
            .await
    }

    /// The refused sources `filter` keeps, newest first, `limit` from `seek`.
    pub async fn failed_seek(
        &self,
        filter: &FailedFilter,
        seek: Seek,
        limit: u64,
    ) -> Result<SeekPage<FailedSource>> {
        self.seek_of(
            (
                "f.at, f.computer_name, f.remote_address, f.code, f.message, f.first_at, f.repeats",
                WHERE,
            ),
            &filter.binds(),
            ORDER,
            seek,
            limit,
            failed_source,
        )
        .await
    }

    /// The refusal codes that occur, in order.
    pub async fn failed_codes(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar::<_, String>(
            "SELECT DISTINCT code FROM failed_communications ORDER BY code",
        )
        .fetch_all(self.pool())
        .await?)
    }
}
