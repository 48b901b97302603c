//! Which target SID a SID found on a device becomes: the SID the target user or group will have
//! on that device once the runbook's join is done. An AD- or hybrid-joined device signs users in
//! with their AD SID; an Entra-joined one with the `S-1-12-1-…` SID of their Entra object, even
//! when that object is synchronised from AD.

use secdesc::Sid;
use serde::{Deserialize, Serialize};

use crate::directory::TranslationSide;
use crate::runbook::DomainJoin;

/// The kind of identity a SID belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SidKind {
    /// An Active Directory SID (`S-1-5-21-…`), used on AD- and hybrid-joined devices.
    ActiveDirectory,
    /// An Entra SID (`S-1-12-1-…`), used on Entra-joined devices.
    Entra,
}

impl SidKind {
    /// The kind of `sid`, read from its shape.
    pub fn of(sid: &Sid) -> SidKind {
        if sid.entra_object_id().is_some() {
            SidKind::Entra
        } else {
            SidKind::ActiveDirectory
        }
    }

    /// How messages name it.
    pub fn label(self) -> &'static str {
        match self {
            SidKind::ActiveDirectory => "AD",
            SidKind::Entra => "Entra",
        }
    }
}

/// What a runbook does to the device's join, as far as the SIDs users sign in with go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinChange {
    /// The device joins an Active Directory domain (and is hybrid-joined if that domain is).
    ActiveDirectory,
    /// The device joins an Entra tenant.
    Entra,
    /// The join stays as it is.
    Unchanged,
}

impl From<DomainJoin> for JoinChange {
    fn from(join: DomainJoin) -> JoinChange {
        match join {
            DomainJoin::ActiveDirectory => JoinChange::ActiveDirectory,
            DomainJoin::Entra => JoinChange::Entra,
            DomainJoin::None => JoinChange::Unchanged,
        }
    }
}

/// The target SID chosen for one SID found on a device, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The SID to write where the device holds the found one.
    pub target: Sid,
    /// Why this one, in words an engineer reads in the plan preview.
    pub reason: String,
}

/// The target SID `found` (one of the source object's SIDs) becomes under `join`; an error in
/// words when the target object has no SID of the kind the device will use.
pub fn choose(
    join: JoinChange,
    found: &Sid,
    target: &TranslationSide,
) -> std::result::Result<Choice, String> {
    let wanted = match join {
        JoinChange::ActiveDirectory => SidKind::ActiveDirectory,
        JoinChange::Entra => SidKind::Entra,
        JoinChange::Unchanged => SidKind::of(found),
    };
    let why = match join {
        JoinChange::ActiveDirectory => "Active Directory join".to_string(),
        JoinChange::Entra => "Entra join".to_string(),
        JoinChange::Unchanged => format!(
            "no join change and the device holds an {} SID",
            SidKind::of(found).label()
        ),
    };
    let own = Some(&target.sid).filter(|s| SidKind::of(s) == wanted);
    let on_premises = target
        .on_premises_sid
        .as_ref()
        .filter(|s| SidKind::of(s) == wanted);
    match (own, on_premises) {
        (Some(sid), _) => Ok(Choice {
            target: sid.clone(),
            reason: match (&target.on_premises_sid, wanted) {
                (Some(other), SidKind::Entra) => format!(
                    "{}: the target's Entra SID, not its on-premises SID {}",
                    why, other
                ),
                _ => format!("{}: the target's {} SID", why, wanted.label()),
            },
        }),
        (None, Some(sid)) => Ok(Choice {
            target: sid.clone(),
            reason: format!(
                "{}: the target's on-premises AD SID (onPremisesSecurityIdentifier), not its Entra SID {}",
                why, target.sid
            ),
        }),
        (None, None) => Err(format!(
            "{}, but target {} has no {} SID",
            why,
            target.name,
            wanted.label()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{DirectoryId, ObjectGuid};

    fn sid(text: &str) -> Sid {
        text.parse().expect("test SID")
    }

    fn side(own: &str, on_premises: Option<&str>) -> TranslationSide {
        TranslationSide {
            guid: ObjectGuid::new(),
            sid: sid(own),
            on_premises_sid: on_premises.map(sid),
            sid_history: Vec::new(),
            upn: None,
            name: "Ada".into(),
            directory: DirectoryId::new(),
        }
    }

    const AD: &str = "S-1-5-21-1-2-3-1104";
    const CLOUD: &str = "S-1-12-1-1943430372-1249052806-2496021943-3034400218";
    const FOUND_AD: &str = "S-1-5-21-7-8-9-1200";
    const FOUND_CLOUD: &str = "S-1-12-1-1-2-3-4";

    #[test]
    fn an_entra_join_takes_the_cloud_sid_even_of_a_synchronised_target() {
        let synced = side(CLOUD, Some(AD));
        let choice = choose(JoinChange::Entra, &sid(FOUND_AD), &synced).expect("chosen");
        assert_eq!(choice.target, sid(CLOUD));
        assert!(choice.reason.starts_with("Entra join"), "{}", choice.reason);
        assert!(choice.reason.contains(AD), "{}", choice.reason);
    }

    #[test]
    fn an_ad_join_takes_the_ad_sid_or_the_on_premises_one() {
        let ad_target = side(AD, None);
        let choice = choose(JoinChange::ActiveDirectory, &sid(FOUND_CLOUD), &ad_target);
        assert_eq!(choice.expect("chosen").target, sid(AD));
        let synced = side(CLOUD, Some(AD));
        let choice = choose(JoinChange::ActiveDirectory, &sid(FOUND_AD), &synced).expect("chosen");
        assert_eq!(choice.target, sid(AD));
        assert!(choice.reason.contains("onPremisesSecurityIdentifier"));
        let cloud_only = side(CLOUD, None);
        let refused = choose(JoinChange::ActiveDirectory, &sid(FOUND_AD), &cloud_only);
        assert_eq!(
            refused,
            Err("Active Directory join, but target Ada has no AD SID".to_string())
        );
    }

    #[test]
    fn without_a_join_change_the_kind_found_on_the_device_is_kept() {
        let synced = side(CLOUD, Some(AD));
        let from_ad = choose(JoinChange::Unchanged, &sid(FOUND_AD), &synced).expect("chosen");
        assert_eq!(from_ad.target, sid(AD));
        let from_cloud = choose(JoinChange::Unchanged, &sid(FOUND_CLOUD), &synced).expect("chosen");
        assert_eq!(from_cloud.target, sid(CLOUD));
        assert!(
            from_cloud.reason.contains("Entra SID"),
            "{}",
            from_cloud.reason
        );
    }
}
