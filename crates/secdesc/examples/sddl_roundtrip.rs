//! Reads one item per line on standard input and writes one result per line, for the Samba
//! cross-check (`scripts/secdesc-crosscheck`) and the speed comparison:
//!
//! - `SDDL` → `ok<TAB>hex of the binary form<TAB>SDDL written back`, or `err<TAB>message`;
//! - `hex:HEX` (a binary descriptor) → `ok<TAB>hex written back<TAB>SDDL`, or `err<TAB>message`.
//!
//! Usage: `sddl_roundtrip [DOMAIN_SID] < lines`

use std::io::{self, BufRead, BufWriter, Write};

use secdesc::cli::{hex_decode, hex_encode};
use secdesc::{Domains, SecurityDescriptor, Sid};

fn main() -> io::Result<()> {
    let domain: Option<Sid> = match std::env::args().nth(1) {
        Some(text) => match text.parse() {
            Ok(sid) => Some(sid),
            Err(e) => {
                eprintln!("{}", e);
                std::process::exit(2);
            }
        },
        None => None,
    };
    let domains = Domains::single(domain.as_ref());
    let stdin = io::stdin();
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    for line in stdin.lock().lines() {
        let line = line?;
        let result = match line.strip_prefix("hex:") {
            Some(hex) => hex_decode(hex).and_then(|bytes| SecurityDescriptor::from_bytes(&bytes)),
            None => SecurityDescriptor::from_sddl_with(&line, &domains),
        }
        .and_then(|sd| Ok((sd.try_to_bytes()?, sd.try_to_sddl(&domains)?)));
        match result {
            Ok((bytes, sddl)) => writeln!(out, "ok\t{}\t{}", hex_encode(&bytes), sddl)?,
            Err(e) => writeln!(out, "err\t{}", e)?,
        }
    }
    out.flush()
}
