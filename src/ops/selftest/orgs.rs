//! The org checks, after the personal ones, when the deployment has `[orgs]` and grants team
//! templates (otherwise one `skip` line says why): the probe orgs' first team vends
//! (`org-provision`: org A by probe a, joined by probe b; org B by probe c), keys of every team
//! access for the three (`org-vend`), an object in each org's storage and in the members' own
//! (`org-seed`), what each team access's keys may do on the member's own storage and on the
//! org's (`org-access`), that they reach nothing of org B's storage nor of an org mate's own
//! (`org-isolation`; in prefix mode also the bucket root, the member's stem and the org's stem
//! without the slash and prefixes sharing them), and the org and member revocations
//! (`org-revoke`, `org_revoke.rs`).

use std::collections::BTreeSet;
use std::time::Instant;

use super::checks::verbs_on;
use super::isolation::{Try, judge, reach, root, stem};
use super::{Deployment, Options, OrgSide, Probe, ProbeOrg, Report, SEED, SEED_BODY, Storage, Vended, Verb};
use crate::aws::probe::{Outcome, ProbeS3};
use crate::config::AwsConfig;
use crate::identity::OrgId;

/// A member's keys of one team access: what they reach of their own storage and of the org's.
pub(super) struct Member {
    pub own: Vended,
    pub org: OrgSide,
}

/// The keys of one team access: probes a and b in org A, probe c in org B.
pub(super) struct TeamKeyed {
    pub access: String,
    pub a: Member,
    pub b: Member,
    pub c: Member,
}

/// Where the two probe orgs' storage is, as their first team vends made it.
struct Made {
    a: (OrgId, Storage),
    b: (OrgId, Storage),
}

pub async fn run<D: Deployment>(
    dep: &D,
    aws: &AwsConfig,
    members: [&Probe; 3],
    orgs: &[ProbeOrg; 2],
    options: &Options,
    report: &mut Report,
) {
    let team = match dep.team_accesses() {
        Ok(team) => team,
        Err(why) => {
            report.skip("orgs", format!("not run: {why}"));
            return;
        }
    };
    let Some(first) = team.first() else {
        report.skip("orgs", "not run: no team template is granted".to_owned());
        return;
    };
    let Some(made) = provision(dep, first, members, orgs, report).await else {
        return;
    };
    let keyed = vend(dep, &team, members, orgs, &made, report).await;
    if !seed(aws, &keyed, report).await {
        return;
    }
    for k in &keyed {
        let (own, org) = (&k.a.own, &k.a.org);
        let s3 = ProbeS3::new(aws, &own.keys);
        verbs_on("org-access", &s3, &k.access, &own.storage, &own.grants, None, report).await;
        verbs_on(
            "org-access",
            &s3,
            &k.access,
            &org.storage,
            &org.grants,
            Some("org A"),
            report,
        )
        .await;
    }
    for k in &keyed {
        isolation(aws, k, report).await;
    }
    super::org_revoke::run(
        dep,
        aws,
        &keyed,
        [members[0], members[1]],
        &orgs[0],
        options.revoke_timeout,
        report,
    )
    .await;
}

/// Keys of `access` for `probe` in `org`, refused when they come without the org's storage.
pub(super) async fn vend_one<D: Deployment>(
    dep: &D,
    probe: &Probe,
    org: &ProbeOrg,
    access: &str,
) -> Result<Member, String> {
    let mut own = dep
        .vend_team(probe, org, access)
        .await
        .map_err(|err| format!("probe {}'s `{access}` vend in org {}: {err}", probe.name, org.name))?;
    let org = own.org.take().ok_or_else(|| {
        format!(
            "probe {}'s `{access}` keys came without org {}'s storage",
            probe.name, org.name
        )
    })?;
    Ok(Member { own, org })
}

/// The orgs' first team vends: org A's by probe a, then probe b joining it, then org B's by
/// probe c (whose first login it is as well).
async fn provision<D: Deployment>(
    dep: &D,
    access: &str,
    [a, b, c]: [&Probe; 3],
    [org_a, org_b]: &[ProbeOrg; 2],
    report: &mut Report,
) -> Option<Made> {
    let started = Instant::now();
    let va = match vend_one(dep, a, org_a, access).await {
        Ok(vended) => vended,
        Err(err) => {
            report.fail("org-provision", started, err);
            return None;
        }
    };
    let made_a = &va.org;
    report.pass(
        "org-provision",
        started,
        format!(
            "probe org A (org {}) got {} on probe a's first `{access}` vend",
            made_a.id, made_a.storage
        ),
    );
    let started = Instant::now();
    let result = vend_one(dep, b, org_a, access).await.and_then(|vb| {
        let got = &vb.org;
        if got.id == made_a.id && got.storage == made_a.storage {
            Ok(format!("probe b, a member of org A, got its storage (org {})", got.id))
        } else {
            Err(format!(
                "probe b, a member of org A, got org {} ({}), not org A's {} ({})",
                got.id, got.storage, made_a.id, made_a.storage
            ))
        }
    });
    if !report.record("org-provision", started, result) {
        return None;
    }
    let started = Instant::now();
    let vc = match vend_one(dep, c, org_b, access).await {
        Ok(vended) => vended,
        Err(err) => {
            report.fail("org-provision", started, err);
            return None;
        }
    };
    let made_b = &vc.org;
    if made_b.id == made_a.id || made_b.storage == made_a.storage {
        report.fail(
            "org-provision",
            started,
            format!(
                "probe org B got org A's storage (org {}, {})",
                made_b.id, made_b.storage
            ),
        );
        return None;
    }
    report.pass(
        "org-provision",
        started,
        format!(
            "probe org B (org {}) got {} on probe c's first `{access}` vend (probe c, user {}, got {})",
            made_b.id, made_b.storage, c.user_id, vc.own.storage
        ),
    );
    Some(Made {
        a: (made_a.id, made_a.storage.clone()),
        b: (made_b.id, made_b.storage.clone()),
    })
}

/// Keys of every team access for the three members, each with its org's storage.
async fn vend<D: Deployment>(
    dep: &D,
    team: &[String],
    [a, b, c]: [&Probe; 3],
    [org_a, org_b]: &[ProbeOrg; 2],
    made: &Made,
    report: &mut Report,
) -> Vec<TeamKeyed> {
    let mut keyed = Vec::new();
    for access in team {
        let started = Instant::now();
        let vended = async {
            Ok::<_, String>((
                vend_one(dep, a, org_a, access).await?,
                vend_one(dep, b, org_a, access).await?,
                vend_one(dep, c, org_b, access).await?,
            ))
        };
        let (va, vb, vc) = match vended.await {
            Ok(vended) => vended,
            Err(err) => {
                report.fail("org-vend", started, err);
                continue;
            }
        };
        let is = |m: &Member, (id, storage): &(OrgId, Storage)| m.org.id == *id && m.org.storage == *storage;
        if !(is(&va, &made.a) && is(&vb, &made.a) && is(&vc, &made.b)) {
            report.fail(
                "org-vend",
                started,
                format!("`{access}` keys came with other org storage than the orgs' first vends"),
            );
            continue;
        }
        report.pass(
            "org-vend",
            started,
            format!(
                "`{access}` keys for probes a, b (org A) and c (org B) (template {}; grants {} on own storage; {} on the org's)",
                va.own.template,
                names(&va.own.grants),
                names(&va.org.grants)
            ),
        );
        keyed.push(TeamKeyed {
            access: access.clone(),
            a: va,
            b: vb,
            c: vc,
        });
    }
    keyed
}

fn names(grants: &BTreeSet<Verb>) -> String {
    if grants.is_empty() {
        return "nothing checked here".to_owned();
    }
    grants.iter().map(|v| v.name()).collect::<Vec<_>>().join(", ")
}

/// Writes [`SEED`] into both orgs' storage (with the first team access that may write there)
/// and into probes a's and b's own (with the first that may write there).
async fn seed(aws: &AwsConfig, keyed: &[TeamKeyed], report: &mut Report) -> bool {
    let started = Instant::now();
    let org_writer = keyed.iter().find(|k| k.a.org.grants.contains(&Verb::Put));
    let own_writer = keyed.iter().find(|k| k.a.own.grants.contains(&Verb::Put));
    let (Some(org_writer), Some(own_writer)) = (org_writer, own_writer) else {
        report.fail(
            "org-seed",
            started,
            "no team access grants s3:PutObject on the org's storage and on the member's own: the checks need an object in each".to_owned(),
        );
        return false;
    };
    let writes = [
        ("org A's storage", &org_writer.a.own.keys, &org_writer.a.org.storage),
        ("org B's storage", &org_writer.c.own.keys, &org_writer.c.org.storage),
        (
            "probe a's own storage",
            &own_writer.a.own.keys,
            &own_writer.a.own.storage,
        ),
        (
            "probe b's own storage",
            &own_writer.b.own.keys,
            &own_writer.b.own.storage,
        ),
    ];
    for (place, keys, storage) in writes {
        let outcome = ProbeS3::new(aws, keys)
            .put(&storage.bucket, &storage.key(SEED), SEED_BODY)
            .await;
        if outcome != Outcome::Allowed {
            report.fail(
                "org-seed",
                started,
                format!("writing {SEED} into {place} ({storage}): {outcome:?}"),
            );
            return false;
        }
    }
    report.pass(
        "org-seed",
        started,
        format!(
            "{SEED} written into org A's and org B's storage with `{}` keys, and into probes a's and b's own with `{}` keys",
            org_writer.access, own_writer.access
        ),
    )
}

/// Probe a's keys (org A) against org B's storage and its org mate b's own; in prefix mode
/// also the shared bucket's root, its own stem and org A's without the slash, and prefixes
/// sharing them.
async fn isolation(aws: &AwsConfig, k: &TeamKeyed, report: &mut Report) {
    let s3 = ProbeS3::new(aws, &k.a.own.keys);
    let own = &k.a.own.storage;
    let mut tries: Vec<Try> = reach(&s3, own, &k.c.org.storage, "org B's storage").await;
    tries.extend(reach(&s3, own, &k.b.own.storage, "org mate b's own storage").await);
    if !own.prefix.is_empty() {
        tries.extend(root(&s3, &own.bucket).await);
        tries.extend(stem(&s3, own, None).await);
    }
    let org = &k.a.org.storage;
    if !org.prefix.is_empty() {
        tries.extend(stem(&s3, org, Some("org A")).await);
    }
    judge("org-isolation", &k.access, tries, report);
}
