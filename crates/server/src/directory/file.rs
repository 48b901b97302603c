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

impl DirectorySource for FileSource {
    fn read(&self) -> BoxFuture<'_, Result<Snapshot>> {
        Box::pin(async move {
            match self {
                FileSource::Document(document) => Ok(snapshot(document.clone())),
                FileSource::Path(path) => {
                    let text = tokio::fs::read_to_string(path).await.map_err(|e| {
                        Error::field("path", format!("cannot read {}: {}", path.display(), e))
                    })?;
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
