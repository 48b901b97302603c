//! Directories: the [`DirectorySource`] trait with its implementations, import into the store,
//! and matching source users and groups to target ones into the translation table.

pub mod cache;
pub mod connection;
pub mod device_translation;
pub mod export;
pub mod file;
pub mod graph;
pub mod guard;
mod import;
pub mod import_kinds;
pub mod ldap;
mod match_index;
pub mod matching;
mod pairs;
pub mod profile;
pub mod report;
pub mod schedule;
mod source;

use model::directory::Directory;

pub use crate::store::directories::ImportKind;
pub use import::{import, import_file, import_with, ImportMode, ImportSummary};
pub use matching::MatchSummary;
pub use pairs::{
    explain_match, match_pair, match_users, pair_profile, set_pair_profile, translatable, what_if,
};
pub use source::{BoxFuture, Changes, DirectorySource, PagedSnapshot, Pages, Snapshot};

use crate::{App, Result};

/// Adds a directory after checking its fields; its id is the one given.
pub async fn create(app: &App, directory: Directory) -> Result<Directory> {
    directory.validate()?;
    let directory = Directory {
        name: directory.name.trim().to_string(),
        ..directory
    };
    app.store
        .insert_directory(&directory, app.clock.now())
        .await?;
    Ok(directory)
}
