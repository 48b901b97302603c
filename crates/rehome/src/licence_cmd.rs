//! `rehome licence`: an issuer's tools. `keygen` makes the issuer's signing key, whose public half
//! servers trust with `--licence-issuer`; `issue` signs a licence and prints the text to paste.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use chrono::{Duration, SubsecRound};
use clap::Subcommand;
use model::ids::LicenceId;
use model::licence::{self, IssuerKey, Licence, Product};

/// Longest validity `issue` accepts, in days.
const MAX_VALID_DAYS: i64 = 3660;

/// Licence issuing tools.
#[derive(Debug, Subcommand)]
pub enum LicenceCommand {
    /// Make a new issuer key: the private key goes to --out (readable by its owner only), the
    /// public key is printed for servers' --licence-issuer.
    Keygen {
        /// File to write the private key to; it must not exist yet.
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a licence with the issuer key and print its text.
    Issue {
        /// The issuer's private key file, from `rehome licence keygen`.
        #[arg(long)]
        issuer_key: PathBuf,
        /// Who the licence is for.
        #[arg(long)]
        customer: String,
        /// What it grants: sync, migration, or both separated by a comma.
        #[arg(long, value_delimiter = ',', required = true, value_parser = parse_product)]
        products: Vec<Product>,
        /// A source domain (AD DNS name or Entra tenant name); repeat for several.
        #[arg(long = "source-domain", required = true)]
        source_domains: Vec<String>,
        /// A target domain (AD DNS name or Entra tenant name); repeat for several.
        #[arg(long = "target-domain", required = true)]
        target_domains: Vec<String>,
        /// How many devices it allows.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        devices: u32,
        /// Days from now until it expires.
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..=MAX_VALID_DAYS))]
        valid_days: i64,
    },
}

fn parse_product(text: &str) -> std::result::Result<Product, String> {
    Product::parse(text).ok_or_else(|| format!("{:?} is neither sync nor migration", text))
}

/// The command-line flag for a field of [`Licence`].
fn flag(field: &str) -> &'static str {
    match field.split('[').next().unwrap_or(field) {
        "customer" => "--customer",
        "products" => "--products",
        "source_domains" => "--source-domain",
        "target_domains" => "--target-domain",
        "devices" => "--devices",
        _ => "--valid-days",
    }
}

/// Runs one `rehome licence` command.
pub fn run(command: LicenceCommand) -> Result<ExitCode> {
    match command {
        LicenceCommand::Keygen { out } => {
            let key = IssuerKey::generate();
            write_private(&out, &format!("{}\n", key.to_secret_text()))?;
            eprintln!(
                "Issuer key written to {}; keep it private. Its public key, for each server's --licence-issuer:",
                out.display()
            );
            println!("{}", key.public_text());
        }
        LicenceCommand::Issue {
            issuer_key,
            customer,
            products,
            source_domains,
            target_domains,
            devices,
            valid_days,
        } => {
            let text = std::fs::read_to_string(&issuer_key)
                .with_context(|| format!("--issuer-key: cannot read {}", issuer_key.display()))?;
            let key = IssuerKey::from_secret_text(&text).map_err(|_| {
                anyhow::anyhow!(
                    "--issuer-key {}: not an issuer key; give the file `rehome licence keygen \
                         --out` wrote (one line of base64)",
                    issuer_key.display()
                )
            })?;
            // The command line is the edge where the wall clock is read.
            let issued_at = model::clock::Clock::now(&model::clock::SystemClock).trunc_subsecs(3);
            let draft = Licence {
                id: LicenceId::new(),
                customer,
                products,
                source_domains,
                target_domains,
                devices,
                issued_at,
                expires_at: issued_at + Duration::days(valid_days),
                issuer: key.public(),
            };
            let text = match licence::issue(&key, &draft) {
                Ok(text) => text,
                Err(model::Error::Invalid(errors)) => {
                    let lines: Vec<String> = errors
                        .iter()
                        .map(|e| format!("{}: {}", flag(&e.field), e.message))
                        .collect();
                    bail!("{}", lines.join("\n"));
                }
                Err(e) => return Err(e.into()),
            };
            eprintln!(
                "Licence {} for {}: {} devices, expires {}; apply it within {} days.",
                draft.id,
                draft.customer.trim(),
                devices,
                draft.expires_at.format("%Y-%m-%d"),
                licence::APPLY_WITHIN_DAYS
            );
            println!("{}", text);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `content` to a new file only its owner can read.
fn write_private(path: &Path, content: &str) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| {
        format!(
            "--out: cannot create {} (it must not exist yet)",
            path.display()
        )
    })?;
    file.write_all(content.as_bytes())
        .and_then(|_| file.sync_all())
        .with_context(|| format!("--out: cannot write {}", path.display()))
}
