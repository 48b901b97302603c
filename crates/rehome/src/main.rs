//! `rehome`: the one binary. Subcommands are added as their parts land.

mod secdesc_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Moves Windows workstations from one directory to another in place.
#[derive(Debug, Parser)]
#[command(name = "rehome", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Security descriptor tools: SDDL and binary, translation, explanations.
    Secdesc {
        #[command(subcommand)]
        command: secdesc_cmd::SecdescCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Secdesc { command } => secdesc_cmd::run(command),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {:#}", e);
            ExitCode::FAILURE
        }
    }
}
