//! The demo's source and target directories: users, groups and computers of two AD domains,
//! generated from a seed so every run migrates the same fleet.

use model::directory::{DirectoryObject, ObjectKind};
use model::ids::ObjectGuid;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use secdesc::Sid;
use serde::{Deserialize, Serialize};

/// One generated domain, in the directory file format the server imports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DomainFile {
    /// DNS domain.
    pub domain: String,
    /// The domain SID.
    pub domain_sid: Sid,
    /// Users, groups and computers.
    pub objects: Vec<DirectoryObject>,
}

impl DomainFile {
    /// The users, in generation order.
    pub fn users(&self) -> impl Iterator<Item = &DirectoryObject> {
        self.objects.iter().filter(|o| o.kind == ObjectKind::User)
    }

    /// The groups, in generation order.
    pub fn groups(&self) -> impl Iterator<Item = &DirectoryObject> {
        self.objects.iter().filter(|o| o.kind == ObjectKind::Group)
    }

    /// The computers, in generation order.
    pub fn computers(&self) -> impl Iterator<Item = &DirectoryObject> {
        self.objects
            .iter()
            .filter(|o| o.kind == ObjectKind::Computer)
    }
}

const FIRST: [&str; 16] = [
    "Ada", "Ben", "Chloe", "Dev", "Elif", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi",
    "Luca", "Maya", "Nils", "Omar", "Priya",
];
const LAST: [&str; 16] = [
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Tanaka",
    "Schmidt",
    "Novak",
    "Costa",
    "Haddad",
    "Kowalski",
    "Fischer",
    "Rossi",
    "Nguyen",
    "Silva",
    "Berg",
    "Khan",
    "Murphy",
];
/// Groups present in both domains; the demo matches them by name.
pub const GROUPS: [&str; 5] = [
    "Finance",
    "Engineering",
    "Sales",
    "Helpdesk",
    "Workstation Admins",
];

fn domain_sid(rng: &mut StdRng) -> Sid {
    let subs = [
        21,
        rng.gen_range(1_000_000_000..2_000_000_000),
        rng.gen(),
        rng.gen(),
    ];
    Sid::new(5, &subs).unwrap_or_else(|_| unreachable!("four sub-authorities are valid"))
}

fn sid(domain: &Sid, rid: u32) -> Sid {
    let mut subs = domain.sub_authorities().to_vec();
    subs.push(rid);
    Sid::new(domain.authority(), &subs)
        .unwrap_or_else(|_| unreachable!("a domain SID has room for a RID"))
}

fn guid(rng: &mut StdRng) -> ObjectGuid {
    ObjectGuid(uuid::Builder::from_random_bytes(rng.gen()).into_uuid())
}

/// Generates a domain with `users` users, the shared groups and `computers` workstations.
/// The same `users` count gives the same sAMAccountNames in every domain, so they match.
pub fn generate(domain: &str, seed: u64, users: usize, computers: usize) -> DomainFile {
    let mut objects = Vec::with_capacity(users + GROUPS.len() + computers);
    let mut generator = Generator::new(domain, seed, users, computers);
    objects.extend(&mut generator);
    DomainFile {
        domain: domain.to_string(),
        domain_sid: generator.domain_sid,
        objects,
    }
}

/// The objects of [`generate`] one at a time, in the same order: a directory too big to hold is
/// read from it page by page.
pub struct Generator {
    domain: String,
    container: String,
    /// The domain SID.
    pub domain_sid: Sid,
    rng: StdRng,
    rid: u32,
    users: usize,
    computers: usize,
    /// Objects made so far.
    made: usize,
}

impl Generator {
    /// The generator of the domain [`generate`] makes from the same arguments.
    pub fn new(domain: &str, seed: u64, users: usize, computers: usize) -> Generator {
        let mut rng = StdRng::seed_from_u64(seed);
        let domain_sid = domain_sid(&mut rng);
        Generator {
            domain: domain.to_string(),
            container: users_container(domain),
            domain_sid,
            rng,
            rid: 1100,
            users,
            computers,
            made: 0,
        }
    }

    /// Objects in the whole domain.
    pub fn len(&self) -> usize {
        self.users + GROUPS.len() + self.computers
    }

    /// Whether the domain has no object at all (never: the groups are always there).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn next_sid(&mut self) -> Option<Sid> {
        self.rid += 1;
        Some(sid(&self.domain_sid, self.rid))
    }

    fn user(&mut self, i: usize) -> DirectoryObject {
        let first = FIRST[i % FIRST.len()];
        let last = LAST[(i / FIRST.len()) % LAST.len()];
        let sam = format!(
            "{}.{}{}",
            first.to_lowercase(),
            last.to_lowercase(),
            i / 256
        );
        let mut user = DirectoryObject::new(
            guid(&mut self.rng),
            ObjectKind::User,
            format!("{} {}", first, last),
        );
        user.sid = self.next_sid();
        user.upn = Some(format!("{}@{}", sam, self.domain));
        user.mail = Some(format!("{}@{}", sam, self.domain));
        user.employee_id = Some(format!("E{:06}", i + 1));
        user.given_name = Some(first.to_string());
        user.surname = Some(last.to_string());
        user.dn = Some(format!("CN={} {},{}", first, last, self.container));
        user.enabled = Some(true);
        user.sam_account_name = Some(sam);
        user
    }

    fn group(&mut self, name: &str) -> DirectoryObject {
        let mut group = DirectoryObject::new(guid(&mut self.rng), ObjectKind::Group, name);
        group.sid = self.next_sid();
        group.sam_account_name = Some(name.to_string());
        group.dn = Some(format!("CN={},{}", name, self.container));
        group
    }

    fn computer(&mut self, i: usize) -> DirectoryObject {
        let name = format!("WS-{:04}", i + 1);
        let mut computer = DirectoryObject::new(guid(&mut self.rng), ObjectKind::Computer, &name);
        computer.sid = self.next_sid();
        computer.sam_account_name = Some(format!("{}$", name));
        computer.operating_system = Some("Windows 11 Enterprise".to_string());
        computer.enabled = Some(true);
        computer
    }
}

impl Iterator for Generator {
    type Item = DirectoryObject;

    fn next(&mut self) -> Option<DirectoryObject> {
        let i = self.made;
        let object = if i < self.users {
            self.user(i)
        } else if let Some(name) = GROUPS.get(i - self.users) {
            self.group(name)
        } else if i < self.len() {
            self.computer(i - self.users - GROUPS.len())
        } else {
            return None;
        };
        self.made += 1;
        Some(object)
    }
}

/// `CN=Users,DC=contoso,DC=test` for `contoso.test`.
fn users_container(domain: &str) -> String {
    let dcs: Vec<String> = domain.split('.').map(|l| format!("DC={}", l)).collect();
    format!("CN=Users,{}", dcs.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_domain_and_names_line_up_across_domains() {
        let a = generate("contoso.test", 1, 300, 20);
        let b = generate("contoso.test", 1, 300, 20);
        let target = generate("fabrikam.test", 2, 300, 0);
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
        assert_eq!(a.users().count(), 300);
        assert_eq!(a.computers().count(), 20);
        assert_eq!(target.computers().count(), 0);
        let names: std::collections::HashSet<_> =
            a.users().map(|u| u.sam_account_name.clone()).collect();
        assert_eq!(names.len(), 300, "sAMAccountNames are unique");
        for (s, t) in a.users().zip(target.users()) {
            assert_eq!(s.sam_account_name, t.sam_account_name);
            assert_ne!(s.sid, t.sid);
        }
    }
}
