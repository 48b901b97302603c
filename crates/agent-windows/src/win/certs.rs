//! The machine's trusted root certificates (the `ROOT` system store), which an HTTPS server's
//! chain may end in: a company CA that Group Policy or Intune put there, as on every PC.

use windows_sys::Win32::Security::Cryptography::{
    CertCloseStore, CertEnumCertificatesInStore, CertOpenSystemStoreW, CERT_CONTEXT,
};

use agent::Result;

use super::{last_error, wide};

/// The DER encodings of the certificates in the `ROOT` store.
pub fn trusted_roots() -> Result<Vec<Vec<u8>>> {
    let name = wide("ROOT");
    let store = unsafe { CertOpenSystemStoreW(0, name.as_ptr()) };
    if store.is_null() {
        return Err(last_error("CertOpenSystemStoreW", "ROOT"));
    }
    let mut certificates = Vec::new();
    let mut context: *const CERT_CONTEXT = std::ptr::null();
    loop {
        // Frees the previous context and returns the next one, or null at the end.
        context = unsafe { CertEnumCertificatesInStore(store, context) } as *const CERT_CONTEXT;
        if context.is_null() {
            break;
        }
        let der = unsafe {
            let c = &*context;
            std::slice::from_raw_parts(c.pbCertEncoded, c.cbCertEncoded as usize).to_vec()
        };
        certificates.push(der);
    }
    unsafe {
        CertCloseStore(store, 0);
    }
    Ok(certificates)
}
