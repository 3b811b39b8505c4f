//! The AD and tenant snapshot readers (what `--ad-snapshot` and `--tenant-snapshot` parse),
//! and the core behind them: the core must not fail on any snapshot that parses.
//!
//! Input: an AD snapshot, a NUL byte, a tenant snapshot (the seeds are the fixtures joined
//! that way). Without a NUL both readers get the whole input.
//!
//! The readers split a snapshot's users into batches as they read; whatever splits and
//! parses piece by piece must be what the whole text parses to.
#![no_main]

use hardmatch_core::ad::AdSnapshot;
use hardmatch_core::diagnose::{DiagnoseOptions, diagnose};
use hardmatch_core::plan::{PlanInput, PlanPolicy, Selection, plan};
use hardmatch_core::snapshot_text::{SnapshotUsers, Unsplittable, UsersSplitter};
use hardmatch_core::tenant::TenantSnapshot;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (ad_bytes, tenant_bytes) = match data.iter().position(|byte| *byte == 0) {
        Some(split) => (&data[..split], &data[split + 1..]),
        None => (data, data),
    };
    let ad = serde_json::from_slice::<AdSnapshot>(ad_bytes);
    let tenant = serde_json::from_slice::<TenantSnapshot>(tenant_bytes);
    if let Some(split) = split_and_parse::<AdSnapshot>(ad_bytes) {
        agrees(&split, &ad);
    }
    if let Some(split) = split_and_parse::<TenantSnapshot>(tenant_bytes) {
        agrees(&split, &tenant);
    }
    let (Ok(ad), Ok(tenant)) = (ad, tenant) else {
        return;
    };
    let diagnosis = diagnose(&ad.users, &tenant, &DiagnoseOptions::default());
    let policy = PlanPolicy::default();
    let input = PlanInput {
        ad_users: &ad.users,
        tenant: &tenant,
        diagnosis: &diagnosis,
        connector_space: None,
        selection: &Selection::AllSafe,
        policy: &policy,
        generated_at: &tenant.taken_at,
    };
    if let Ok(plan) = plan(&input) {
        // A plan the planner made must survive its own file format.
        let text = plan.to_json().expect("a plan serialises");
        let read = hardmatch_core::plan::Plan::from_json(&text).expect("a written plan reads back");
        assert_eq!(read, plan);
    }
});

fn agrees<S: PartialEq + std::fmt::Debug>(split: &S, whole: &Result<S, serde_json::Error>) {
    match whole {
        Ok(whole) => assert_eq!(split, whole, "the split snapshot differs from the whole"),
        // A user parsed on its own sits one level less deep: only the nesting limit may
        // refuse the whole text and let its pieces through.
        Err(error) => assert!(
            error.to_string().starts_with("recursion limit exceeded"),
            "the split snapshot parsed where the whole did not: {error}"
        ),
    }
}

/// The snapshot as the readers build it, in small chunks and batches so that short inputs
/// still cross every boundary; `None` where they would fall back to the whole parse.
fn split_and_parse<S>(bytes: &[u8]) -> Option<S>
where
    S: serde::de::DeserializeOwned + SnapshotUsers,
    S::User: serde::de::DeserializeOwned,
{
    let mut splitter = UsersSplitter::new(48);
    let mut users = Vec::new();
    let mut on_batch = |batch: &[u8]| -> Result<(), Unsplittable> {
        let parsed: Vec<S::User> = serde_json::from_slice(batch).map_err(|_| Unsplittable)?;
        users.extend(parsed);
        Ok(())
    };
    for chunk in bytes.chunks(13) {
        splitter.feed(chunk, &mut on_batch).ok()?;
    }
    let envelope = splitter.finish().ok()?;
    let mut snapshot: S = serde_json::from_slice(&envelope).ok()?;
    snapshot.add_users(users);
    Some(snapshot)
}
