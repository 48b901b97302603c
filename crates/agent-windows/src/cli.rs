//! The command line of `rehome-agent.exe`.

use std::path::PathBuf;

/// What `rehome-agent.exe` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Install the service (as LocalSystem, started automatically) and start it.
    Install {
        /// The server's base URL.
        server: String,
        /// The pre-shared key for the first registration.
        psk: String,
        /// A PEM file of CAs to trust for an `https://` server, besides the Windows store.
        ca_file: Option<PathBuf>,
    },
    /// Stop and remove the service; the agent's state stays unless `purge`.
    Uninstall {
        /// Also delete the agent's state and configuration.
        purge: bool,
    },
    /// Run the agent in this console, on the configuration the service would use unless given.
    Run(RunOptions),
    /// Entry point of the SCM: the service's process.
    Service,
    /// The notification-area icon and the dialogs, in the signed-in user's session.
    Tray,
    /// Print what the service tells the tray (asked over its pipe).
    Status,
    /// Print the version.
    Version,
    /// Print the usage.
    Help,
}

/// Options of `run`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// The server's base URL instead of the installed one.
    pub server: Option<String>,
    /// The PSK instead of the installed one.
    pub psk: Option<String>,
    /// Where the identity, journal and spool live instead of `%ProgramData%\rehome\agent`.
    pub state_dir: Option<PathBuf>,
    /// Return once the assigned runbook ended and its events are uploaded.
    pub exit_when_idle: bool,
    /// A PEM file of CAs to trust instead of the installed one.
    pub ca_file: Option<PathBuf>,
}

/// The usage text.
pub const USAGE: &str = "\
usage: rehome-agent <command>
  install --server URL --psk KEY [--ca FILE]
                                   install and start the rehome agent service (LocalSystem);
                                   --ca: a PEM file of CAs an https:// server's certificate
                                   may chain to, besides the Windows certificate store
  uninstall [--purge]              stop and remove the service (--purge: also its state)
  run [--server URL] [--psk KEY] [--ca FILE] [--state-dir DIR] [--exit-when-idle]
                                   run the agent in this console
  tray                             the notification-area icon and the migration dialogs of
                                   the signed-in user (started at sign-in)
  status                           print what the service tells the tray, as JSON
  version                          print the version";

fn value(args: &mut std::slice::Iter<'_, String>, flag: &str) -> Result<String, String> {
    match args.next() {
        Some(v) if !v.starts_with("--") => Ok(v.clone()),
        _ => Err(format!("{} needs a value", flag)),
    }
}

/// Reads the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Command, String> {
    let mut it = args.iter();
    let command = match it.next() {
        None => return Ok(Command::Help),
        Some(c) => c.as_str(),
    };
    match command {
        "install" => {
            let (mut server, mut psk, mut ca_file) = (None, None, None);
            while let Some(flag) = it.next() {
                match flag.as_str() {
                    "--server" => server = Some(value(&mut it, flag)?),
                    "--psk" => psk = Some(value(&mut it, flag)?),
                    "--ca" => ca_file = Some(PathBuf::from(value(&mut it, flag)?)),
                    other => return Err(format!("install: unknown option {:?}", other)),
                }
            }
            let server = server.ok_or("install needs --server URL")?;
            let psk = psk.ok_or("install needs --psk KEY")?;
            check_url(&server)?;
            Ok(Command::Install {
                server,
                psk,
                ca_file,
            })
        }
        "uninstall" => {
            let mut purge = false;
            for flag in it {
                match flag.as_str() {
                    "--purge" => purge = true,
                    other => return Err(format!("uninstall: unknown option {:?}", other)),
                }
            }
            Ok(Command::Uninstall { purge })
        }
        "run" => {
            let mut options = RunOptions::default();
            while let Some(flag) = it.next() {
                match flag.as_str() {
                    "--server" => {
                        let url = value(&mut it, flag)?;
                        check_url(&url)?;
                        options.server = Some(url);
                    }
                    "--psk" => options.psk = Some(value(&mut it, flag)?),
                    "--ca" => options.ca_file = Some(PathBuf::from(value(&mut it, flag)?)),
                    "--state-dir" => options.state_dir = Some(PathBuf::from(value(&mut it, flag)?)),
                    "--exit-when-idle" => options.exit_when_idle = true,
                    other => return Err(format!("run: unknown option {:?}", other)),
                }
            }
            Ok(Command::Run(options))
        }
        "service" => Ok(Command::Service),
        "tray" => Ok(Command::Tray),
        "status" => Ok(Command::Status),
        "version" | "--version" | "-V" => Ok(Command::Version),
        "help" | "--help" | "-h" => Ok(Command::Help),
        other => Err(format!("unknown command {:?}\n{}", other, USAGE)),
    }
}

/// A server URL the agent can talk to: `http://` or `https://` with a host.
pub fn check_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("server URL {:?} must start with http:// or https://", url))?;
    if rest.trim_end_matches('/').is_empty() || rest.starts_with('/') {
        return Err(format!("server URL {:?} has no host", url));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn install_needs_a_server_and_a_psk() {
        assert_eq!(
            parse(&args("install --server http://srv:5000 --psk abc")),
            Ok(Command::Install {
                server: "http://srv:5000".to_string(),
                psk: "abc".to_string(),
                ca_file: None,
            })
        );
        assert_eq!(
            parse(&args(
                "install --server https://srv --psk abc --ca C:\\ca.pem"
            )),
            Ok(Command::Install {
                server: "https://srv".to_string(),
                psk: "abc".to_string(),
                ca_file: Some(PathBuf::from("C:\\ca.pem")),
            })
        );
        assert!(parse(&args("install --server http://srv:5000"))
            .unwrap_err()
            .contains("--psk"));
        assert!(parse(&args("install --psk abc"))
            .unwrap_err()
            .contains("--server"));
        assert!(parse(&args("install --server ftp://srv --psk abc"))
            .unwrap_err()
            .contains("http://"));
        assert!(parse(&args("install --server --psk abc")).is_err());
    }

    #[test]
    fn run_takes_its_overrides() {
        let parsed = parse(&args(
            "run --server https://rehome.example --state-dir C:\\s --exit-when-idle",
        ))
        .unwrap();
        assert_eq!(
            parsed,
            Command::Run(RunOptions {
                server: Some("https://rehome.example".to_string()),
                psk: None,
                state_dir: Some(PathBuf::from("C:\\s")),
                exit_when_idle: true,
                ca_file: None,
            })
        );
        assert!(parse(&args("run --fast")).is_err());
        assert_eq!(
            parse(&args("uninstall --purge")),
            Ok(Command::Uninstall { purge: true })
        );
        assert_eq!(parse(&[]), Ok(Command::Help));
        assert!(parse(&args("frobnicate")).is_err());
        assert_eq!(parse(&args("tray")), Ok(Command::Tray));
        assert_eq!(parse(&args("status")), Ok(Command::Status));
    }

    #[test]
    fn a_url_needs_a_scheme_and_a_host() {
        assert!(check_url("http://127.0.0.1:5000").is_ok());
        assert!(check_url("https://rehome.contoso.com/").is_ok());
        assert!(check_url("https://").is_err());
        assert!(check_url("rehome.contoso.com").is_err());
    }
}
