//! A directory read from a JSON document: the source behind the demo and the tests, as honest as a
//! real one (it goes through the same import and matching).
//!
//! ```json
//! {"domain": "contoso.test", "domain_sid": "S-1-5-21-1-2-3",
//!  "objects": [{"guid": "…", "kind": "User", "name": "Alice", "sid": "S-1-5-21-1-2-3-1104",
//!               "upn": "alice@contoso.test", "sam_account_name": "alice"}]}
//! ```

use std::path::{Path, PathBuf};

use model::directory::DirectoryObject;
use serde::{Deserialize, Serialize};

use super::{BoxFuture, DirectorySource, Snapshot};
use crate::{Error, Result};

/// The JSON document a [`FileSource`] reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryDocument {
    /// The DNS domain the objects belong to.
    pub domain: String,
    /// The domain SID (AD) or tenant id (Entra).
    #[serde(default)]
    pub domain_sid: Option<String>,
    /// Users, groups and computers.
    #[serde(default)]
    pub objects: Vec<DirectoryObject>,
}

/// Reads a [`DirectoryDocument`] from a file or from memory.
#[derive(Debug, Clone)]
pub enum FileSource {
    /// A file on the server.
    Path(PathBuf),
    /// A document already parsed (e.g. an API request body).
    Document(DirectoryDocument),
}

impl FileSource {
    /// A source reading `path` each time it is read.
    pub fn from_path(path: &Path) -> FileSource {
        FileSource::Path(path.to_path_buf())
    }

    /// A source holding `document`.
    pub fn from_document(document: DirectoryDocument) -> FileSource {
        FileSource::Document(document)
    }
}

fn snapshot(document: DirectoryDocument) -> Snapshot {
    Snapshot {
        domain: document.domain,
        domain_id: document.domain_sid,
        objects: document.objects,
        cursor: None,
    }
}

/// Largest directory document read: a million objects fit well within it.
pub const MAX_DOCUMENT_BYTES: u64 = 512 * 1024 * 1024;

/// Reads a regular file of at most [`MAX_DOCUMENT_BYTES`]; a device, a pipe or a folder is
/// refused before anything is read from it, so `/dev/zero` cannot fill the memory.
async fn read_document(path: &Path) -> Result<String> {
    use tokio::io::AsyncReadExt;
    let cannot =
        |e: std::io::Error| Error::field("path", format!("cannot read {}: {}", path.display(), e));
    let file = tokio::fs::File::open(path).await.map_err(cannot)?;
    let meta = file.metadata().await.map_err(cannot)?;
    if !meta.is_file() {
        return Err(Error::field(
            "path",
            format!("{} is not a regular file", path.display()),
        ));
    }
    if meta.len() > MAX_DOCUMENT_BYTES {
        return Err(Error::field(
            "path",
            format!(
                "{} is larger than the {} MiB a directory document may be",
                path.display(),
                MAX_DOCUMENT_BYTES >> 20
            ),
        ));
    }
    let mut text = String::new();
    // The size may grow after the check: read no more than the cap either way.
    file.take(MAX_DOCUMENT_BYTES + 1)
        .read_to_string(&mut text)
        .await
        .map_err(cannot)?;
    if text.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(Error::field(
            "path",
            format!(
                "{} grew past the size a directory document may be",
                path.display()
            ),
        ));
    }
    Ok(text)
}

impl DirectorySource for FileSource {
    fn read(&self) -> BoxFuture<'_, Result<Snapshot>> {
        Box::pin(async move {
            match self {
                FileSource::Document(document) => Ok(snapshot(document.clone())),
                FileSource::Path(path) => {
                    let text = read_document(path).await?;
                    let document: DirectoryDocument = serde_json::from_str(&text).map_err(|e| {
                        Error::field(
                            "path",
                            format!("{} is not a directory document: {}", path.display(), e),
                        )
                    })?;
                    Ok(snapshot(document))
                }
            }
        })
    }
}
