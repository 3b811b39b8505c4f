//! `snapshot_tenant`: a point-in-time copy of the tenant in the core's snapshot format.
//!
//! Active users are read in pages of 999 with the planner's `$select`, so a tenant of N
//! users costs ⌈N/999⌉ user-list requests; deleted users, organization, domains, sync flags,
//! role definitions, assignments and eligibilities add one request each (more only past 999
//! entries), and `/users/$count` one more for the progress total and the pacer's tier. The other reads run alongside the user pages. The snapshot holds no
//! credentials: only the Graph root URL and what Graph returned.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use hardmatch_core::tenant::{
    TENANT_SNAPSHOT_FORMAT_VERSION, TenantSnapshot, TenantSnapshotSource,
};

use crate::client::GraphClient;
use crate::error::GraphError;

/// A part of the snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotPhase {
    ActiveUsers,
    DeletedUsers,
    TenantInfo,
    Roles,
}

/// Receives progress; the CLI draws a bar, tests count. Calls may come from concurrent reads.
pub trait Reporter: Send + Sync {
    /// A phase began.
    fn on_phase_started(&self, _phase: SnapshotPhase) {}
    /// The phase will read about `total` items (from `/users/$count`; eventually consistent).
    fn on_total(&self, _phase: SnapshotPhase, _total: u64) {}
    /// `count` items of the phase have been read so far.
    fn on_progress(&self, _phase: SnapshotPhase, _count: usize) {}
    /// A phase finished with `count` items.
    fn on_phase_finished(&self, _phase: SnapshotPhase, _count: usize) {}
}

/// A reporter that shows nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Reporter for NoProgress {}

/// Reads the whole tenant. `taken_at` is the local clock's UTC time when reading started.
pub async fn snapshot_tenant(
    client: &GraphClient,
    progress: &dyn Reporter,
) -> Result<TenantSnapshot, GraphError> {
    let taken_at = rfc3339_utc(SystemTime::now());
    let active = async {
        progress.on_phase_started(SnapshotPhase::ActiveUsers);
        // Best effort: the count gives the progress bar its length and the pacer its tier;
        // a tenant that refuses it is read all the same.
        match client.count_users().await {
            Ok(total) => {
                progress.on_total(SnapshotPhase::ActiveUsers, total);
                client.adopt_tenant_size(total);
            }
            Err(error) => tracing::debug!(%error, "no user count; the progress has no total"),
        }
        let users = client
            .list_users_with_progress(&mut |count| {
                progress.on_progress(SnapshotPhase::ActiveUsers, count)
            })
            .await?;
        progress.on_phase_finished(SnapshotPhase::ActiveUsers, users.len());
        Ok::<_, GraphError>(users)
    };
    let deleted = async {
        progress.on_phase_started(SnapshotPhase::DeletedUsers);
        let users = client
            .list_deleted_users_with_progress(&mut |count| {
                progress.on_progress(SnapshotPhase::DeletedUsers, count)
            })
            .await?;
        progress.on_phase_finished(SnapshotPhase::DeletedUsers, users.len());
        Ok::<_, GraphError>(users)
    };
    let tenant = async {
        progress.on_phase_started(SnapshotPhase::TenantInfo);
        let tenant = client.tenant_info().await?;
        progress.on_phase_finished(SnapshotPhase::TenantInfo, tenant.domains.len());
        Ok::<_, GraphError>(tenant)
    };
    let roles = async {
        progress.on_phase_started(SnapshotPhase::Roles);
        let (definitions, assignments, eligibilities) = tokio::join!(
            client.role_definitions(),
            client.role_assignments(None),
            client.role_eligibilities(None)
        );
        let roles = (definitions?, assignments?, eligibilities?);
        progress.on_phase_finished(SnapshotPhase::Roles, roles.1.len() + roles.2.len());
        Ok::<_, GraphError>(roles)
    };
    let (active, deleted, tenant, roles) = tokio::join!(active, deleted, tenant, roles);
    let mut users = active?;
    users.extend(deleted?);
    let (role_definitions, role_assignments, role_eligibilities) = roles?;
    Ok(TenantSnapshot {
        format_version: TENANT_SNAPSHOT_FORMAT_VERSION,
        source: TenantSnapshotSource {
            kind: if client.has_custom_graph_url() {
                "emulator"
            } else {
                "graph"
            }
            .to_owned(),
            location: client.graph_root(),
        },
        taken_at,
        tenant: tenant?,
        users,
        role_definitions,
        role_assignments,
        role_eligibilities,
    })
}

/// A reporter that records every progress call and total (tests, logs).
#[derive(Debug, Default)]
pub struct CountingReporter {
    counts: Mutex<Vec<(SnapshotPhase, usize)>>,
    totals: Mutex<Vec<(SnapshotPhase, u64)>>,
}

impl CountingReporter {
    /// Every progress call so far, in order.
    pub fn calls(&self) -> Vec<(SnapshotPhase, usize)> {
        self.counts
            .lock()
            .map(|counts| counts.clone())
            .unwrap_or_default()
    }

    /// Every total announced so far.
    pub fn totals(&self) -> Vec<(SnapshotPhase, u64)> {
        self.totals
            .lock()
            .map(|totals| totals.clone())
            .unwrap_or_default()
    }
}

impl Reporter for CountingReporter {
    fn on_total(&self, phase: SnapshotPhase, total: u64) {
        if let Ok(mut totals) = self.totals.lock() {
            totals.push((phase, total));
        }
    }

    fn on_progress(&self, phase: SnapshotPhase, count: usize) {
        if let Ok(mut counts) = self.counts.lock() {
            counts.push((phase, count));
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` without a date crate (days-from-civil, inverted).
fn rfc3339_utc(time: SystemTime) -> String {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let days = (seconds / 86_400) as i64;
    let remainder = seconds % 86_400;
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        remainder / 3_600,
        remainder % 3_600 / 60,
        remainder % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_formatting_matches_known_instants() {
        assert_eq!(rfc3339_utc(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339_utc(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            rfc3339_utc(UNIX_EPOCH + Duration::from_secs(1_795_000_000)),
            "2026-11-18T11:06:40Z"
        );
    }
}
