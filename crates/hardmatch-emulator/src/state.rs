//! The emulator's shared state: the tenant (kept as a [`Fixture`], so that dumping the
//! state gives a file that loads again, inside a [`Tenant`] that indexes it), the request
//! log, and the services' bookkeeping. One mutex guards the tenant; it is never held across
//! an `.await`.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::chaos::ChaosEngine;
use crate::clock::Clock;
use hardmatch_core::tenant::TenantInfo;

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
    pub(crate) tenant: Mutex<Tenant>,
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
    pub(crate) fn tenant(&self) -> MutexGuard<'_, Tenant> {
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
fn order_users(fixture: &mut Fixture) {
    fixture
        .users
        .sort_by(|left, right| id_order(user_id(left), user_id(right)));
}

pub(crate) fn is_deleted(user: &UserObject) -> bool {
    user.get("deletedDateTime")
        .is_some_and(|value| !value.is_null())
}

pub(crate) fn is_synced(user: &UserObject) -> bool {
    user.get("onPremisesSyncEnabled").and_then(Value::as_bool) == Some(true)
}

/// The properties a single-user request looks users up by, besides the id.
const UPN: &str = "userPrincipalName";
const IMMUTABLE_ID: &str = "onPremisesImmutableId";

/// The tenant with the indexes that keep single-user requests from scanning every user: at
/// 50k users a scan per request made writes and lookups, and so a benchmark's thousands of
/// them, cost seconds of CPU each batch. Users stay in id order (`Fixture::users`), so an id
/// is a binary search; UPNs (ASCII-case-folded, as Graph compares them) and ImmutableIDs
/// (exact, as Graph compares them) map to the ids of every user, active or deleted, that
/// holds the value. Reads go through `Deref`; every change of a user goes through the
/// methods below, which keep the indexes in step, so nothing outside this type can change
/// `users` behind their back.
#[derive(Clone, Debug)]
pub(crate) struct Tenant {
    fixture: Fixture,
    by_upn: HashMap<String, Vec<String>>,
    by_immutable_id: HashMap<String, Vec<String>>,
}

impl Deref for Tenant {
    type Target = Fixture;

    fn deref(&self) -> &Fixture {
        &self.fixture
    }
}

/// The values a user is indexed under.
fn index_keys(user: &UserObject) -> (Option<String>, Option<String>) {
    (
        string_property(user, UPN).map(str::to_ascii_lowercase),
        string_property(user, IMMUTABLE_ID).map(str::to_owned),
    )
}

fn index_add(index: &mut HashMap<String, Vec<String>>, key: Option<String>, id: &str) {
    if let Some(key) = key {
        index.entry(key).or_default().push(id.to_owned());
    }
}

fn index_remove(index: &mut HashMap<String, Vec<String>>, key: Option<&String>, id: &str) {
    let Some(key) = key else {
        return;
    };
    if let Some(ids) = index.get_mut(key) {
        if let Some(position) = ids.iter().position(|held| held == id) {
            ids.swap_remove(position);
        }
        if ids.is_empty() {
            index.remove(key);
        }
    }
}

impl Tenant {
    /// Takes a fixture: puts its users in id order and indexes them.
    pub(crate) fn new(mut fixture: Fixture) -> Self {
        order_users(&mut fixture);
        let mut tenant = Self {
            fixture,
            by_upn: HashMap::new(),
            by_immutable_id: HashMap::new(),
        };
        tenant.reindex();
        tenant
    }

    fn reindex(&mut self) {
        self.by_upn.clear();
        self.by_immutable_id.clear();
        for user in &self.fixture.users {
            let (upn, immutable_id) = index_keys(user);
            index_add(&mut self.by_upn, upn, user_id(user));
            index_add(&mut self.by_immutable_id, immutable_id, user_id(user));
        }
    }

    /// The tenant-wide settings, which no index covers.
    pub(crate) fn tenant_info_mut(&mut self) -> &mut TenantInfo {
        &mut self.fixture.tenant
    }

    /// The whole fixture, for a change of many users at once (a sync cycle): the users are
    /// put back in id order and indexed again afterwards, which costs what the cycle itself
    /// costs, O(N log N).
    pub(crate) fn change_all<R>(&mut self, change: impl FnOnce(&mut Fixture) -> R) -> R {
        let result = change(&mut self.fixture);
        order_users(&mut self.fixture);
        self.reindex();
        result
    }

    /// Changes one user (never its id) and moves it in the indexes if its UPN or
    /// ImmutableID changed.
    pub(crate) fn change_user<R>(
        &mut self,
        index: usize,
        change: impl FnOnce(&mut UserObject) -> R,
    ) -> Option<R> {
        let user = self.fixture.users.get_mut(index)?;
        let before = index_keys(user);
        let result = change(user);
        let after = index_keys(user);
        let id = user_id(user).to_owned();
        if before.0 != after.0 {
            index_remove(&mut self.by_upn, before.0.as_ref(), &id);
            index_add(&mut self.by_upn, after.0, &id);
        }
        if before.1 != after.1 {
            index_remove(&mut self.by_immutable_id, before.1.as_ref(), &id);
            index_add(&mut self.by_immutable_id, after.1, &id);
        }
        Some(result)
    }

    /// Adds a user where the id order puts it.
    pub(crate) fn insert_user(&mut self, user: UserObject) {
        let users = &mut self.fixture.users;
        let position =
            users.partition_point(|other| id_order(user_id(other), user_id(&user)).is_le());
        let (upn, immutable_id) = index_keys(&user);
        index_add(&mut self.by_upn, upn, user_id(&user));
        index_add(&mut self.by_immutable_id, immutable_id, user_id(&user));
        users.insert(position, user);
    }

    /// Purges a user: takes it out of the tenant with its role assignments and
    /// eligibilities.
    pub(crate) fn purge_user(&mut self, index: usize) -> Option<UserObject> {
        if index >= self.fixture.users.len() {
            return None;
        }
        let user = self.fixture.users.remove(index);
        let id = user_id(&user);
        let (upn, immutable_id) = index_keys(&user);
        index_remove(&mut self.by_upn, upn.as_ref(), id);
        index_remove(&mut self.by_immutable_id, immutable_id.as_ref(), id);
        self.fixture
            .role_assignments
            .retain(|assignment| !assignment.principal_id.eq_ignore_ascii_case(id));
        self.fixture
            .role_eligibilities
            .retain(|eligibility| !eligibility.principal_id.eq_ignore_ascii_case(id));
        Some(user)
    }

    /// The indexes of the users with this id (case-insensitive), in order: one, unless a
    /// fixture built in code repeats an id.
    fn positions_of_id(&self, id: &str) -> std::ops::Range<usize> {
        let users = &self.fixture.users;
        let start = users.partition_point(|user| id_order(user_id(user), id).is_lt());
        let end = users.partition_point(|user| id_order(user_id(user), id).is_le());
        start..end.max(start)
    }

    /// The indexes of the users an index names under `key`, in id order.
    fn positions_in(&self, index: &HashMap<String, Vec<String>>, key: &str) -> Vec<usize> {
        let mut positions: Vec<usize> = index
            .get(key)
            .into_iter()
            .flatten()
            .flat_map(|id| self.positions_of_id(id))
            .collect();
        positions.sort_unstable();
        positions.dedup();
        positions
    }

    /// The indexes, in id order, of the users (active or deleted) whose userPrincipalName
    /// equals `upn` ignoring ASCII case.
    pub(crate) fn users_with_upn(&self, upn: &str) -> Vec<usize> {
        let mut positions = self.positions_in(&self.by_upn, &upn.to_ascii_lowercase());
        positions.retain(|&position| {
            string_property(&self.fixture.users[position], UPN)
                .is_some_and(|held| held.eq_ignore_ascii_case(upn))
        });
        positions
    }

    /// The indexes, in id order, of the users (active or deleted) whose
    /// onPremisesImmutableId is exactly `immutable_id`.
    pub(crate) fn users_with_immutable_id(&self, immutable_id: &str) -> Vec<usize> {
        let mut positions = self.positions_in(&self.by_immutable_id, immutable_id);
        positions.retain(|&position| {
            string_property(&self.fixture.users[position], IMMUTABLE_ID) == Some(immutable_id)
        });
        positions
    }

    /// The index of the active user with this id or userPrincipalName (case-insensitive, as
    /// Graph resolves both); the first in id order if both name someone.
    pub(crate) fn find_active_user(&self, key: &str) -> Option<usize> {
        let users = &self.fixture.users;
        let by_id = self
            .positions_of_id(key)
            .find(|&position| !is_deleted(&users[position]));
        let by_upn = self
            .users_with_upn(key)
            .into_iter()
            .find(|&position| !is_deleted(&users[position]));
        by_id.into_iter().chain(by_upn).min()
    }

    /// The index of the deleted user with this id.
    pub(crate) fn find_deleted_user(&self, id: &str) -> Option<usize> {
        self.positions_of_id(id)
            .find(|&position| is_deleted(&self.fixture.users[position]))
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(id: &str, upn: &str, immutable_id: Option<&str>) -> UserObject {
        let Value::Object(object) = json!({
            "id": id,
            "userPrincipalName": upn,
            "onPremisesImmutableId": immutable_id,
        }) else {
            unreachable!()
        };
        object
    }

    /// What the indexes must answer, found by scanning every user as the emulator did
    /// before it had them.
    fn scanned_active(tenant: &Tenant, key: &str) -> Option<usize> {
        tenant.users.iter().position(|user| {
            !is_deleted(user)
                && (user_id(user).eq_ignore_ascii_case(key)
                    || string_property(user, UPN).is_some_and(|upn| upn.eq_ignore_ascii_case(key)))
        })
    }

    fn scanned_immutable_id(tenant: &Tenant, value: &str) -> Vec<usize> {
        (0..tenant.users.len())
            .filter(|&position| {
                string_property(&tenant.users[position], IMMUTABLE_ID) == Some(value)
            })
            .collect()
    }

    fn assert_indexes_agree_with_a_scan(tenant: &Tenant, keys: &[&str]) {
        for key in keys {
            assert_eq!(
                tenant.find_active_user(key),
                scanned_active(tenant, key),
                "{key}"
            );
            assert_eq!(
                tenant.users_with_immutable_id(key),
                scanned_immutable_id(tenant, key),
                "{key}"
            );
        }
    }

    #[test]
    fn lookups_follow_every_insert_rename_delete_restore_and_purge() {
        let mut fixture = Fixture::empty("t", "contoso.onmicrosoft.com");
        fixture.users = vec![
            user("c", "Carol@contoso.com", Some("AAA")),
            user("A", "adele@contoso.com", None),
            user("b", "bob@contoso.com", Some("BBB")),
        ];
        let mut tenant = Tenant::new(fixture);
        let keys = [
            "a",
            "B",
            "c",
            "d",
            "ADELE@contoso.com",
            "carol@CONTOSO.com",
            "bob@contoso.com",
            "dan@contoso.com",
            "AAA",
            "BBB",
            "aaa",
            "DDD",
        ];
        assert_indexes_agree_with_a_scan(&tenant, &keys);
        assert_eq!(tenant.find_active_user("carol@contoso.com"), Some(2));

        tenant.insert_user(user("D", "dan@contoso.com", Some("AAA")));
        assert_indexes_agree_with_a_scan(&tenant, &keys);
        assert_eq!(tenant.users_with_immutable_id("AAA").len(), 2);

        let bob = tenant.find_active_user("b").unwrap();
        tenant.change_user(bob, |bob| {
            bob.insert(UPN.into(), json!("robert@contoso.com"));
            bob.insert(IMMUTABLE_ID.into(), json!("DDD"));
        });
        assert_indexes_agree_with_a_scan(&tenant, &keys);
        assert_eq!(tenant.find_active_user("bob@contoso.com"), None);
        assert_eq!(tenant.find_active_user("Robert@contoso.com"), Some(bob));

        let carol = tenant.find_active_user("carol@contoso.com").unwrap();
        tenant.change_user(carol, |carol| {
            carol.insert("deletedDateTime".into(), json!("2026-01-01T00:00:00Z"));
            carol.insert(UPN.into(), json!("c1carol@contoso.onmicrosoft.com"));
        });
        assert_indexes_agree_with_a_scan(&tenant, &keys);
        assert_eq!(tenant.find_active_user("c"), None);
        assert_eq!(tenant.find_deleted_user("C"), Some(carol));
        assert!(tenant.users_with_upn("carol@contoso.com").is_empty());

        tenant.change_user(carol, |carol| {
            carol.remove("deletedDateTime");
            carol.insert(UPN.into(), json!("carol@contoso.com"));
        });
        assert_indexes_agree_with_a_scan(&tenant, &keys);
        assert_eq!(tenant.find_active_user("CAROL@contoso.com"), Some(carol));

        tenant.change_user(carol, |carol| {
            carol.insert("deletedDateTime".into(), json!("2026-01-01T00:00:00Z"));
        });
        tenant.purge_user(carol);
        assert_indexes_agree_with_a_scan(&tenant, &keys);
        assert_eq!(tenant.find_deleted_user("c"), None);
        assert_eq!(tenant.users_with_immutable_id("AAA").len(), 1);

        // A change of many users at once is indexed again as a whole.
        tenant.change_all(|fixture| {
            fixture
                .users
                .push(user("0", "zoe@contoso.com", Some("BBB")));
        });
        assert_eq!(user_id(&tenant.users[0]), "0");
        assert_indexes_agree_with_a_scan(&tenant, &keys);
        assert_eq!(tenant.find_active_user("zoe@contoso.com"), Some(0));
    }

    #[test]
    fn a_upn_that_is_another_users_id_resolves_to_the_first_in_id_order() {
        let mut fixture = Fixture::empty("t", "contoso.onmicrosoft.com");
        fixture.users = vec![user("z", "z2", None), user("a", "z", None)];
        let tenant = Tenant::new(fixture);
        // "z" is user z's id and user a's UPN: a scan in id order meets user a first.
        assert_eq!(tenant.find_active_user("z"), scanned_active(&tenant, "z"));
        assert_eq!(tenant.find_active_user("z"), Some(0));
    }
}
