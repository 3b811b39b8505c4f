//! The emulator's shared state: the tenant (kept as a [`Fixture`], so that dumping the
//! state gives a file that loads again), the request log, and the services' bookkeeping.
//! One mutex guards the tenant; it is never held across an `.await`.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::chaos::ChaosEngine;
use crate::clock::Clock;
use crate::fixture::{Fixture, UserObject};
use crate::throttle::Throttle;
use crate::token::device_code::DeviceCodes;
use crate::token::jwt::TokenSigner;

/// One served request, for `GET /_emulator/requests`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct RequestRecord {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) status: u16,
}

/// Everything a handler can reach.
#[derive(Debug)]
pub(crate) struct Emulator {
    pub(crate) tenant: Mutex<Fixture>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) signer: TokenSigner,
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub(crate) base_url: String,
    pub(crate) requests: Mutex<Vec<RequestRecord>>,
    pub(crate) throttle: Mutex<Throttle>,
    pub(crate) chaos: Option<Mutex<ChaosEngine>>,
    pub(crate) device_codes: Mutex<DeviceCodes>,
    pub(crate) latency: Duration,
    pub(crate) ad_snapshot: Option<hardmatch_core::ad::AdSnapshot>,
}

/// Locks a mutex, carrying on with the data if a panicking thread poisoned it: the state
/// is plain data and every update leaves it consistent before it can panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Emulator {
    pub(crate) fn tenant(&self) -> MutexGuard<'_, Fixture> {
        lock(&self.tenant)
    }

    pub(crate) fn graph_base(&self) -> String {
        format!("{}/v1.0", self.base_url)
    }
}

pub(crate) fn string_property<'a>(user: &'a UserObject, name: &str) -> Option<&'a str> {
    user.get(name).and_then(Value::as_str)
}

pub(crate) fn user_id(user: &UserObject) -> &str {
    string_property(user, "id").unwrap_or_default()
}

/// Graph's ids compare case-insensitively; the emulator keeps `Fixture::users` in this
/// order so that a page of a collection starts with a binary search instead of a sort.
pub(crate) fn id_order(left: &str, right: &str) -> std::cmp::Ordering {
    left.bytes()
        .map(|byte| byte.to_ascii_lowercase())
        .cmp(right.bytes().map(|byte| byte.to_ascii_lowercase()))
}

/// Puts the users in id order (stable, so users with equal ids keep their order); done
/// once when the emulator takes a fixture and after a sync cycle has merged its users.
pub(crate) fn order_users(fixture: &mut Fixture) {
    fixture
        .users
        .sort_by(|left, right| id_order(user_id(left), user_id(right)));
}

/// Adds a user where the id order puts it.
pub(crate) fn insert_user(fixture: &mut Fixture, user: UserObject) {
    let position = fixture
        .users
        .partition_point(|other| id_order(user_id(other), user_id(&user)).is_le());
    fixture.users.insert(position, user);
}

pub(crate) fn is_deleted(user: &UserObject) -> bool {
    user.get("deletedDateTime")
        .is_some_and(|value| !value.is_null())
}

pub(crate) fn is_synced(user: &UserObject) -> bool {
    user.get("onPremisesSyncEnabled").and_then(Value::as_bool) == Some(true)
}

/// The index of the active user with this id or userPrincipalName (case-insensitive, as
/// Graph resolves both).
pub(crate) fn find_active_user(fixture: &Fixture, key: &str) -> Option<usize> {
    fixture.users.iter().position(|user| {
        !is_deleted(user)
            && (user_id(user).eq_ignore_ascii_case(key)
                || string_property(user, "userPrincipalName")
                    .is_some_and(|upn| upn.eq_ignore_ascii_case(key)))
    })
}

/// The index of the deleted user with this id.
pub(crate) fn find_deleted_user(fixture: &Fixture, id: &str) -> Option<usize> {
    fixture
        .users
        .iter()
        .position(|user| is_deleted(user) && user_id(user).eq_ignore_ascii_case(id))
}

/// The well-known template id of Global Administrator.
pub(crate) const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";

/// Role definitions counted as privileged when the fixture does not say: Microsoft's
/// built-in roles that protect the sensitive actions (graph-api.md §14).
const PRIVILEGED_TEMPLATES: [&str; 4] = [
    GLOBAL_ADMINISTRATOR,
    "7be44c8a-adaf-4e2a-84d6-ab2649e08a13", // Privileged Authentication Administrator
    "e8611ab8-c189-46e8-94e1-60213ab1f814", // Privileged Role Administrator
    "fe930be7-5e62-47db-91af-98c3a49a38b1", // User Administrator
];

/// Whether a user holds an active role assignment whose definition is privileged: such
/// targets need Privileged Authentication Administrator or Global Administrator for
/// sensitive actions, which `User.ReadWrite.All` alone does not give (graph-api.md §14).
pub(crate) fn holds_privileged_role(fixture: &Fixture, user_id: &str) -> bool {
    fixture
        .role_assignments
        .iter()
        .filter(|assignment| assignment.principal_id.eq_ignore_ascii_case(user_id))
        .any(|assignment| {
            fixture
                .role_definitions
                .iter()
                .find(|definition| definition.id == assignment.role_definition_id)
                .and_then(|definition| definition.is_privileged)
                .unwrap_or_else(|| {
                    PRIVILEGED_TEMPLATES.contains(&assignment.role_definition_id.as_str())
                })
        })
}

/// Whether a user holds Global Administrator actively.
pub(crate) fn is_global_administrator(fixture: &Fixture, user_id: &str) -> bool {
    fixture.role_assignments.iter().any(|assignment| {
        assignment.principal_id.eq_ignore_ascii_case(user_id)
            && assignment.role_definition_id == GLOBAL_ADMINISTRATOR
    })
}
