//! The emulator's switches: every Graph behaviour that graph-api.md §16 lists as UNVERIFIED,
//! with the likeliest value as default, plus lab options (throttling off, device-code
//! auto-approval, tenant size). They live in the fixture so that a scenario states the
//! tenant behaviour it assumes next to the data it uses.

use serde::{Deserialize, Serialize};

/// How a duplicate-ImmutableID PATCH is answered (graph-api.md §16 #2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictShape {
    /// "Another object with the same value for property onPremisesImmutableId already
    /// exists." with `details` naming `ObjectConflict` and `ConflictingObjects`.
    #[default]
    OnPremisesImmutableIdWithDetails,
    /// "Another object with the same value for property immutableId already exists.",
    /// without `details` (2024 capture).
    ImmutableIdWithoutDetails,
}

/// How `POST /users` answers an ImmutableID another object holds (graph-api.md §16 #19).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreateConflictBehaviour {
    /// 400 with the same conflict error as PATCH.
    #[default]
    Conflict,
    /// 500 "The given key was not present in the dictionary" (2017, microsoft-graph-docs#1508).
    KeyNotFound,
}

/// The form of the `Retry-After` header on 429 (graph-api.md §16 #12).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryAfterFormat {
    /// Whole seconds, rounded up: what directory responses usually send.
    #[default]
    Integer,
    /// Seconds with three decimals, as the throttling doc's sample (`2.128`).
    Fractional,
}

/// The tenant-size tier that sets the resource-unit quota (graph-api.md §13).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantSize {
    /// Fewer than 50 users: 3,500 RU per 10 s.
    Small,
    /// 50 to 500 users: 5,000 RU per 10 s.
    Medium,
    /// More than 500 users: 8,000 RU per 10 s.
    Large,
}

impl TenantSize {
    pub fn for_user_count(count: usize) -> Self {
        match count {
            0..50 => Self::Small,
            50..=500 => Self::Medium,
            _ => Self::Large,
        }
    }

    /// Resource units per 10 seconds for one app in one tenant.
    pub fn resource_units_per_ten_seconds(self) -> f64 {
        match self {
            Self::Small => 3_500.0,
            Self::Medium => 5_000.0,
            Self::Large => 8_000.0,
        }
    }
}

/// The 2026 hard-match hardening checks (graph-api.md §16 #18), passed to the sync rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HardeningSettings {
    pub object_identifier_mapping: bool,
    pub assigned_privileged_role: bool,
    pub eligible_privileged_role: bool,
    pub role_through_group: bool,
}

impl Default for HardeningSettings {
    fn default() -> Self {
        Self {
            object_identifier_mapping: true,
            assigned_privileged_role: true,
            eligible_privileged_role: true,
            role_through_group: true,
        }
    }
}

/// Every switch, with its default. Numbers refer to graph-api.md §16.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// #1: soft-deleted users keep and reserve their ImmutableID. Default `true`.
    pub deleted_users_reserve_immutable_id: bool,
    /// #2: shape of the duplicate-ImmutableID error.
    pub conflict_shape: ConflictShape,
    /// #3: `onPremisesImmutableId eq/in` needs advanced query parameters. Default `false`.
    pub immutable_id_filter_requires_advanced_query: bool,
    /// #4: `$filter` on onPremisesImmutableId works on deleted items. Default `true`.
    pub deleted_items_immutable_id_filter: bool,
    /// #5: proxyAddresses compare case-insensitively, prefix included. Default `true`.
    pub proxy_addresses_case_insensitive: bool,
    /// #6: v1.0 PATCH of `onPremisesImmutableId: null` on a cloud-only user is accepted
    /// (204). Default `true`; `false` answers 400 as some tenants did in 2024.
    pub v1_null_immutable_id_patch_allowed: bool,
    /// #7: on-prem attribute writes on restored, formerly synced users
    /// (`onPremisesSyncEnabled == false`) are accepted. Default `true`.
    pub restored_user_on_premises_writes_allowed: bool,
    /// #8: an app-only token may read tenant sync settings. Default `false` (403).
    pub sync_settings_app_only_allowed: bool,
    /// #9: an app-only token may read licenseDetails. Default `true`.
    pub license_details_app_only_allowed: bool,
    /// #11: outer HTTP status of a `$batch` with a throttled item. Default 200.
    pub batch_throttled_outer_status: u16,
    /// #12: the `Retry-After` form.
    pub retry_after_format: RetryAfterFormat,
    /// #13: token responses carry `ext_expires_in`. Default `true`.
    pub token_ext_expires_in: bool,
    /// #14: the 401 message for an expired token.
    pub expired_token_message: String,
    /// #16: ImmutableID PATCH on a user whose UPN is in a federated domain is refused
    /// (400). Default `true`.
    pub federated_immutable_id_patch_rejected: bool,
    /// #17: a deleted user's UPN is rewritten as `<id without dashes><upn>`. Default `true`.
    pub deleted_user_upn_rewritten: bool,
    /// #19: `POST /users` with an ImmutableID another object holds.
    pub create_with_used_immutable_id: CreateConflictBehaviour,
    /// #18: the 2026 hardening checks, passed to the sync cycle.
    pub hardening: HardeningSettings,
    /// Whether Graph lets an app delete a synced user (KB2709902). Default `true`.
    pub synced_user_delete_allowed: bool,
    /// Resource-unit and write-quota throttling. Default `true`; turn off for tests that
    /// do not test throttling and send bursts.
    pub throttling_enabled: bool,
    /// Overrides the tier that the number of active users would give.
    pub tenant_size: Option<TenantSize>,
    /// Page size when `$top` is absent. Graph: 100.
    pub default_page_size: usize,
    /// Lifetime of issued access tokens in seconds. Entra: 3599 (plus jitter).
    pub access_token_lifetime_seconds: u64,
    /// Device code lifetime in seconds. Entra: 900.
    pub device_code_expires_in_seconds: u64,
    /// Device code polling interval in seconds. Entra: 5.
    pub device_code_interval_seconds: u64,
    /// Lab mode: approve a pending device code after this many polls. Default off.
    pub device_code_auto_approve_after_polls: Option<u32>,
    /// The user (UPN or id) an auto-approved device code signs in. Default: the first
    /// active user holding Global Administrator, else the first active user.
    pub device_code_auto_approve_user: Option<String>,
    /// Delay of a "slow response" chaos fault, in milliseconds. Default 2000.
    pub chaos_slow_response_milliseconds: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            deleted_users_reserve_immutable_id: true,
            conflict_shape: ConflictShape::default(),
            immutable_id_filter_requires_advanced_query: false,
            deleted_items_immutable_id_filter: true,
            proxy_addresses_case_insensitive: true,
            v1_null_immutable_id_patch_allowed: true,
            restored_user_on_premises_writes_allowed: true,
            sync_settings_app_only_allowed: false,
            license_details_app_only_allowed: true,
            batch_throttled_outer_status: 200,
            retry_after_format: RetryAfterFormat::default(),
            token_ext_expires_in: true,
            expired_token_message: "Lifetime validation failed, the token is expired.".to_owned(),
            federated_immutable_id_patch_rejected: true,
            deleted_user_upn_rewritten: true,
            hardening: HardeningSettings::default(),
            create_with_used_immutable_id: CreateConflictBehaviour::default(),
            synced_user_delete_allowed: true,
            throttling_enabled: true,
            tenant_size: None,
            default_page_size: 100,
            access_token_lifetime_seconds: 3599,
            device_code_expires_in_seconds: 900,
            device_code_interval_seconds: 5,
            device_code_auto_approve_after_polls: None,
            device_code_auto_approve_user: None,
            chaos_slow_response_milliseconds: 2000,
        }
    }
}
