//! Executing a plan on a pure model of both directories, action by action.

use hardmatch_core::ad::AdUser;
use hardmatch_core::plan::{ActionKind, Plan, apply_ad_actions, apply_cloud_actions};
use hardmatch_core::sync::{
    ConnectorSpace, SyncCycleInput, SyncCycleOutcome, SyncOperation, SyncOptions, SyncScope,
    apply_operations, run_sync_cycle,
};
use hardmatch_core::tenant::{CloudUser, RoleAssignment, TenantInfo};

pub(crate) const NOW: &str = "2026-11-22T03:00:00Z";

/// Both directories and Connect's state, as the emulator holds them.
#[derive(Clone, Debug)]
pub(crate) struct Model {
    pub(crate) ad: Vec<AdUser>,
    pub(crate) cloud: Vec<CloudUser>,
    pub(crate) tenant: TenantInfo,
    pub(crate) roles: Vec<RoleAssignment>,
    pub(crate) eligible: Vec<RoleAssignment>,
    pub(crate) connector_space: ConnectorSpace,
    pub(crate) scope: SyncScope,
    pub(crate) options: SyncOptions,
    pub(crate) created: usize,
}

impl Model {
    pub(crate) fn run(&self) -> SyncCycleOutcome {
        run_sync_cycle(&SyncCycleInput {
            ad_users: &self.ad,
            scope: &self.scope,
            tenant: &self.tenant,
            cloud_users: &self.cloud,
            role_assignments: &self.roles,
            role_eligibilities: &self.eligible,
            connector_space: &self.connector_space,
            options: &self.options,
            now: NOW,
        })
    }

    /// One cycle, applied; new users get `synced-N` ids.
    pub(crate) fn sync(&mut self) -> SyncCycleOutcome {
        let outcome = self.run();
        let created = &mut self.created;
        apply_operations(
            &mut self.cloud,
            &mut self.connector_space,
            &outcome.operations,
            NOW,
            |_| {
                *created += 1;
                format!("synced-{created}")
            },
        );
        outcome
    }

    /// Executes the plan in order, as `apply` would: AD and cloud actions change the
    /// model, `trigger_sync` runs a cycle. Returns every cycle's outcome.
    pub(crate) fn execute(&mut self, plan: &Plan) -> Vec<SyncCycleOutcome> {
        let mut outcomes = Vec::new();
        for action in &plan.actions {
            let single = Plan {
                actions: vec![action.clone()],
                ..plan.clone()
            };
            match action.kind {
                ActionKind::TriggerSync => outcomes.push(self.sync()),
                kind if kind.is_cloud() => apply_cloud_actions(&single, &mut self.cloud, NOW),
                _ => apply_ad_actions(&single, &mut self.ad),
            }
        }
        outcomes
    }

    /// Checks the plan's promise: every planned user is joined to its target, which is
    /// active and synced, and no cycle created a new cloud user for a planned user.
    pub(crate) fn check_linked(
        &self,
        plan: &Plan,
        outcomes: &[SyncCycleOutcome],
    ) -> Result<(), String> {
        for user in &plan.users {
            let join = self
                .connector_space
                .joins
                .iter()
                .find(|join| join.source_anchor.as_str() == user.immutable_id)
                .ok_or_else(|| format!("{} is not joined", user.distinguished_name))?;
            if join.cloud_user_id != user.target_id {
                return Err(format!(
                    "{} is joined to {}, not to its target {}",
                    user.distinguished_name, join.cloud_user_id, user.target_id
                ));
            }
            let target = self
                .cloud
                .iter()
                .find(|cloud| cloud.id == user.target_id)
                .ok_or_else(|| format!("target {} is gone", user.target_id))?;
            if target.is_deleted() || !target.is_synced() {
                return Err(format!("target {} is not an active synced user", target.id));
            }
            for outcome in outcomes {
                for operation in &outcome.operations {
                    if let SyncOperation::Create { source_anchor, .. } = operation
                        && source_anchor.as_str() == user.immutable_id
                    {
                        return Err(format!(
                            "a new duplicate was created for {}",
                            user.distinguished_name
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}
