//! Download Agent: the agent builds the server was started with (`--agent-downloads`), the
//! command lines that install the MSI with a PSK through Intune, SCCM and Group Policy, and the
//! server's URL as a QR code drawn on the server.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::Viewer;
use crate::auth::{Access, Area};
use crate::{App, Error, Result};

/// One file offered for download.
struct Build {
    name: String,
    bytes: u64,
}

/// Whether `name` is a plain file name: no folder, nothing hidden, nothing that needs quoting.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 200
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// The files of the downloads folder, by name; none without the folder.
fn builds(app: &App) -> Result<Vec<Build>> {
    let Some(folder) = &app.settings.agent_downloads else {
        return Ok(Vec::new());
    };
    let entries = std::fs::read_dir(folder).map_err(|e| {
        Error::Internal(format!(
            "cannot read the agent downloads folder {}: {e}",
            folder.display()
        ))
    })?;
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        match entry.metadata() {
            Ok(meta) if meta.is_file() && plain_name(&name) => out.push(Build {
                name,
                bytes: meta.len(),
            }),
            _ => {}
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The URL devices reach this server at, as the browser reached it.
fn server_url(app: &App, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("rehome.contoso.com:5000");
    let scheme = if app.settings.tls { "https" } else { "http" };
    format!("{scheme}://{host}")
}

/// The install command lines for each way of deploying the MSI.
fn command_lines(url: &str, msi: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "Intune (Windows app (Win32), install command)",
            format!("msiexec /i {msi} URL={url} PSK=<PSK> /qn"),
        ),
        (
            "SCCM / MECM (application deployment type, run as system)",
            format!(
                "msiexec /i \"{msi}\" URL={url} PSK=<PSK> /qn /l*v \"%WINDIR%\\Temp\\rehome-agent-msi.log\""
            ),
        ),
        (
            "Group Policy (computer startup script)",
            format!("msiexec /i \"\\\\contoso.com\\NETLOGON\\rehome\\{msi}\" URL={url} PSK=<PSK> /qn"),
        ),
        (
            "By hand, as an administrator",
            format!("rehome-agent.exe install --server {url} --psk <PSK>"),
        ),
    ]
}

/// `GET /download`.
pub async fn page(State(app): State<App>, viewer: Viewer, headers: HeaderMap) -> Result<Response> {
    if !viewer.may(Area::Agent, Access::Read) {
        return Ok(viewer.agent_page("Download agent", html! {}));
    }
    let builds = builds(&app)?;
    let url = server_url(&app, &headers);
    let msi = builds
        .iter()
        .find(|b| b.name.ends_with(".msi"))
        .map_or("rehome-agent.msi", |b| b.name.as_str());
    let body = html! {
        h1 { "Download agent" }
        h2 { "Agent builds" }
        @if builds.is_empty() {
            p.notice { "No agent build is offered: start the server with " code { "--agent-downloads FOLDER" } " naming the folder that holds " code { "rehome-agent.msi" } " and the agent executables." }
        } @else {
            table {
                thead { tr { th { "File" } th { "Size" } } }
                tbody {
                    @for b in &builds {
                        tr {
                            td { a href=(format!("/download/files/{}", b.name)) download { (b.name) } }
                            td { (format!("{:.1} MB", b.bytes as f64 / 1_000_000.0)) }
                        }
                    }
                }
            }
        }
        h2 { "Server URL" }
        p { "Devices register at " code { (url) } ". Scan it from a device to check it is reachable." }
        (super::qr::svg(&url, 160, &format!("QR code of {url}")))
        h2 { "Install with a PSK" }
        p.muted { "Replace " code { "<PSK>" } " with a pre-shared key's value, which is shown once when it is created (" a href="/psks" { "PSKs" } "). The MSI keeps the PSK out of its logs." }
        @for (how, line) in command_lines(&url, msi) {
            h3 { (how) }
            pre.command { code { (line) } }
        }
    };
    Ok(viewer.agent_page("Download agent", body))
}

/// `GET /download/files/{name}`: one file of the downloads folder.
pub async fn file(
    State(app): State<App>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> Result<Response> {
    viewer.caller.require(Area::Agent, Access::Read)?;
    let folder = app
        .settings
        .agent_downloads
        .as_ref()
        .ok_or(Error::NotFound("agent build"))?;
    if !plain_name(&name) {
        return Err(Error::NotFound("agent build"));
    }
    let path = folder.join(&name);
    if !path.is_file() {
        return Err(Error::NotFound("agent build"));
    }
    // Agent builds are a few megabytes: read whole, they answer in one go.
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|_| Error::NotFound("agent build"))?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from(bytes),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::{command_lines, plain_name};

    #[test]
    fn only_plain_file_names_are_served() {
        assert!(plain_name("rehome-agent.msi"));
        assert!(plain_name("rehome-agent_x64.exe"));
        assert!(!plain_name("../rehome.db"));
        assert!(!plain_name(".secret"));
        assert!(!plain_name("a/b"));
        assert!(!plain_name("a\\b"));
        assert!(!plain_name(""));
    }

    #[test]
    fn every_command_line_names_the_server_and_the_psk() {
        for (_, line) in command_lines("http://rehome.test:5000", "rehome-agent.msi") {
            assert!(line.contains("http://rehome.test:5000"), "{line}");
            assert!(line.contains("<PSK>"), "{line}");
        }
    }
}
