//! EDR agents and whether one has isolated the device. The known agents are found by their
//! services; isolation is set from an EDR's cloud console and leaves no local marker this agent
//! reads, so it is judged by what isolation does: an EDR present while the rehome server does
//! not answer the device (a WinHTTP `HEAD` of the server URL the agent was installed with)
//! blocks with that reason, and one present while the server answers passes, named.

use agent::readiness::device::{Interference, InterferenceKind};
use agent::{RegValue, Result};

use super::{registry, services};
use crate::keys::KeyName;

/// The EDR agents known by their service: service name, product.
pub const KNOWN: &[(&str, &str)] = &[
    ("Sense", "Microsoft Defender for Endpoint"),
    ("CSFalconService", "CrowdStrike Falcon"),
    ("SentinelAgent", "SentinelOne"),
    ("CbDefense", "Carbon Black Cloud"),
    ("CarbonBlack", "Carbon Black EDR"),
    ("cyserver", "Cortex XDR"),
    ("xagt", "Trellix Endpoint Security (HX)"),
    ("CybereasonActiveProbe", "Cybereason"),
    ("ElasticEndpoint", "Elastic Defend"),
];

/// Where Defender for Endpoint says whether the device is onboarded: its `Sense` service ships
/// with Windows and runs only once it is.
pub const MDE_STATUS: &str =
    "HKLM\\SOFTWARE\\Microsoft\\Windows Advanced Threat Protection\\Status";

/// Whether Defender for Endpoint is onboarded (`OnboardingState` 1).
fn mde_onboarded() -> Result<bool> {
    Ok(
        match registry::open(&KeyName::parse(MDE_STATUS)?, registry::READ)? {
            Some(k) => k.value("OnboardingState")? == Some(RegValue::Dword(1)),
            None => false,
        },
    )
}

/// The EDR agents of `known` installed, as `product (service)`; Defender for Endpoint only
/// when onboarded.
pub fn present(known: &[(&str, &str)]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (service, product) in known {
        if services::account(service)?.is_none() {
            continue;
        }
        if service.eq_ignore_ascii_case("Sense") && !mde_onboarded()? {
            continue;
        }
        out.push(format!("{} ({})", product, service));
    }
    Ok(out)
}

/// The server URL the agent was installed with, `None` when it has none.
pub fn server_url() -> Result<Option<String>> {
    let key = KeyName::parse(super::service::CONFIG_KEY)?;
    Ok(match registry::open(&key, registry::READ)? {
        Some(k) => match k.value("ServerUrl")? {
            Some(RegValue::Sz(url)) if !url.trim().is_empty() => Some(url),
            _ => None,
        },
        None => None,
    })
}

/// What `present` EDR agents mean for the isolation check, with the server at `server` and
/// whether it answered: named as present (the server answers) or as isolating (it does not).
/// Nothing when no EDR agent is present or there is no server to try.
pub fn judge(present: &[String], server: Option<(&str, bool)>) -> Option<Interference> {
    if present.is_empty() {
        return None;
    }
    let names = present.join(", ");
    match server {
        Some((_, true)) => Some(Interference {
            kind: InterferenceKind::Edr,
            name: names,
        }),
        Some((url, false)) => Some(Interference {
            kind: InterferenceKind::EdrIsolation,
            name: format!(
                "{} while the server {} does not answer the device",
                names, url
            ),
        }),
        None => None,
    }
}

/// The EDR agents of `known` on this device, with the server `server_url` tried.
pub fn interference_with(
    known: &[(&str, &str)],
    server_url: Option<&str>,
) -> Result<Vec<Interference>> {
    let found = present(known)?;
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let server = match server_url {
        Some(url) => Some((url, super::http::head_answers(url)?)),
        None => None,
    };
    Ok(judge(&found, server).into_iter().collect())
}

/// The EDR agents of this device with the server the agent was installed with tried.
pub fn interference() -> Result<Vec<Interference>> {
    interference_with(KNOWN, server_url()?.as_deref())
}

/// Why isolation cannot be judged: an EDR agent present and no server URL to try. Empty
/// otherwise (or when the services cannot be listed: [`interference`] fails then, naming it).
pub fn not_checked() -> Vec<(InterferenceKind, String)> {
    let found = present(KNOWN).unwrap_or_default();
    match server_url() {
        Ok(None) if !found.is_empty() => vec![(
            InterferenceKind::EdrIsolation,
            format!(
                "{} is present and the agent has no server URL to test whether it isolated the device",
                found.join(", ")
            ),
        )],
        _ => Vec::new(),
    }
}
