//! The AD and tenant snapshot readers (what `--ad-snapshot` and `--tenant-snapshot` parse),
//! and the core behind them: the core must not fail on any snapshot that parses.
//!
//! Input: an AD snapshot, a NUL byte, a tenant snapshot (the seeds are the fixtures joined
//! that way). Without a NUL both readers get the whole input.
#![no_main]

use hardmatch_core::ad::AdSnapshot;
use hardmatch_core::diagnose::{DiagnoseOptions, diagnose};
use hardmatch_core::plan::{PlanInput, PlanPolicy, Selection, plan};
use hardmatch_core::tenant::TenantSnapshot;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (ad_bytes, tenant_bytes) = match data.iter().position(|byte| *byte == 0) {
        Some(split) => (&data[..split], &data[split + 1..]),
        None => (data, data),
    };
    let ad = serde_json::from_slice::<AdSnapshot>(ad_bytes);
    let tenant = serde_json::from_slice::<TenantSnapshot>(tenant_bytes);
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
