//! The two-letter SDDL SID aliases and the well-known SIDs behind them.

use crate::Sid;

/// Where an alias's SID comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AliasKind {
    /// A fixed SID: authority and sub-authorities.
    Fixed(u64, &'static [u32]),
    /// The given RID in the domain being described (needs a domain SID).
    Domain(u32),
    /// The given RID in the forest root domain (needs a root domain SID).
    RootDomain(u32),
}

/// One SDDL SID alias: its two letters, where its SID comes from and what it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Alias {
    /// The two letters, e.g. `BA`.
    pub code: &'static str,
    /// How to build its SID.
    pub kind: AliasKind,
    /// The account's usual name, for explanations.
    pub name: &'static str,
}

const fn fixed(
    code: &'static str,
    authority: u64,
    subs: &'static [u32],
    name: &'static str,
) -> Alias {
    Alias {
        code,
        kind: AliasKind::Fixed(authority, subs),
        name,
    }
}

const fn domain(code: &'static str, rid: u32, name: &'static str) -> Alias {
    Alias {
        code,
        kind: AliasKind::Domain(rid),
        name,
    }
}

const fn root(code: &'static str, rid: u32, name: &'static str) -> Alias {
    Alias {
        code,
        kind: AliasKind::RootDomain(rid),
        name,
    }
}

/// Every SID alias Windows knows, as documented for SDDL (sddl.h).
pub const ALIASES: &[Alias] = &[
    fixed("AA", 5, &[32, 579], "Access Control Assistance Operators"),
    fixed("AC", 15, &[2, 1], "All Application Packages"),
    fixed("AN", 5, &[7], "Anonymous Logon"),
    fixed("AO", 5, &[32, 548], "Account Operators"),
    domain("AP", 525, "Protected Users"),
    fixed("AS", 18, &[1], "Authentication Authority Asserted Identity"),
    fixed("AU", 5, &[11], "Authenticated Users"),
    fixed("BA", 5, &[32, 544], "Administrators"),
    fixed("BG", 5, &[32, 546], "Guests"),
    fixed("BO", 5, &[32, 551], "Backup Operators"),
    fixed("BU", 5, &[32, 545], "Users"),
    domain("CA", 517, "Cert Publishers"),
    fixed("CD", 5, &[32, 574], "Certificate Service DCOM Access"),
    fixed("CG", 3, &[1], "Creator Group"),
    domain("CN", 522, "Cloneable Domain Controllers"),
    fixed("CO", 3, &[0], "Creator Owner"),
    fixed("CY", 5, &[32, 569], "Cryptographic Operators"),
    domain("DA", 512, "Domain Admins"),
    domain("DC", 515, "Domain Computers"),
    domain("DD", 516, "Domain Controllers"),
    domain("DG", 514, "Domain Guests"),
    domain("DU", 513, "Domain Users"),
    root("EA", 519, "Enterprise Admins"),
    fixed("ED", 5, &[9], "Enterprise Domain Controllers"),
    root("EK", 527, "Enterprise Key Admins"),
    fixed("ER", 5, &[32, 573], "Event Log Readers"),
    fixed("ES", 5, &[32, 576], "RDS Endpoint Servers"),
    fixed("HA", 5, &[32, 578], "Hyper-V Administrators"),
    fixed("HI", 16, &[12288], "High Mandatory Level"),
    fixed("IS", 5, &[32, 568], "IIS_IUSRS"),
    fixed("IU", 5, &[4], "Interactive"),
    domain("KA", 526, "Key Admins"),
    domain("LA", 500, "Administrator"),
    domain("LG", 501, "Guest"),
    fixed("LS", 5, &[19], "Local Service"),
    fixed("LU", 5, &[32, 559], "Performance Log Users"),
    fixed("LW", 16, &[4096], "Low Mandatory Level"),
    fixed("ME", 16, &[8192], "Medium Mandatory Level"),
    fixed("MP", 16, &[8448], "Medium Plus Mandatory Level"),
    fixed("MS", 5, &[32, 577], "RDS Management Servers"),
    fixed("MU", 5, &[32, 558], "Performance Monitor Users"),
    fixed("NO", 5, &[32, 556], "Network Configuration Operators"),
    fixed("NS", 5, &[20], "Network Service"),
    fixed("NU", 5, &[2], "Network"),
    fixed("OW", 3, &[4], "Owner Rights"),
    domain("PA", 520, "Group Policy Creator Owners"),
    fixed("PO", 5, &[32, 550], "Print Operators"),
    fixed("PS", 5, &[10], "Principal Self"),
    fixed("PU", 5, &[32, 547], "Power Users"),
    fixed("RA", 5, &[32, 575], "RDS Remote Access Servers"),
    fixed("RC", 5, &[12], "Restricted Code"),
    fixed("RD", 5, &[32, 555], "Remote Desktop Users"),
    fixed("RE", 5, &[32, 552], "Replicator"),
    fixed("RM", 5, &[32, 580], "Remote Management Users"),
    root("RO", 498, "Enterprise Read-only Domain Controllers"),
    domain("RS", 553, "RAS and IAS Servers"),
    fixed("RU", 5, &[32, 554], "Pre-Windows 2000 Compatible Access"),
    root("SA", 518, "Schema Admins"),
    fixed("SI", 16, &[16384], "System Mandatory Level"),
    fixed("SO", 5, &[32, 549], "Server Operators"),
    fixed("SS", 18, &[2], "Service Asserted Identity"),
    fixed("SU", 5, &[6], "Service"),
    fixed("SY", 5, &[18], "Local System"),
    fixed("UD", 5, &[84, 0, 0, 0, 0, 0], "User-Mode Drivers"),
    fixed("WD", 1, &[0], "Everyone"),
    fixed("WR", 5, &[33], "Write Restricted Code"),
];

/// The domains against which domain-relative aliases (DA, DU, EA, …) are read and written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Domains {
    /// The domain SID (`S-1-5-21-a-b-c`) for DA, DU, DG, DC, DD, CA, CN, PA, RS, AP, KA, LA, LG.
    pub domain: Option<Sid>,
    /// The forest root domain SID for EA, SA, RO, EK; the domain SID when not given.
    pub root_domain: Option<Sid>,
}

impl Domains {
    /// Both the domain and the forest root are `domain` (a single-domain forest or a workstation).
    pub fn single(domain: Option<&Sid>) -> Domains {
        Domains {
            domain: domain.cloned(),
            root_domain: None,
        }
    }

    fn root(&self) -> Option<&Sid> {
        self.root_domain.as_ref().or(self.domain.as_ref())
    }
}

/// Looks up the alias with these two letters.
pub fn find(code: &[u8]) -> Option<&'static Alias> {
    // The table is sorted (a test checks it), and two-letter codes compare as numbers.
    let key = crate::sddl::code_key(code);
    ALIASES
        .binary_search_by_key(&key, |a| crate::sddl::code_key(a.code.as_bytes()))
        .ok()
        .map(|i| &ALIASES[i])
}

impl Alias {
    /// The SID this alias stands for, or `None` if it needs a domain that was not given.
    pub fn sid(&self, domains: &Domains) -> Option<Sid> {
        match self.kind {
            AliasKind::Fixed(authority, subs) => Sid::new(authority, subs).ok(),
            AliasKind::Domain(rid) => domains.domain.as_ref()?.with_rid(rid).ok(),
            AliasKind::RootDomain(rid) => domains.root()?.with_rid(rid).ok(),
        }
    }

    /// Whether `sid` is this alias's SID.
    pub fn matches(&self, sid: &Sid, domains: &Domains) -> bool {
        match self.kind {
            AliasKind::Fixed(authority, subs) => {
                sid.authority() == authority && sid.sub_authorities() == subs
            }
            AliasKind::Domain(rid) => domains
                .domain
                .as_ref()
                .map_or(false, |d| sid.rid() == Some(rid) && sid.is_in_domain(d)),
            AliasKind::RootDomain(rid) => domains
                .root()
                .map_or(false, |d| sid.rid() == Some(rid) && sid.is_in_domain(d)),
        }
    }
}

/// The alias that stands for `sid`, if any.
pub fn alias_of(sid: &Sid, domains: &Domains) -> Option<&'static Alias> {
    // Fast rejection: every alias SID has authority 1, 3, 5, 15, 16 or 18.
    if !matches!(sid.authority(), 1 | 3 | 5 | 15 | 16 | 18) {
        return None;
    }
    // Domain SIDs (5-21-…) can only be domain-relative aliases, and the rest only fixed ones.
    let in_domain = sid.sub_authorities().first() == Some(&21);
    if in_domain && domains.domain.is_none() && domains.root_domain.is_none() {
        return None;
    }
    if !in_domain {
        return fixed_alias_code(sid).and_then(|code| find(code.as_bytes()));
    }
    ALIASES
        .iter()
        .filter(|a| !matches!(a.kind, AliasKind::Fixed(..)))
        .find(|a| a.matches(sid, domains))
}

/// The code of the fixed alias for `sid`: a `match` the compiler turns into a few jumps, where
/// scanning the table cost more than the rest of writing SDDL. A test keeps it equal to the table.
fn fixed_alias_code(sid: &Sid) -> Option<&'static str> {
    Some(match (sid.authority(), sid.sub_authorities()) {
        (5, [32, rid]) => match rid {
            544 => "BA",
            545 => "BU",
            546 => "BG",
            547 => "PU",
            548 => "AO",
            549 => "SO",
            550 => "PO",
            551 => "BO",
            552 => "RE",
            554 => "RU",
            555 => "RD",
            556 => "NO",
            558 => "MU",
            559 => "LU",
            568 => "IS",
            569 => "CY",
            573 => "ER",
            574 => "CD",
            575 => "RA",
            576 => "ES",
            577 => "MS",
            578 => "HA",
            579 => "AA",
            580 => "RM",
            _ => return None,
        },
        (15, [2, 1]) => "AC",
        (5, [7]) => "AN",
        (18, [1]) => "AS",
        (5, [11]) => "AU",
        (3, [1]) => "CG",
        (3, [0]) => "CO",
        (5, [9]) => "ED",
        (16, [12288]) => "HI",
        (5, [4]) => "IU",
        (5, [19]) => "LS",
        (16, [4096]) => "LW",
        (16, [8192]) => "ME",
        (16, [8448]) => "MP",
        (5, [20]) => "NS",
        (5, [2]) => "NU",
        (3, [4]) => "OW",
        (5, [10]) => "PS",
        (5, [12]) => "RC",
        (16, [16384]) => "SI",
        (18, [2]) => "SS",
        (5, [6]) => "SU",
        (5, [18]) => "SY",
        (5, [84, 0, 0, 0, 0, 0]) => "UD",
        (1, [0]) => "WD",
        (5, [33]) => "WR",
        _ => return None,
    })
}

/// A readable name for well-known SIDs without an alias (and for aliased ones), for explanations.
pub fn well_known_name(sid: &Sid, domains: &Domains) -> Option<&'static str> {
    if let Some(alias) = alias_of(sid, domains) {
        return Some(alias.name);
    }
    let name = match (sid.authority(), sid.sub_authorities()) {
        (0, [0]) => "Nobody",
        (2, [0]) => "Local",
        (2, [1]) => "Console Logon",
        (3, [2]) => "Creator Owner Server",
        (3, [3]) => "Creator Group Server",
        (5, [1]) => "Dialup",
        (5, [3]) => "Batch",
        (5, [8]) => "Proxy",
        (5, [13]) => "Terminal Server User",
        (5, [14]) => "Remote Interactive Logon",
        (5, [15]) => "This Organization",
        (5, [17]) => "IUSR",
        (5, [32]) => "BUILTIN",
        (5, [64, 10]) => "NTLM Authentication",
        (5, [80, 0]) => "All Services",
        (5, [113]) => "Local account",
        (5, [114]) => "Local account and member of Administrators group",
        (16, [0]) => "Untrusted Mandatory Level",
        (16, [20480]) => "Protected Process Mandatory Level",
        (15, [2, 2]) => "All Restricted Application Packages",
        (12, [1, ..]) => "Entra ID object",
        _ => return None,
    };
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_unique_and_sorted() {
        for pair in ALIASES.windows(2) {
            assert!(
                pair[0].code < pair[1].code,
                "{} before {}",
                pair[0].code,
                pair[1].code
            );
        }
    }

    #[test]
    fn the_fixed_alias_match_agrees_with_the_table() {
        for alias in ALIASES {
            if let Some(sid) = alias.sid(&Domains::default()) {
                assert_eq!(fixed_alias_code(&sid), Some(alias.code), "{}", sid);
                assert_eq!(
                    alias_of(&sid, &Domains::default()).map(|a| a.code),
                    Some(alias.code)
                );
            }
        }
    }

    #[test]
    fn domain_relative_aliases_need_and_use_the_domain() {
        let domain: Sid = "S-1-5-21-1-2-3".parse().unwrap();
        let da = find(b"DA").unwrap();
        assert_eq!(da.sid(&Domains::default()), None);
        let domains = Domains::single(Some(&domain));
        let sid = da.sid(&domains).unwrap();
        assert_eq!(sid.to_string(), "S-1-5-21-1-2-3-512");
        assert_eq!(alias_of(&sid, &domains).unwrap().code, "DA");
        assert_eq!(alias_of(&sid, &Domains::default()), None);
        let root_sid: Sid = "S-1-5-21-9-9-9".parse().unwrap();
        let forest = Domains {
            domain: Some(domain),
            root_domain: Some(root_sid),
        };
        assert_eq!(
            find(b"EA").unwrap().sid(&forest).unwrap().to_string(),
            "S-1-5-21-9-9-9-519"
        );
    }
}
