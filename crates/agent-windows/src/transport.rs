//! The transport to the server for a URL.

use std::path::Path;

use agent::client::{HttpTransport, Transport};
use agent::tls::TlsRoots;
use agent::{Error, Result};

/// The transport for `url`: plain HTTP (the envelope keeps the traffic confidential and
/// tamper-proof), or HTTPS trusting the public web's roots, the machine's trusted roots (the
/// Windows certificate store) and the CAs of `ca_file` (PEM), e.g. the company CA of a reverse
/// proxy.
pub fn for_url(url: &str, ca_file: Option<&Path>) -> Result<Box<dyn Transport>> {
    crate::cli::check_url(url).map_err(Error::Config)?;
    let mut roots = TlsRoots::web();
    if url.starts_with("https://") {
        roots.add_der(&system_roots()?);
        if let Some(file) = ca_file {
            roots.add_pem_file(file)?;
        }
    }
    Ok(Box::new(HttpTransport::with_roots(url, &roots)))
}

#[cfg(windows)]
fn system_roots() -> Result<Vec<Vec<u8>>> {
    crate::win::certs::trusted_roots()
}

/// Elsewhere (the portable tests) only the web's roots and the CA file.
#[cfg(not(windows))]
fn system_roots() -> Result<Vec<Vec<u8>>> {
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_https_url_with_a_ca_file_that_is_not_there_is_refused() {
        let error = for_url("https://127.0.0.1:1", Some(Path::new("no-such-ca.pem")))
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("no-such-ca.pem"), "{}", error);
        assert!(for_url("ftp://srv", None).is_err());
        assert!(for_url("http://127.0.0.1:1", Some(Path::new("no-such-ca.pem"))).is_ok());
    }
}
