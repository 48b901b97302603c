//! `rehome-agent.exe`: install, uninstall, run, or be the service.

use std::process::ExitCode;

use agent_windows::cli::{self, Command};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match cli::parse(&args) {
        Ok(c) => c,
        Err(message) => {
            eprintln!("rehome-agent: {}", message);
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Help => {
            println!("{}", cli::USAGE);
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("rehome-agent {}", agent_windows::VERSION);
            ExitCode::SUCCESS
        }
        other => platform::execute(other),
    }
}

#[cfg(windows)]
mod platform {
    use std::process::ExitCode;

    use agent::{Exit, ThreadSleeper};
    use agent_windows::cli::Command;
    use agent_windows::win::service;

    pub fn execute(command: Command) -> ExitCode {
        let result = match command {
            Command::Install {
                server,
                psk,
                ca_file,
            } => service::install(&server, &psk, ca_file.as_deref()).map(|()| {
                println!(
                    "rehome-agent: the service {} is installed and started",
                    service::SERVICE_NAME
                )
            }),
            Command::Uninstall { purge } => service::uninstall(purge).map(|was| {
                if was {
                    println!(
                        "rehome-agent: the service {} is removed",
                        service::SERVICE_NAME
                    )
                } else {
                    println!(
                        "rehome-agent: the service {} was not installed",
                        service::SERVICE_NAME
                    )
                }
            }),
            Command::Run(options) => service::run(&options, Box::new(ThreadSleeper::default()))
                .map(|exit| match exit {
                    Exit::Idle { runbook, status } => {
                        println!("rehome-agent: runbook {} ended {:?}", runbook, status)
                    }
                    Exit::Stopped => println!("rehome-agent: stopped"),
                    Exit::Uninstalled => println!("rehome-agent: removed itself from this device"),
                }),
            Command::Service => service::dispatch(),
            Command::Tray => {
                agent_windows::tray::icon::run(std::sync::Arc::new(model::clock::SystemClock))
            }
            Command::Status => agent_windows::tray::icon::status().map(|text| println!("{}", text)),
            Command::Help | Command::Version => Ok(()),
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("rehome-agent: {}", e);
                ExitCode::FAILURE
            }
        }
    }
}

#[cfg(not(windows))]
mod platform {
    use std::process::ExitCode;

    use agent_windows::cli::Command;

    pub fn execute(_command: Command) -> ExitCode {
        eprintln!(
            "rehome-agent: this program runs on Windows; on other systems run `rehome agent`"
        );
        ExitCode::from(2)
    }
}
