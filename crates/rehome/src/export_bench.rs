//! `rehome bench export`: creates synthetic users and groups (with nested membership) in a real
//! Active Directory target through a Create-or-Update export, then runs the export again with
//! nothing to write, printing the time and the LDAP operations per second of each. Everything is
//! created under a new OU of its own, which is removed afterwards unless `--keep` is given.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use ldap3::controls::RawControl;
use ldap3::{LdapConnAsync, LdapConnSettings};
use model::directory::{Directory, DirectoryKind, DirectoryObject, ObjectKind};
use model::ids::{DirectoryId, ObjectGuid};
use server::directory::connection::{self, Connection};
use server::directory::export::plan::{Change, TargetEntry};
use server::directory::export::profile::{
    DeletionPolicy, ExportKind, ProfileBody, Scope, SyncMode,
};
use server::directory::export::{self, Applied, ExportRun, TargetWriter};
use server::directory::file::{DirectoryDocument, FileSource};
use server::directory::ldap::LdapConfig;
use server::directory::BoxFuture;
use server::directory::ImportMode;

/// Options of `rehome bench export`.
#[derive(Debug, clap::Args)]
pub struct ExportBenchArgs {
    /// Users to create.
    #[arg(long, default_value_t = 10_000)]
    pub users: usize,
    /// Groups to create; each holds users round robin, and nine in ten hold the next group too.
    #[arg(long, default_value_t = 500)]
    pub groups: usize,
    /// The target DC's LDAPS URL (a new user's password is set only over an encrypted link).
    #[arg(long, env = "REHOME_TEST_LDAP_TARGET_LDAPS_URL")]
    pub url: String,
    /// The account to bind as; its password comes from REHOME_TEST_LDAP_PASSWORD.
    #[arg(long, env = "REHOME_TEST_LDAP_TARGET_BIND_DN")]
    pub bind_dn: String,
    /// The target domain's naming context, e.g. DC=fabrikam,DC=test.
    #[arg(long, env = "REHOME_TEST_LDAP_TARGET_BASE_DN")]
    pub base_dn: String,
    /// The target's DNS domain.
    #[arg(long, env = "REHOME_TEST_LDAP_TARGET_DOMAIN")]
    pub domain: String,
    /// Leave the created OU and its objects in the target.
    #[arg(long)]
    pub keep: bool,
    /// Writes kept in flight, from 1 (one after the other) up to the export's own number.
    #[arg(long, default_value_t = export::WRITES_IN_FLIGHT)]
    pub in_flight: usize,
}

/// A writer that lets at most as many writes through at once as it has permits, to compare
/// an export with fewer writes in flight against the export's own number.
struct Limited<'a> {
    inner: &'a dyn TargetWriter,
    permits: tokio::sync::Semaphore,
}

impl TargetWriter for Limited<'_> {
    fn read<'a>(
        &'a self,
        kind: ExportKind,
        attributes: &'a [String],
    ) -> BoxFuture<'a, server::Result<Vec<TargetEntry>>> {
        self.inner.read(kind, attributes)
    }

    fn apply<'a>(
        &'a self,
        change: &'a Change,
        created: &'a HashMap<ObjectGuid, ObjectGuid>,
    ) -> BoxFuture<'a, server::Result<Applied>> {
        Box::pin(async move {
            let _permit = self
                .permits
                .acquire()
                .await
                .map_err(|e| server::Error::Internal(e.to_string()))?;
            self.inner.apply(change, created).await
        })
    }

    fn operations(&self) -> u64 {
        self.inner.operations()
    }
}

fn password() -> Result<String> {
    match std::env::var("REHOME_TEST_LDAP_PASSWORD") {
        Ok(p) if !p.is_empty() => Ok(p),
        _ => bail!("REHOME_TEST_LDAP_PASSWORD is not set: put the bind account's password there"),
    }
}

/// The synthetic source: `users` users and `groups` groups.
pub(crate) fn source_document(users: usize, groups: usize) -> DirectoryDocument {
    let ou = "OU=Bench,DC=source,DC=test";
    let mut objects = Vec::with_capacity(users + groups);
    for i in 0..users {
        let sam = format!("bench{:05}", i);
        let mut u = DirectoryObject::new(
            ObjectGuid::new(),
            ObjectKind::User,
            format!("Bench User {:05}", i),
        );
        u.sam_account_name = Some(sam.clone());
        u.upn = Some(format!("{}@source.test", sam));
        u.given_name = Some("Bench".into());
        u.surname = Some(format!("User {:05}", i));
        u.mail = Some(format!("{}@source.test", sam));
        u.dn = Some(format!("CN=Bench User {:05},{}", i, ou));
        objects.push(u);
    }
    let user_guids: Vec<ObjectGuid> = objects.iter().map(|o| o.guid).collect();
    let group_guids: Vec<ObjectGuid> = (0..groups).map(|_| ObjectGuid::new()).collect();
    for (g, guid) in group_guids.iter().enumerate() {
        let mut o = DirectoryObject::new(*guid, ObjectKind::Group, format!("Bench Group {:03}", g));
        o.sam_account_name = Some(format!("benchgroup{:03}", g));
        o.dn = Some(format!("CN=Bench Group {:03},{}", g, ou));
        o.members = user_guids
            .iter()
            .enumerate()
            .filter(|(i, _)| groups > 0 && i % groups == g)
            .map(|(_, u)| *u)
            .collect();
        if g % 10 != 9 {
            if let Some(next) = group_guids.get(g + 1) {
                o.members.push(*next);
            }
        }
        objects.push(o);
    }
    DirectoryDocument {
        domain: "source.test".into(),
        domain_sid: Some("S-1-5-21-100-200-300".into()),
        objects,
    }
}

pub(crate) fn report(stage: &str, seconds: f64, run: &ExportRun) {
    println!(
        "{:<28} {:>8.1} s  {:>7} operations  {:>8.1} ops/s  ({} created, {} updated, {} groups' members, {} refused, {} unchanged)",
        stage,
        seconds,
        run.operations,
        run.operations as f64 / seconds.max(1e-9),
        run.created,
        run.updated,
        run.memberships,
        run.refused,
        run.unchanged
    );
}

/// Create-or-Update profiles for users and groups of `source` → `target`, with the default flows.
pub(crate) async fn add_profiles(
    app: &server::App,
    source: DirectoryId,
    target: DirectoryId,
    container: Option<&str>,
) -> server::Result<()> {
    for kind in [ExportKind::Users, ExportKind::Groups] {
        export::put_profile(
            app,
            None,
            ProfileBody {
                name: format!("bench {}", kind.as_str()),
                source,
                target,
                kind,
                mode: SyncMode::CreateOrUpdate,
                scope: Scope::default(),
                flow: Vec::new(),
                containers: Vec::new(),
                default_container: container.map(str::to_string),
                deletion: DeletionPolicy::Leave,
            },
        )
        .await?;
    }
    Ok(())
}

/// A connection to the target bound as the bench's account.
async fn admin(args: &ExportBenchArgs, secret: &str) -> Result<ldap3::Ldap> {
    let (conn, mut ldap) =
        LdapConnAsync::with_settings(LdapConnSettings::new().set_no_tls_verify(true), &args.url)
            .await
            .context("connect to the target DC")?;
    ldap3::drive!(conn);
    ldap.simple_bind(&args.bind_dn, secret)
        .await?
        .success()
        .context("bind")?;
    Ok(ldap)
}

/// Runs `rehome bench export`.
pub fn run(args: ExportBenchArgs) -> Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?
        .block_on(bench(args))
}

async fn bench(args: ExportBenchArgs) -> Result<()> {
    let secret = password()?;
    let dir = std::env::temp_dir().join(format!("rehome-export-bench-{}", uuid::Uuid::new_v4()));
    let store =
        server::store::Store::open_sqlite(&dir, server::secrets::SecretBox::random()).await?;
    let app = server::App::new(
        store,
        Arc::new(model::clock::SystemClock),
        server::Settings::default(),
    );
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let ou = format!("OU=bench-{},{}", tag, args.base_dn);

    let mut ldap = admin(&args, &secret).await?;
    ldap.add(
        &ou,
        vec![("objectClass", HashSet::from(["organizationalUnit"]))],
    )
    .await?
    .success()
    .context("create the bench OU")?;

    let outcome = async {
        let doc = source_document(args.users, args.groups);
        let path = dir.join("source.json");
        std::fs::write(&path, serde_json::to_vec(&doc)?)?;
        let add = |name: &str, domain: &str| Directory {
            id: DirectoryId::new(),
            name: name.to_string(),
            kind: DirectoryKind::ActiveDirectory,
            domain: domain.to_string(),
            domain_id: None,
        };
        let source = server::directory::create(&app, add("BENCH-SOURCE", "source.test"))
            .await?
            .id;
        let target = server::directory::create(&app, add("BENCH-TARGET", &args.domain))
            .await?
            .id;
        server::directory::import_with(
            &app,
            source,
            &FileSource::from_path(&path),
            ImportMode::Full,
        )
        .await?;
        let mut config = LdapConfig::new(&args.url, &args.bind_dn, &secret);
        config.accept_invalid_certs = true;
        config.base_dns = vec![ou.clone()];
        connection::set_connection(&app, target, Connection::Ldap(config)).await?;
        add_profiles(&app, source, target, Some(&ou)).await?;
        if !(1..=export::WRITES_IN_FLIGHT).contains(&args.in_flight) {
            bail!(
                "--in-flight: from 1 to {}, not {}",
                export::WRITES_IN_FLIGHT,
                args.in_flight
            );
        }
        println!(
            "{} users and {} groups into {} ({}), {} writes in flight",
            args.users, args.groups, args.url, ou, args.in_flight
        );
        let profiles = export::profiles(&app).await?;
        // A writer per run: each counts its own operations.
        let real = export::writer_for(&app, target, &profiles).await?;
        let writer = Limited {
            inner: real.as_ref(),
            permits: tokio::sync::Semaphore::new(args.in_flight),
        };
        let started = Instant::now();
        let first = export::run_with(&app, source, target, &writer).await?;
        report("create everything", started.elapsed().as_secs_f64(), &first);
        if first.refused > 0 {
            return Err(anyhow!(
                "{} objects were refused; see the messages",
                first.refused
            ));
        }
        let real = export::writer_for(&app, target, &profiles).await?;
        let writer = Limited {
            inner: real.as_ref(),
            permits: tokio::sync::Semaphore::new(args.in_flight),
        };
        let started = Instant::now();
        let second = export::run_with(&app, source, target, &writer).await?;
        report(
            "again, nothing to write",
            started.elapsed().as_secs_f64(),
            &second,
        );
        Ok::<_, anyhow::Error>(())
    }
    .await;

    if args.keep {
        println!("kept {}", ou);
    } else {
        let started = Instant::now();
        // The tree delete control removes the OU with everything in it in one request.
        let tree_delete = RawControl {
            ctype: "1.2.840.113556.1.4.805".to_string(),
            crit: true,
            val: None,
        };
        // A new connection: the DC closes one left idle through a long export.
        let _ = ldap.unbind().await;
        ldap = admin(&args, &secret).await?;
        ldap.with_controls(vec![tree_delete])
            .delete(&ou)
            .await?
            .success()
            .with_context(|| format!("remove {}", ou))?;
        println!("removed {} in {:.1} s", ou, started.elapsed().as_secs_f64());
    }
    let _ = ldap.unbind().await;
    let _ = std::fs::remove_dir_all(&dir);
    outcome.map_err(|e| match e.downcast::<server::Error>() {
        Ok(e) => anyhow!("{}", e),
        Err(e) => e,
    })
}
