//! Reads a directory over LDAP with rehome's `LdapSource` and says how long it took: the rehome half
//! of `scripts/ldap-import-bench`.
//!
//! ```text
//! REHOME_LDAP_PASSWORD=… ldap_import URL BIND_DN BASE_DN [PAGE_SIZE] [ROUNDS]
//! ```
//! Prints one line per round: `rehome <seconds> <objects>`.

use std::time::Instant;

use server::directory::ldap::{LdapConfig, LdapSource};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, bind_dn, base_dn, rest @ ..] = args.as_slice() else {
        return Err(
            "usage: REHOME_LDAP_PASSWORD=… ldap_import URL BIND_DN BASE_DN [PAGE_SIZE] [ROUNDS]"
                .into(),
        );
    };
    // The password comes from the environment so that it never shows in a process list.
    let password = std::env::var("REHOME_LDAP_PASSWORD").map_err(|_| "set REHOME_LDAP_PASSWORD")?;
    let mut config = LdapConfig::new(url, bind_dn, password);
    config.base_dns = vec![base_dn.clone()];
    config.page_size = rest.first().map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let rounds: usize = rest.get(1).map(|s| s.parse()).transpose()?.unwrap_or(1);
    let source = LdapSource::new(config)?;
    for _ in 0..rounds {
        let started = Instant::now();
        let snapshot = source.read_full().await?;
        println!(
            "rehome {:.3} {}",
            started.elapsed().as_secs_f64(),
            snapshot.objects.len()
        );
    }
    Ok(())
}
