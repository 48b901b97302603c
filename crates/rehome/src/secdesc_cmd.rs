//! `rehome secdesc …`: security descriptor tools on the command line. The work is done by
//! `secdesc::cli`; this module only reads arguments and streams.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use secdesc::cli;
use secdesc::translate::{SidMap, TranslateMode, TranslateOptions};
use secdesc::{Domains, Sid};

/// Security descriptor tools: SDDL ↔ binary, SID translation, explanations.
#[derive(Debug, Subcommand)]
pub enum SecdescCommand {
    /// Print the self-relative binary form of an SDDL string as hex.
    ToBinary {
        #[command(flatten)]
        domains: DomainArgs,
        /// The SDDL string, or - to convert one per line from standard input.
        sddl: String,
    },
    /// Print the SDDL of a self-relative binary descriptor given as hex.
    ToSddl {
        #[command(flatten)]
        domains: DomainArgs,
        /// The hex, or - to convert one per line from standard input.
        hex: String,
    },
    /// Translate source SIDs to target SIDs and print the resulting SDDL.
    Translate {
        /// CSV with the header source_sid,target_sid and one pair per line.
        #[arg(long, value_name = "MAP.csv")]
        map: PathBuf,
        /// add: keep the source ACE and add one for the target after it; replace: swap the SID.
        #[arg(long, value_enum, default_value_t = Mode::Add)]
        mode: Mode,
        /// Translate the owner and group too.
        #[arg(long)]
        owner: bool,
        #[command(flatten)]
        domains: DomainArgs,
        /// The SDDL string, or - to translate one per line from standard input.
        sddl: String,
    },
    /// Say in words who has what.
    Explain {
        #[command(flatten)]
        domains: DomainArgs,
        /// SDDL or hex, or - to explain one per line from standard input (one line each).
        input: String,
    },
}

/// The domains that domain-relative SDDL aliases (DA, DU, EA, …) refer to.
#[derive(Debug, Args)]
pub struct DomainArgs {
    /// Domain SID (S-1-5-21-a-b-c) for DA, DU, DG, DC, DD, CA, CN, PA, RS, AP, KA, LA, LG.
    #[arg(long, value_name = "SID")]
    domain_sid: Option<Sid>,
    /// Forest root domain SID for EA, SA, RO, EK; defaults to --domain-sid.
    #[arg(long, value_name = "SID")]
    root_domain_sid: Option<Sid>,
}

impl DomainArgs {
    fn domains(&self) -> Domains {
        Domains {
            domain: self.domain_sid.clone(),
            root_domain: self.root_domain_sid.clone(),
        }
    }
}

/// How translated ACEs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Add an ACE for the target beside the source's.
    Add,
    /// Replace the source SID by the target SID.
    Replace,
}

/// Runs one `rehome secdesc` command. With `-` as the input, a line that fails prints
/// `error: …` in its place and the exit status is 1 at the end.
pub fn run(cmd: SecdescCommand) -> Result<ExitCode> {
    match cmd {
        SecdescCommand::ToBinary { domains, sddl } => {
            let domains = domains.domains();
            one_or_each(&sddl, |s| cli::sddl_to_hex(s, &domains))
        }
        SecdescCommand::ToSddl { domains, hex } => {
            let domains = domains.domains();
            one_or_each(&hex, |s| cli::hex_to_sddl(s, &domains))
        }
        SecdescCommand::Translate {
            map,
            mode,
            owner,
            domains,
            sddl,
        } => {
            let text = std::fs::read_to_string(&map)
                .with_context(|| format!("reading the SID map {}", map.display()))?;
            let map_table = SidMap::from_csv(&text)
                .with_context(|| format!("in the SID map {}", map.display()))?;
            let mode = match mode {
                Mode::Add => TranslateMode::Add,
                Mode::Replace => TranslateMode::Replace,
            };
            let options = TranslateOptions {
                mode,
                owner_and_group: owner,
            };
            let domains = domains.domains();
            one_or_each(&sddl, |s| {
                cli::translate_sddl(s, &map_table, &options, &domains)
            })
        }
        SecdescCommand::Explain { domains, input } => {
            let domains = domains.domains();
            if input == "-" {
                each_stdin_line(|s| cli::explain_text(s, &domains).map(|lines| lines.join("; ")))
            } else {
                let lines = cli::explain_text(&input, &domains)?;
                let mut out = BufWriter::new(io::stdout().lock());
                for line in lines {
                    writeln!(out, "{}", line)?;
                }
                out.flush()?;
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

fn one_or_each(input: &str, op: impl FnMut(&str) -> secdesc::Result<String>) -> Result<ExitCode> {
    if input == "-" {
        return each_stdin_line(op);
    }
    let mut op = op;
    println!("{}", op(input)?);
    Ok(ExitCode::SUCCESS)
}

fn each_stdin_line(op: impl FnMut(&str) -> secdesc::Result<String>) -> Result<ExitCode> {
    let stdin = io::stdin();
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let failed = cli::each_line(stdin.lock(), &mut out, op)
        .context("reading standard input or writing standard output")?;
    if failed > 0 {
        eprintln!("{} line(s) failed", failed);
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
