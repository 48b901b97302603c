//! The transport to the server for a URL.

use agent::client::{HttpTransport, Transport};
use agent::{Error, Result};

/// The transport for `url`: plain HTTP (the envelope keeps the traffic confidential and
/// tamper-proof), or HTTPS.
pub fn for_url(url: &str) -> Result<Box<dyn Transport>> {
    if url.starts_with("http://") {
        return Ok(Box::new(HttpTransport::new(url)));
    }
    Err(Error::Config(format!(
        "server URL {:?}: this agent speaks http:// only; give it the server's http:// address (e.g. port 5000): its messages are signed and encrypted end to end",
        url
    )))
}
