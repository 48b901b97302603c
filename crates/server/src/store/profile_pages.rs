//! The User Profile Report read by key: every profile the agents harvested, in computer and
//! folder order, a page after or before a row's key however deep it lies. The user filter finds
//! the start of a folder name or a SID through an index on each (`console_indexes/`), so it
//! reads only the profiles it keeps; a filter that starts with a wildcard reads them all.

use tokio::sync::mpsc::Receiver;

use super::reports::{ProfileFilter, ProfileRow};
use super::seek::{KeyColumn, Order, Seek, SeekPage, COUNT_CAP};
use super::starts::{bounds, lowered, starts_with};
use super::{Backend, Store};
use crate::Result;

/// The report's order: computer, agent, folder and SID; the first two lead, as the agents'
/// `agents_by_name` index answers them.
const ORDER: Order = Order {
    columns: &[
        KeyColumn("a.computer_name", false),
        KeyColumn("a.id", false),
        KeyColumn("p.path", false),
        KeyColumn("p.sid", false),
    ],
    descending: false,
    lead: 2,
};

/// A profile's user in the translation table.
const USER: &str = "\
     (SELECT MIN(t.source_name) FROM translations t WHERE t.source_sid = p.sid) AS user_name, \
     (SELECT MIN(t.source_upn) FROM translations t WHERE t.source_sid = p.sid) AS user_upn";

const COLUMNS: &str = "p.agent, a.computer_name, a.directory, p.sid, p.path, p.last_used";

/// A profile's folder name (the path after its last backslash), as the index holds it before
/// it is lower-cased.
fn folder(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "replace(p.path, rtrim(p.path, replace(p.path, '\\', '')), '')",
        Backend::Postgres => "regexp_replace(p.path, '^.*\\\\', '')",
    }
}

/// The user filter's pattern lower-cased and the text before its first wildcard.
fn user_start(filter: &ProfileFilter, backend: Backend) -> (String, String) {
    let text = filter.user.as_deref().map(str::trim).unwrap_or_default();
    let text = lowered(text, backend);
    let start = text
        .split(['*', '%'])
        .next()
        .unwrap_or_default()
        .to_string();
    (text, start)
}

impl Store {
    /// `FROM … WHERE …` of the profiles `filter` keeps, with the values of its placeholders:
    /// the profiles the user filter's start finds first, unless `broad` (they are too many to
    /// order), when the agents are walked in the report's order.
    fn profile_where(&self, filter: &ProfileFilter, broad: bool) -> (String, Vec<String>) {
        let backend = self.backend();
        let (text, start) = user_start(filter, backend);
        let like = if text.is_empty() {
            String::new()
        } else {
            super::fleet_events::like(&text, false)
        };
        let (lo, hi) = bounds(&start);
        let mut binds = vec![
            filter.directory.map(|d| d.to_string()).unwrap_or_default(),
            super::reports::pattern(&filter.computer),
            like,
            lo,
            hi,
        ];
        let common = "($1 = '' OR a.directory = $1) \
             AND ($2 = '' OR LOWER(a.computer_name) LIKE LOWER($2) ESCAPE '!')";
        let folder = folder(backend);
        if start.is_empty() || broad {
            // No start to look up (or one too common to gather first): every profile is read (after the agents, in their order).
            let user = format!(
                "($3 = '' OR LOWER({folder}) LIKE $3 ESCAPE '!' OR LOWER(p.sid) LIKE $3 ESCAPE '!')"
            );
            let from = self.agents_first(&format!(
                "FROM agents a {{join}} harvested_profiles p ON p.agent = a.id \
                 WHERE {common} AND {user}"
            ));
            binds.truncate(3);
            return (from, binds);
        }
        // The profiles whose folder or SID starts so, each range from its index; then their
        // agents.
        let join = match backend {
            Backend::Sqlite => "CROSS JOIN",
            Backend::Postgres => "JOIN",
        };
        let from = format!(
            "FROM harvested_profiles p {join} agents a ON a.id = p.agent WHERE {common} \
             AND (({} AND LOWER({folder}) LIKE $3 ESCAPE '!') \
             OR ({} AND LOWER(p.sid) LIKE $3 ESCAPE '!'))",
            starts_with(folder, "$4", "$5", backend),
            starts_with("p.sid", "$4", "$5", backend),
        );
        (from, binds)
    }

    /// How many harvested profiles `filter` keeps.
    pub async fn profile_report_count(&self, filter: &ProfileFilter) -> Result<u64> {
        // Without a filter every profile counts, and the join is not needed to say how many.
        if filter.directory.is_none()
            && super::reports::pattern(&filter.computer).is_empty()
            && super::reports::pattern(&filter.user).is_empty()
        {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM harvested_profiles")
                .fetch_one(self.pool())
                .await?;
            return Ok(u64::try_from(n).unwrap_or(0));
        }
        let (from, binds) = self.profile_where(filter, false);
        self.capped_count(&from, &binds).await
    }

    /// Whether the profiles whose folder or SID starts as `filter`'s user does are more than a
    /// count goes to: then a page walks the agents in order rather than gather them all.
    async fn profiles_broad(&self, filter: &ProfileFilter) -> Result<bool> {
        let (_, start) = user_start(filter, self.backend());
        if start.is_empty() {
            return Ok(false);
        }
        Ok(self.profile_report_count(filter).await? > COUNT_CAP)
    }

    /// The harvested profiles `filter` keeps, by computer and folder, `limit` from `seek`.
    pub async fn profile_seek(
        &self,
        filter: &ProfileFilter,
        seek: Seek,
        limit: u64,
    ) -> Result<SeekPage<ProfileRow>> {
        let broad = self.profiles_broad(filter).await?;
        let (from, binds) = self.profile_where(filter, broad);
        self.seek_of(
            (&format!("{COLUMNS}, {USER}"), &from),
            &binds,
            ORDER,
            seek,
            limit,
            super::reports::profile_row,
        )
        .await
    }

    /// Every harvested profile `filter` keeps, in the report's order, sent as they are read.
    pub async fn profile_rows(
        &self,
        filter: &ProfileFilter,
    ) -> Result<Receiver<Result<ProfileRow>>> {
        let broad = self.profiles_broad(filter).await?;
        let (from, binds) = self.profile_where(filter, broad);
        let order: Vec<&str> = ORDER.columns.iter().map(|c| c.0).collect();
        let sql = format!(
            "SELECT {COLUMNS}, {USER} {from} ORDER BY {}",
            order.join(", ")
        );
        Ok(self.rows_of(sql, binds, super::reports::profile_row))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_filter_looks_up_the_text_before_its_first_wildcard() {
        let filter = |user: &str| ProfileFilter {
            user: Some(user.to_string()),
            ..ProfileFilter::default()
        };
        assert_eq!(
            user_start(&filter(" Ada*ce "), Backend::Sqlite),
            ("ada*ce".to_string(), "ada".to_string())
        );
        assert_eq!(
            user_start(&filter("%ada"), Backend::Postgres),
            ("%ada".to_string(), String::new())
        );
        assert_eq!(
            user_start(&filter("S-1-5-21"), Backend::Sqlite),
            ("s-1-5-21".to_string(), "s-1-5-21".to_string())
        );
    }
}
