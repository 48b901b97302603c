//! Import object types: which kinds of object (users, groups, computers, contacts) the imports
//! of a directory keep. Objects of other kinds are left out of what is read, so a full import
//! deletes those an earlier import kept.

use model::directory::{DirectoryObject, ObjectKind};
use model::ids::DirectoryId;

use crate::auth::{Access, Area, Caller};
use crate::{App, Error, Result};

/// Every kind, in the order forms show them.
pub const ALL: [ObjectKind; 4] = [
    ObjectKind::User,
    ObjectKind::Group,
    ObjectKind::Computer,
    ObjectKind::Contact,
];

/// The kinds `directory`'s imports keep: every kind until they are set.
pub async fn import_kinds(app: &App, directory: DirectoryId) -> Result<Vec<ObjectKind>> {
    Ok(match app.store.directory_import_kinds(directory).await? {
        None => ALL.to_vec(),
        Some(text) => text
            .split_whitespace()
            .map(|k| {
                ObjectKind::parse(k).ok_or_else(|| {
                    Error::Internal(format!("stored import object type {k:?} is not understood"))
                })
            })
            .collect::<Result<Vec<_>>>()?,
    })
}

/// Sets the kinds `directory`'s imports keep, as `caller` asks (Sync edit). At least one kind;
/// nothing is stored when refused.
pub async fn set_import_kinds(
    app: &App,
    caller: &Caller,
    directory: DirectoryId,
    kinds: &[ObjectKind],
) -> Result<Vec<ObjectKind>> {
    caller.require(Area::Sync, Access::Edit)?;
    let kept: Vec<ObjectKind> = ALL.into_iter().filter(|k| kinds.contains(k)).collect();
    if kept.is_empty() {
        return Err(Error::field(
            "kinds",
            "choose at least one object type; a migration needs users, groups and computers",
        ));
    }
    let text: Vec<&str> = kept.iter().map(|k| k.as_str()).collect();
    app.store
        .set_directory_import_kinds(directory, &text.join(" "))
        .await?;
    tracing::info!(%directory, kinds = %text.join(" "), "import object types set");
    Ok(kept)
}

/// Drops the objects of kinds not in `kinds`.
pub fn keep_kinds(objects: &mut Vec<DirectoryObject>, kinds: &[ObjectKind]) {
    objects.retain(|o| kinds.contains(&o.kind));
}
