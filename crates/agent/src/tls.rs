//! HTTPS for the agent's transport: rustls 0.21 on ring (it builds with Rust 1.63, like the rest
//! of the agent), trusting the public web roots, any roots the platform adds (the Windows
//! certificate store) and the CA an installation was given, e.g. a company CA that signed the
//! certificate of the reverse proxy in front of the server.

use std::fmt;
use std::io::{self, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use rustls::{ClientConfig, ClientConnection, OwnedTrustAnchor, RootCertStore, ServerName};
use ureq::ReadWrite;

use crate::{Error, Result};

/// The certificate authorities an HTTPS transport trusts.
#[derive(Clone)]
pub struct TlsRoots {
    store: RootCertStore,
}

impl fmt::Debug for TlsRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TlsRoots({} authorities)", self.store.len())
    }
}

impl Default for TlsRoots {
    fn default() -> TlsRoots {
        TlsRoots::web()
    }
}

impl TlsRoots {
    /// The public web's roots (Mozilla's list, built in).
    pub fn web() -> TlsRoots {
        let mut store = RootCertStore::empty();
        store.add_trust_anchors(webpki_roots::TLS_SERVER_ROOTS.iter().map(|ta| {
            OwnedTrustAnchor::from_subject_spki_name_constraints(
                ta.subject,
                ta.spki,
                ta.name_constraints,
            )
        }));
        TlsRoots { store }
    }

    /// How many authorities are trusted.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    /// Adds the DER certificates that parse (a system store holds some that do not); returns how
    /// many were added.
    pub fn add_der(&mut self, certificates: &[Vec<u8>]) -> usize {
        self.store.add_parsable_certificates(certificates).0
    }

    /// Adds every CERTIFICATE of the PEM file at `path`; a file without one is an error, since
    /// the agent was told to trust it.
    pub fn add_pem_file(&mut self, path: &Path) -> Result<usize> {
        let file = std::fs::File::open(path).map_err(|e| Error::Io {
            what: "reading the CA file",
            path: path.to_path_buf(),
            source: e,
        })?;
        let unreadable = |reason: String| Error::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        let certificates = rustls_pemfile::certs(&mut BufReader::new(file))
            .map_err(|e| unreadable(format!("not PEM: {}", e)))?;
        if certificates.is_empty() {
            return Err(unreadable("it holds no CERTIFICATE block".to_string()));
        }
        let mut added = 0;
        for der in certificates {
            self.store
                .add(&rustls::Certificate(der))
                .map_err(|e| unreadable(format!("a certificate does not parse: {}", e)))?;
            added += 1;
        }
        Ok(added)
    }

    /// The connector ureq uses for `https://` URLs.
    pub(crate) fn connector(&self) -> Arc<Connector> {
        let config = ClientConfig::builder()
            .with_safe_defaults()
            .with_root_certificates(self.store.clone())
            .with_no_client_auth();
        Arc::new(Connector {
            config: Arc::new(config),
        })
    }
}

/// Opens TLS sessions over ureq's sockets.
pub(crate) struct Connector {
    config: Arc<ClientConfig>,
}

impl ureq::TlsConnector for Connector {
    fn connect(
        &self,
        host: &str,
        io: Box<dyn ReadWrite>,
    ) -> std::result::Result<Box<dyn ReadWrite>, ureq::Error> {
        let name = ServerName::try_from(host).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{:?} is not a host name or IP address for TLS", host),
            )
        })?;
        let session = ClientConnection::new(self.config.clone(), name)
            .map_err(|e| io::Error::new(io::ErrorKind::Other, e))?;
        Ok(Box::new(TlsStream(rustls::StreamOwned::new(session, io))))
    }
}

struct TlsStream(rustls::StreamOwned<ClientConnection, Box<dyn ReadWrite>>);

impl fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TlsStream({:?})", self.0.sock)
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl ReadWrite for TlsStream {
    fn socket(&self) -> Option<&TcpStream> {
        self.0.sock.socket()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_web_roots_are_trusted_and_a_ca_file_without_a_certificate_is_refused() {
        let mut roots = TlsRoots::web();
        assert!(roots.len() > 100, "{}", roots.len());
        let dir = std::env::temp_dir().join(format!("rehome-tls-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ca.pem");
        std::fs::write(
            &file,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let error = roots.add_pem_file(&file).unwrap_err().to_string();
        assert!(error.contains("no CERTIFICATE"), "{}", error);
        assert!(roots.add_pem_file(&dir.join("absent.pem")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
