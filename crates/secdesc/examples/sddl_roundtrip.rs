//! Reads one item per line on standard input and writes one result per line, for the Samba
//! cross-check (`scripts/secdesc-crosscheck`) and the speed comparison:
//!
//! - `SDDL` → `ok<TAB>hex of the binary form<TAB>SDDL written back`, or `err<TAB>message`;
//! - `hex:HEX` (a binary descriptor) → `ok<TAB>hex written back<TAB>SDDL`, or `err<TAB>message`.
//!
//! With `--sddl-only` first, SDDL lines give just the SDDL written back (the work Samba's
//! `from_sddl(…).as_sddl(…)` does, for the speed comparison).
//!
//! Usage: `sddl_roundtrip [--sddl-only] [DOMAIN_SID] < lines`

use std::io::{self, BufRead, BufWriter, Write};

use secdesc::cli::{hex_decode, hex_encode};
use secdesc::{Domains, SecurityDescriptor, Sid};

fn main() -> io::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let sddl_only = args.first().map_or(false, |a| a == "--sddl-only");
    if sddl_only {
        args.remove(0);
    }
    let domain: Option<Sid> = match args.first() {
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
    let mut input = stdin.lock();
    let mut buffer = String::new();
    loop {
        // One buffer for every line: a million lines should not mean a million allocations.
        buffer.clear();
        if input.read_line(&mut buffer)? == 0 {
            break;
        }
        let line = buffer.trim_end_matches(&['\r', '\n'][..]);
        if sddl_only {
            match SecurityDescriptor::from_sddl_with(line, &domains) {
                Ok(sd) => {
                    out.write_all(sd.to_sddl_with(&domains).as_bytes())?;
                    out.write_all(b"\n")?;
                }
                Err(e) => writeln!(out, "err\t{}", e)?,
            }
            continue;
        }
        let result = match line.strip_prefix("hex:") {
            Some(hex) => hex_decode(hex).and_then(|bytes| SecurityDescriptor::from_bytes(&bytes)),
            None => SecurityDescriptor::from_sddl_with(line, &domains),
        }
        .and_then(|sd| Ok((sd.try_to_bytes()?, sd.try_to_sddl(&domains)?)));
        match result {
            Ok((bytes, sddl)) => writeln!(out, "ok\t{}\t{}", hex_encode(&bytes), sddl)?,
            Err(e) => writeln!(out, "err\t{}", e)?,
        }
    }
    out.flush()
}
