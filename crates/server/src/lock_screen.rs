//! Lock-screen images: the picture a runbook's Startup shows on the lock screen while it runs.
//! An upload is checked (a PNG, JPEG or BMP by its first bytes, at most [`MAX_IMAGE_BYTES`]) and
//! stored once by its SHA-256; the agent fetches the one its runbook names, by that hash.

use model::runbook::{LockScreenImage, Runbook};

use crate::packages::{used_by, view, PackageView};
use crate::store::packages::{PackageRow, StoredFile};
use crate::{App, Error, Result};

/// Largest image accepted: a full-HD photo is well under it.
pub const MAX_IMAGE_BYTES: usize = 10 * 1024 * 1024;

/// The image formats Windows shows on the lock screen, by their first bytes and extensions.
const FORMATS: [(&[u8], &[&str]); 3] = [
    (b"\x89PNG\r\n\x1a\n", &[".png"]),
    (b"\xff\xd8\xff", &[".jpg", ".jpeg"]),
    (b"BM", &[".bmp"]),
];

/// Checks an uploaded image and its file name; the error names the field and what to fix.
pub fn validate(name: &str, bytes: &[u8]) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 255 || name.contains(['/', '\\']) {
        return Err(Error::field(
            "name",
            "give the image's file name without folders, 1 to 255 characters",
        ));
    }
    let lower = name.to_ascii_lowercase();
    let format = FORMATS
        .iter()
        .find(|(_, exts)| exts.iter().any(|ext| lower.ends_with(ext)))
        .ok_or_else(|| Error::field("name", "a lock-screen image is a .png, .jpg or .bmp file"))?;
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(Error::field(
            "body",
            format!(
                "the image is larger than {} MiB: make it smaller",
                MAX_IMAGE_BYTES / (1024 * 1024)
            ),
        ));
    }
    if !bytes.starts_with(format.0) {
        return Err(Error::field(
            "body",
            format!("the file is not the image its name says ({})", name),
        ));
    }
    Ok(name.to_string())
}

/// The hash of the custom image `runbook` shows, if any.
fn image_hash(runbook: &Runbook) -> Vec<&str> {
    match &runbook.startup.lock_screen_image {
        LockScreenImage::Custom { sha256, .. } => vec![sha256.as_str()],
        LockScreenImage::None | LockScreenImage::Builtin => Vec::new(),
    }
}

/// Checks and stores an uploaded image. The same bytes uploaded again are stored once: the
/// answer is the stored image, and `true` only the first time.
pub async fn upload(app: &App, name: &str, bytes: Vec<u8>) -> Result<(PackageView, bool)> {
    let name = validate(name, &bytes)?;
    let sha256 = model::protocol::sha256_hex(&bytes);
    let row = PackageRow {
        sha256: sha256.clone(),
        name,
        size: bytes.len() as u64,
        uploaded_at: app.clock.now(),
    };
    let created = app
        .store
        .insert_file(StoredFile::LockScreenImage, &row, &bytes)
        .await?;
    let stored = list(app)
        .await?
        .into_iter()
        .find(|p| p.sha256 == sha256)
        .ok_or(Error::NotFound("lock-screen image"))?;
    Ok((stored, created))
}

/// Every stored image with the runbooks that show it.
pub async fn list(app: &App) -> Result<Vec<PackageView>> {
    let runbooks = app.store.runbooks().await?;
    Ok(app
        .store
        .files(StoredFile::LockScreenImage)
        .await?
        .into_iter()
        .map(|row| view(row, &runbooks, image_hash))
        .collect())
}

/// Deletes an image no runbook shows.
pub async fn delete(app: &App, sha256: &str) -> Result<()> {
    let sha256 = sha256.to_ascii_lowercase();
    let users = used_by(&app.store.runbooks().await?, &sha256, image_hash);
    if let Some(first) = users.first() {
        return Err(Error::Conflict(format!(
            "runbook {:?} shows this image on the lock screen; choose another image there first",
            first.name
        )));
    }
    if app
        .store
        .delete_file(StoredFile::LockScreenImage, &sha256)
        .await?
    {
        Ok(())
    } else {
        Err(Error::NotFound("lock-screen image"))
    }
}

/// The bytes of the image `runbook` shows, when it names `sha256` and the image is stored.
pub async fn image_of(app: &App, runbook: &Runbook, sha256: &str) -> Result<Option<Vec<u8>>> {
    if !image_hash(runbook).contains(&sha256) {
        return Ok(None);
    }
    app.store
        .file_bytes(StoredFile::LockScreenImage, sha256)
        .await
}

/// A field error when `runbook` shows an image that is not stored.
pub async fn check_runbook_image(
    app: &App,
    runbook: &Runbook,
) -> Result<Option<model::FieldError>> {
    for sha256 in image_hash(runbook) {
        if !app
            .store
            .has_file(StoredFile::LockScreenImage, sha256)
            .await?
        {
            return Ok(Some(model::FieldError::new(
                "startup.lock_screen_image.sha256",
                "no lock-screen image with this hash is stored: upload it first",
            )));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_images_whose_bytes_match_their_name_are_accepted() {
        assert!(validate("a.png", b"\x89PNG\r\n\x1a\nrest").is_ok());
        assert!(validate("a.JPG", b"\xff\xd8\xff\xe0rest").is_ok());
        assert!(validate("a.bmp", b"BMrest").is_ok());
        for (name, bytes) in [
            ("a.png", &b"\xff\xd8\xff\xe0"[..]),
            ("a.gif", b"GIF89a"),
            ("dir/a.png", b"\x89PNG\r\n\x1a\n"),
            ("", b"\x89PNG\r\n\x1a\n"),
        ] {
            assert!(validate(name, bytes).is_err(), "{} refused", name);
        }
        let big = vec![b'B'; MAX_IMAGE_BYTES + 1];
        match validate("big.bmp", &big) {
            Err(Error::Invalid(fields)) => assert_eq!(fields[0].field, "body"),
            other => panic!("refused naming the body, not {:?}", other),
        }
    }
}
