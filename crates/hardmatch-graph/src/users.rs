//! Typed user operations: list, get, find ImmutableID holders, set/clear the ImmutableID,
//! soft-delete, purge, restore, licences, provisioning errors.

use std::collections::{BTreeMap, BTreeSet};

use hardmatch_core::anchor::ImmutableId;
use hardmatch_core::tenant::{CloudUser, SignInActivity};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::{GraphClient, GraphRequest, PAGE_SIZE, Query, encode_component, odata_string};
use crate::error::{GraphError, Operation};
use crate::settings::ApiVersion;

/// The properties the planner reads; most are only returned when selected.
pub const USER_SELECT: &[&str] = &[
    "id",
    "userPrincipalName",
    "displayName",
    "mail",
    "proxyAddresses",
    "accountEnabled",
    "createdDateTime",
    "onPremisesImmutableId",
    "onPremisesSyncEnabled",
    "onPremisesLastSyncDateTime",
    "onPremisesDistinguishedName",
    "onPremisesSamAccountName",
    "onPremisesUserPrincipalName",
    "onPremisesDomainName",
    "onPremisesSecurityIdentifier",
    "onPremisesProvisioningErrors",
    "assignedLicenses",
];

/// [`USER_SELECT`] plus `deletedDateTime`, for the recycle bin.
pub const DELETED_USER_SELECT: &[&str] = &[
    "id",
    "userPrincipalName",
    "displayName",
    "mail",
    "proxyAddresses",
    "accountEnabled",
    "createdDateTime",
    "deletedDateTime",
    "onPremisesImmutableId",
    "onPremisesSyncEnabled",
    "onPremisesLastSyncDateTime",
    "onPremisesDistinguishedName",
    "onPremisesSamAccountName",
    "onPremisesUserPrincipalName",
    "onPremisesDomainName",
    "onPremisesSecurityIdentifier",
    "onPremisesProvisioningErrors",
    "assignedLicenses",
];

const DELETED_USERS_PATH: &str = "/directory/deletedItems/microsoft.graph.user";

/// Values per `in (…)` clause; Graph caps filter clauses at 15 values.
pub const FILTER_VALUES_PER_REQUEST: usize = 15;

/// Up to this many values, holders are looked up with server-side filters (two requests per
/// 15 values, 20 per `$batch`); above it one full scan of active and deleted users is
/// cheaper for any tenant with more than about 10,000 users, and never slow.
pub const FILTER_LOOKUP_LIMIT: usize = 150;

/// How [`GraphClient::find_immutable_id_holders`] searches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HolderLookup {
    /// Filters up to [`FILTER_LOOKUP_LIMIT`] values, a full scan above.
    #[default]
    Automatic,
    /// `$filter=onPremisesImmutableId eq/in …` on active and deleted users.
    ServerFilter,
    /// Every active and deleted user, matched here.
    FullScan,
}

/// Every holder of each looked-up value, active and deleted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImmutableIdHolders {
    /// One entry per looked-up value, empty when nobody holds it. Deleted users have
    /// `deletedDateTime` set.
    pub holders: BTreeMap<ImmutableId, Vec<CloudUser>>,
    /// The strategy that was used.
    pub strategy: HolderLookup,
}

/// Options of [`GraphClient::restore_deleted_user`] (2026 restore body).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreOptions {
    /// Drop proxy addresses that now belong to someone else instead of failing.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub auto_reconcile_proxy_conflict: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_user_principal_name: Option<String>,
}

/// One write to a user, as [`GraphClient::write_user`] sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserWrite {
    /// PATCH `onPremisesImmutableId` on v1.0.
    SetImmutableId { user_id: String, value: ImmutableId },
    /// PATCH `onPremisesImmutableId: null` on `/beta` (the documented way; v1.0 has refused it).
    ClearImmutableId { user_id: String },
    /// Soft delete (restorable for 30 days).
    Delete { user_id: String },
    /// Permanent deletion from the recycle bin.
    Purge { user_id: String },
    /// Restore from the recycle bin.
    Restore {
        user_id: String,
        options: RestoreOptions,
    },
}

/// What Graph answered to a successful write: its ids, for the audit trail, and the body
/// when it sent one (a restore answers with the object).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WriteReceipt {
    pub request: crate::error::RequestIds,
    pub body: Option<serde_json::Value>,
}

/// Graph `licenseDetails`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseDetails {
    #[serde(default)]
    pub id: String,
    pub sku_id: String,
    #[serde(default)]
    pub sku_part_number: Option<String>,
    #[serde(default)]
    pub service_plans: Vec<ServicePlan>,
}

/// Graph `servicePlanInfo`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePlan {
    pub service_plan_id: String,
    #[serde(default)]
    pub service_plan_name: Option<String>,
    #[serde(default)]
    pub provisioning_status: Option<String>,
    #[serde(default)]
    pub applies_to: Option<String>,
}

/// `/users/{id}`, or `/users('{upn}')` for the UPNs Graph cannot take as a plain segment
/// (starting with `$`).
fn user_path(id_or_upn: &str) -> String {
    if id_or_upn.starts_with('$') {
        format!("/users({})", encode_component(&odata_string(id_or_upn)))
    } else {
        format!("/users/{}", encode_component(id_or_upn))
    }
}

/// The request that makes `write`.
fn user_write_request(write: &UserWrite) -> Result<GraphRequest, GraphError> {
    Ok(match write {
        UserWrite::SetImmutableId { user_id, value } => {
            value
                .validate_for_graph()
                .map_err(|error| GraphError::Configuration {
                    reason: format!("ImmutableID `{value}` cannot be written: {error}"),
                })?;
            GraphRequest::write(
                Method::PATCH,
                user_path(user_id),
                Some(serde_json::json!({ "onPremisesImmutableId": value.as_str() })),
                Operation::SetImmutableId,
                user_id.as_str(),
            )
        }
        UserWrite::ClearImmutableId { user_id } => GraphRequest::write(
            Method::PATCH,
            user_path(user_id),
            Some(serde_json::json!({ "onPremisesImmutableId": null })),
            Operation::ClearOnPremisesAttributes,
            user_id.as_str(),
        )
        .on(ApiVersion::Beta),
        UserWrite::Delete { user_id } => GraphRequest::write(
            Method::DELETE,
            user_path(user_id),
            None,
            Operation::DeleteUser,
            user_id.as_str(),
        ),
        UserWrite::Purge { user_id } => GraphRequest::write(
            Method::DELETE,
            format!("/directory/deletedItems/{}", encode_component(user_id)),
            None,
            Operation::PurgeUser,
            user_id.as_str(),
        ),
        UserWrite::Restore { user_id, options } => {
            let body =
                serde_json::to_value(options).map_err(|error| GraphError::Configuration {
                    reason: format!("restore options: {error}"),
                })?;
            let has_options = body.as_object().is_some_and(|object| !object.is_empty());
            GraphRequest::write(
                Method::POST,
                format!(
                    "/directory/deletedItems/{}/restore",
                    encode_component(user_id)
                ),
                has_options.then_some(body),
                Operation::RestoreUser,
                user_id.as_str(),
            )
        }
    })
}

fn immutable_id_filter(values: &[&ImmutableId]) -> String {
    let values: Vec<&str> = values.iter().map(|value| value.as_str()).collect();
    equals_any("onPremisesImmutableId", &values)
}

/// `property eq 'value'` for one value, `property in ('a','b')` for several.
fn equals_any(property: &str, values: &[&str]) -> String {
    match values {
        [single] => format!("{property} eq {}", odata_string(single)),
        many => format!(
            "{property} in ({})",
            many.iter()
                .map(|value| odata_string(value))
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

impl GraphClient {
    /// Every active user with [`USER_SELECT`], 999 per request.
    pub async fn list_users(&self) -> Result<Vec<CloudUser>, GraphError> {
        self.list_users_with_progress(&mut |_| {}).await
    }

    /// [`list_users`](Self::list_users), reporting the running count after each page.
    pub async fn list_users_with_progress(
        &self,
        progress: &mut (dyn FnMut(usize) + Send),
    ) -> Result<Vec<CloudUser>, GraphError> {
        let path = Query::default()
            .select(USER_SELECT)
            .top(PAGE_SIZE)
            .apply("/users");
        self.list_all(
            &GraphRequest::get(path, Operation::ReadUsers, "users"),
            progress,
        )
        .await
    }

    /// The number of active users (`GET /users/$count`, an advanced query: it needs
    /// `ConsistencyLevel: eventual` and is eventually consistent).
    pub async fn count_users(&self) -> Result<u64, GraphError> {
        let request = GraphRequest::get("/users/$count", Operation::ReadUsers, "users")
            .with_header("ConsistencyLevel", "eventual");
        let incoming = self.send(&request).await?;
        let text = String::from_utf8_lossy(&incoming.body);
        text.trim()
            .trim_start_matches('\u{feff}')
            .parse()
            .map_err(|_| GraphError::UnexpectedResponse {
                reason: format!(
                    "GET /users/$count answered `{}`",
                    text.chars().take(40).collect::<String>()
                ),
                request: incoming.request.clone(),
            })
    }

    /// Active users whose UPN is in `domain` (`endsWith`, an advanced query: `$count=true`
    /// and `ConsistencyLevel: eventual` on every page).
    pub async fn users_in_domain(&self, domain: &str) -> Result<Vec<CloudUser>, GraphError> {
        let filter = format!(
            "endswith(userPrincipalName,{})",
            odata_string(&format!("@{domain}"))
        );
        let path = Query::default()
            .filter(&filter)
            .count()
            .select(USER_SELECT)
            .top(PAGE_SIZE)
            .apply("/users");
        let request = GraphRequest::get(path, Operation::ReadUsers, "users")
            .with_header("ConsistencyLevel", "eventual");
        self.list_all(&request, &mut |_| {}).await
    }

    /// Every user in the recycle bin (deleted in the last 30 days).
    pub async fn list_deleted_users(&self) -> Result<Vec<CloudUser>, GraphError> {
        self.list_deleted_users_with_progress(&mut |_| {}).await
    }

    pub async fn list_deleted_users_with_progress(
        &self,
        progress: &mut (dyn FnMut(usize) + Send),
    ) -> Result<Vec<CloudUser>, GraphError> {
        let path = Query::default()
            .select(DELETED_USER_SELECT)
            .top(PAGE_SIZE)
            .apply(DELETED_USERS_PATH);
        self.list_all(
            &GraphRequest::get(path, Operation::ReadDeletedUsers, "deleted users"),
            progress,
        )
        .await
    }

    /// One active user by object id or UPN.
    pub async fn get_user(&self, id_or_upn: &str) -> Result<CloudUser, GraphError> {
        let path = Query::default()
            .select(USER_SELECT)
            .apply(&user_path(id_or_upn));
        self.get_json(&GraphRequest::get(path, Operation::ReadUsers, id_or_upn))
            .await
    }

    /// One deleted user by object id.
    pub async fn get_deleted_user(&self, id: &str) -> Result<CloudUser, GraphError> {
        let path = Query::default()
            .select(DELETED_USER_SELECT)
            .apply(&format!("/directory/deletedItems/{}", encode_component(id)));
        self.get_json(&GraphRequest::get(path, Operation::ReadDeletedUsers, id))
            .await
    }

    /// Many active users by id or UPN through `$batch`; one result per input, in order.
    pub async fn get_users(
        &self,
        ids_or_upns: &[String],
    ) -> Result<Vec<Result<CloudUser, GraphError>>, GraphError> {
        let requests: Vec<GraphRequest> = ids_or_upns
            .iter()
            .map(|id| {
                let path = Query::default().select(USER_SELECT).apply(&user_path(id));
                GraphRequest::get(path, Operation::ReadUsers, id.clone())
            })
            .collect();
        self.batch_users(&requests).await
    }

    /// Many deleted users by object id through `$batch`; one result per input, in order
    /// (not-found for an id that is not in the recycle bin).
    pub async fn get_deleted_users(
        &self,
        ids: &[String],
    ) -> Result<Vec<Result<CloudUser, GraphError>>, GraphError> {
        let requests: Vec<GraphRequest> = ids
            .iter()
            .map(|id| {
                let path = Query::default()
                    .select(DELETED_USER_SELECT)
                    .apply(&format!("/directory/deletedItems/{}", encode_component(id)));
                GraphRequest::get(path, Operation::ReadDeletedUsers, id.clone())
            })
            .collect();
        self.batch_users(&requests).await
    }

    async fn batch_users(
        &self,
        requests: &[GraphRequest],
    ) -> Result<Vec<Result<CloudUser, GraphError>>, GraphError> {
        let answers = self.batch(ApiVersion::V1, requests).await?;
        Ok(answers
            .into_iter()
            .map(|answer| {
                answer.and_then(|answer| {
                    serde_json::from_value(answer.body).map_err(|error| {
                        GraphError::UnexpectedResponse {
                            reason: format!("user in $batch answer: {error}"),
                            request: Default::default(),
                        }
                    })
                })
            })
            .collect())
    }

    /// Finds every user, active or deleted, holding one of `values` as
    /// `onPremisesImmutableId`. Exact, case-sensitive comparison.
    pub async fn find_immutable_id_holders(
        &self,
        values: &[ImmutableId],
        strategy: HolderLookup,
    ) -> Result<ImmutableIdHolders, GraphError> {
        let wanted: BTreeSet<&ImmutableId> = values.iter().collect();
        let strategy = match strategy {
            HolderLookup::Automatic if wanted.len() <= FILTER_LOOKUP_LIMIT => {
                HolderLookup::ServerFilter
            }
            HolderLookup::Automatic => HolderLookup::FullScan,
            chosen => chosen,
        };
        let mut holders: BTreeMap<ImmutableId, Vec<CloudUser>> = wanted
            .iter()
            .map(|value| ((*value).clone(), Vec::new()))
            .collect();
        let found = match strategy {
            HolderLookup::FullScan => {
                let mut users = self.list_users().await?;
                users.extend(self.list_deleted_users().await?);
                users
            }
            _ => {
                self.filter_holders(&wanted.iter().copied().collect::<Vec<_>>())
                    .await?
            }
        };
        for user in found {
            if let Some(value) = &user.on_premises_immutable_id
                && let Some(list) = holders.get_mut(value)
                && !list.iter().any(|known| known.id == user.id)
            {
                list.push(user);
            }
        }
        Ok(ImmutableIdHolders { holders, strategy })
    }

    async fn filter_holders(&self, values: &[&ImmutableId]) -> Result<Vec<CloudUser>, GraphError> {
        let chunks: Vec<&[&ImmutableId]> = values.chunks(FILTER_VALUES_PER_REQUEST).collect();
        let mut requests = Vec::new();
        for chunk in &chunks {
            requests.push(holder_request(chunk, false, false));
            requests.push(holder_request(chunk, true, false));
        }
        let mut outcome = self.run_holder_requests(&requests).await?;
        // Tenants where this filter is an advanced query (graph-api.md §16 #3) refuse it
        // without `$count=true` and `ConsistencyLevel: eventual`: ask those again so.
        if !outcome.refused_active.is_empty() {
            tracing::debug!(
                "ImmutableID filter refused as a default query; retrying as an advanced query"
            );
            let again: Vec<GraphRequest> = outcome
                .refused_active
                .iter()
                .map(|&index| holder_request(chunks[index / 2], false, true))
                .collect();
            let second = self.run_holder_requests(&again).await?;
            outcome.users.extend(second.users);
            outcome.scan_active |= second.scan_active || !second.refused_active.is_empty();
        }
        if outcome.scan_active {
            outcome.users.extend(self.list_users().await?);
        }
        if outcome.scan_deleted {
            tracing::debug!(
                "ImmutableID filter not usable on deleted items; scanning the recycle bin"
            );
            outcome.users.extend(self.list_deleted_users().await?);
        }
        Ok(outcome.users)
    }

    async fn run_holder_requests(
        &self,
        requests: &[GraphRequest],
    ) -> Result<HolderOutcome, GraphError> {
        let answers = self.batch(ApiVersion::V1, requests).await?;
        let mut outcome = HolderOutcome::default();
        for (index, (request, answer)) in requests.iter().zip(answers).enumerate() {
            let is_deleted = request.operation == Operation::ReadDeletedUsers;
            match answer {
                Ok(answer) => {
                    let page: FilterPage =
                        serde_json::from_value(answer.body).map_err(|error| {
                            GraphError::UnexpectedResponse {
                                reason: format!("holder lookup answer: {error}"),
                                request: Default::default(),
                            }
                        })?;
                    // More than 999 holders of 15 values should not happen (values are
                    // unique among active users); if it does, a scan sees them all.
                    if page.next_link.is_some() {
                        if is_deleted {
                            outcome.scan_deleted = true;
                        } else {
                            outcome.scan_active = true;
                        }
                    }
                    outcome.users.extend(page.value);
                }
                // Some tenants refuse this filter on deleted items (graph-api.md §16 #4): scan
                // the recycle bin instead, it is small.
                Err(GraphError::Request { status: 400, .. }) if is_deleted => {
                    outcome.scan_deleted = true
                }
                Err(GraphError::Request { status: 400, .. }) => outcome.refused_active.push(index),
                Err(error) => return Err(error),
            }
        }
        Ok(outcome)
    }

    /// Sends one write and nothing more: no read-back (callers that check the effect re-read,
    /// in bulk with [`get_users`](Self::get_users)). The receipt carries Graph's
    /// `request-id` and `client-request-id` for the audit trail. An ImmutableID conflict
    /// always names the holder when one can be found: from the error, else by a lookup.
    pub async fn write_user(&self, write: &UserWrite) -> Result<WriteReceipt, GraphError> {
        let request = user_write_request(write)?;
        match self.send(&request).await {
            Ok(incoming) => Ok(WriteReceipt {
                body: serde_json::from_slice(&incoming.body).ok(),
                request: incoming.request,
            }),
            Err(error) => Err(self.name_the_holder(error, write).await),
        }
    }

    /// Sends independent writes in `$batch`es of up to 20 (one per API version), one
    /// result per write, in order. Each item is judged on its own: 2xx succeeded, 429, 503
    /// and 504 are sent again alone after their `Retry-After` (through the pacer), any
    /// other error is that item's, with Graph's message. `Err` as a whole means a batch
    /// got no answer (a transport failure after the retries): whether its writes
    /// happened is unknown, exactly as for a single write without an answer.
    pub async fn write_users(
        &self,
        writes: &[UserWrite],
    ) -> Result<Vec<Result<WriteReceipt, GraphError>>, GraphError> {
        let mut results: Vec<Option<Result<WriteReceipt, GraphError>>> =
            writes.iter().map(|_| None).collect();
        let mut by_version: Vec<(ApiVersion, Vec<usize>, Vec<GraphRequest>)> = Vec::new();
        for (position, write) in writes.iter().enumerate() {
            match user_write_request(write) {
                Ok(request) => {
                    match by_version
                        .iter_mut()
                        .find(|(version, _, _)| *version == request.version)
                    {
                        Some((_, positions, requests)) => {
                            positions.push(position);
                            requests.push(request);
                        }
                        None => by_version.push((request.version, vec![position], vec![request])),
                    }
                }
                Err(error) => results[position] = Some(Err(error)),
            }
        }
        for (version, positions, requests) in by_version {
            let answers = self.batch(version, &requests).await?;
            for (position, answer) in positions.into_iter().zip(answers) {
                let result = match answer {
                    Ok(answer) => Ok(WriteReceipt {
                        body: (!answer.body.is_null()).then_some(answer.body),
                        request: answer.request,
                    }),
                    Err(error) => Err(self.name_the_holder(error, &writes[position]).await),
                };
                results[position] = Some(result);
            }
        }
        Ok(results
            .into_iter()
            .map(|result| {
                result.unwrap_or_else(|| {
                    Err(GraphError::UnexpectedResponse {
                        reason: "$batch answered nothing for a write".to_owned(),
                        request: Default::default(),
                    })
                })
            })
            .collect())
    }

    /// Some tenants answer an ImmutableID conflict without naming the holder (graph-api.md
    /// §16 #2); one lookup names it, so the user is never left with "someone has it".
    async fn name_the_holder(&self, error: GraphError, write: &UserWrite) -> GraphError {
        let (property, message, request, user_id, value) = match (error, write) {
            (
                GraphError::Conflict {
                    property,
                    holder_object_id: None,
                    message,
                    request,
                },
                UserWrite::SetImmutableId { user_id, value },
            ) => (property, message, request, user_id, value),
            (other, _) => return other,
        };
        let holder_object_id = self
            .find_immutable_id_holders(std::slice::from_ref(value), HolderLookup::ServerFilter)
            .await
            .ok()
            .and_then(|found| {
                found
                    .holders
                    .get(value)
                    .and_then(|holders| holders.iter().find(|holder| holder.id != *user_id))
                    .map(|holder| holder.id.to_string())
            });
        GraphError::Conflict {
            property,
            holder_object_id,
            message,
            request,
        }
    }

    /// Sets `onPremisesImmutableId` (v1.0 PATCH), then reads the user back and checks the
    /// value byte for byte.
    pub async fn set_immutable_id(
        &self,
        user_id: &str,
        value: &ImmutableId,
    ) -> Result<CloudUser, GraphError> {
        let receipt = self
            .write_user(&UserWrite::SetImmutableId {
                user_id: user_id.to_owned(),
                value: value.clone(),
            })
            .await?;
        let user = self.get_user(user_id).await?;
        match &user.on_premises_immutable_id {
            Some(found) if found == value => Ok(user),
            found => Err(GraphError::WriteNotApplied {
                expected: value.to_string(),
                found: found
                    .as_ref()
                    .map_or_else(|| "no value".to_owned(), ToString::to_string),
                request: receipt.request,
            }),
        }
    }

    /// Sets many ImmutableIDs through `$batch`; one result per pair, in order. No read-back:
    /// callers re-read with [`get_users`](Self::get_users).
    pub async fn set_immutable_ids(
        &self,
        assignments: &[(String, ImmutableId)],
    ) -> Result<Vec<Result<(), GraphError>>, GraphError> {
        let mut results: Vec<Option<Result<(), GraphError>>> =
            Vec::with_capacity(assignments.len());
        let mut requests = Vec::new();
        let mut positions = Vec::new();
        for (position, (user_id, value)) in assignments.iter().enumerate() {
            match value.validate_for_graph() {
                Ok(()) => {
                    results.push(None);
                    positions.push(position);
                    requests.push(GraphRequest::write(
                        Method::PATCH,
                        user_path(user_id),
                        Some(serde_json::json!({ "onPremisesImmutableId": value.as_str() })),
                        Operation::SetImmutableId,
                        user_id.clone(),
                    ));
                }
                Err(error) => results.push(Some(Err(GraphError::Configuration {
                    reason: format!("ImmutableID `{value}` cannot be written: {error}"),
                }))),
            }
        }
        let answers = self.batch(ApiVersion::V1, &requests).await?;
        for (position, answer) in positions.into_iter().zip(answers) {
            results[position] = Some(answer.map(|_| ()));
        }
        Ok(results
            .into_iter()
            .map(|result| result.unwrap_or(Ok(())))
            .collect())
    }

    /// Clears `onPremisesImmutableId` with JSON `null` on `/beta` (the documented way; v1.0
    /// has refused it), then reads the user back to confirm.
    pub async fn clear_immutable_id(&self, user_id: &str) -> Result<CloudUser, GraphError> {
        let receipt = self
            .write_user(&UserWrite::ClearImmutableId {
                user_id: user_id.to_owned(),
            })
            .await?;
        let user = self.get_user(user_id).await?;
        match &user.on_premises_immutable_id {
            None => Ok(user),
            Some(found) => Err(GraphError::WriteNotApplied {
                expected: "no value".to_owned(),
                found: found.to_string(),
                request: receipt.request,
            }),
        }
    }

    /// Soft-deletes a user (restorable for 30 days).
    pub async fn delete_user(&self, user_id: &str) -> Result<(), GraphError> {
        self.write_user(&UserWrite::Delete {
            user_id: user_id.to_owned(),
        })
        .await
        .map(drop)
    }

    /// Permanently deletes a user from the recycle bin.
    pub async fn purge_deleted_user(&self, user_id: &str) -> Result<(), GraphError> {
        self.write_user(&UserWrite::Purge {
            user_id: user_id.to_owned(),
        })
        .await
        .map(drop)
    }

    /// Restores a user from the recycle bin; returns the restored user.
    pub async fn restore_deleted_user(
        &self,
        user_id: &str,
        options: &RestoreOptions,
    ) -> Result<CloudUser, GraphError> {
        self.write_user(&UserWrite::Restore {
            user_id: user_id.to_owned(),
            options: options.clone(),
        })
        .await?;
        // The restore answer is the object with default properties only; read the planner's set.
        self.get_user(user_id).await
    }

    /// The sign-in activity of active users by object id, 15 ids per request
    /// (`$filter=id in (…)&$select=id,signInActivity`). Every id found is in the answer;
    /// `None` when Graph holds no sign-in for it (never signed in, or last before April
    /// 2020), which is not the same as unused. Ids not found (deleted since) are left out.
    ///
    /// Needs `AuditLog.Read.All` and a tenant with Entra ID P1 or P2; either missing is a
    /// [`GraphError::PermissionDenied`]. Graph serves these reads from its reporting
    /// service, throttled to 5 requests per 10 s and 10 a minute per app and tenant: read
    /// only the users a decision rests on.
    pub async fn sign_in_activity(
        &self,
        ids: &[String],
    ) -> Result<BTreeMap<String, Option<SignInActivity>>, GraphError> {
        self.sign_in_activity_with_progress(ids, &mut |_| {}).await
    }

    /// [`sign_in_activity`](Self::sign_in_activity), reporting how many ids were asked
    /// about after each request: at Graph's rate for these reads, a thousand take minutes.
    pub async fn sign_in_activity_with_progress(
        &self,
        ids: &[String],
        progress: &mut (dyn FnMut(usize) + Send),
    ) -> Result<BTreeMap<String, Option<SignInActivity>>, GraphError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Row {
            id: String,
            #[serde(default)]
            sign_in_activity: Option<SignInActivity>,
        }
        let mut found = BTreeMap::new();
        let mut asked = 0;
        for chunk in ids.chunks(FILTER_VALUES_PER_REQUEST) {
            let ids: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let filter = equals_any("id", &ids);
            let path = Query::default()
                .filter(&filter)
                .select(&["id", "signInActivity"])
                .top(FILTER_VALUES_PER_REQUEST)
                .apply("/users");
            let rows: Vec<Row> = self
                .list_all(
                    &GraphRequest::get(path, Operation::ReadSignInActivity, "users"),
                    &mut |_| {},
                )
                .await?;
            found.extend(rows.into_iter().map(|row| (row.id, row.sign_in_activity)));
            asked += chunk.len();
            progress(asked);
        }
        Ok(found)
    }

    /// A user's licences with their service plans (`/users/{id}/licenseDetails`, 2 RU).
    pub async fn license_details(&self, user_id: &str) -> Result<Vec<LicenseDetails>, GraphError> {
        let path = format!("{}/licenseDetails", user_path(user_id));
        self.list_all(
            &GraphRequest::get(path, Operation::ReadLicenseDetails, user_id)
                .costing(crate::pacer::Cost::read(2.0)),
            &mut |_| {},
        )
        .await
    }

    /// Users with `onPremisesProvisioningErrors` (quarantined UPN or proxy address), found
    /// by one scan with a minimal `$select`, as Graph has no filter for it.
    pub async fn provisioning_errors(&self) -> Result<Vec<CloudUser>, GraphError> {
        let path = Query::default()
            .select(&[
                "id",
                "userPrincipalName",
                "onPremisesImmutableId",
                "onPremisesProvisioningErrors",
            ])
            .top(PAGE_SIZE)
            .apply("/users");
        let users: Vec<CloudUser> = self
            .list_all(
                &GraphRequest::get(path, Operation::ReadUsers, "users"),
                &mut |_| {},
            )
            .await?;
        Ok(users
            .into_iter()
            .filter(|user| !user.on_premises_provisioning_errors.is_empty())
            .collect())
    }
}

/// What one round of holder filters found.
#[derive(Default)]
struct HolderOutcome {
    users: Vec<CloudUser>,
    /// Positions of active-user filters answered 400.
    refused_active: Vec<usize>,
    scan_active: bool,
    scan_deleted: bool,
}

/// The filter request for active (`deleted == false`) or deleted holders of `values`;
/// `advanced` adds `$count=true` and `ConsistencyLevel: eventual`.
fn holder_request(values: &[&ImmutableId], deleted: bool, advanced: bool) -> GraphRequest {
    let filter = immutable_id_filter(values);
    let mut query = Query::default().filter(&filter);
    if advanced {
        query = query.count();
    }
    let (select, path, operation, resource) = if deleted {
        (
            DELETED_USER_SELECT,
            DELETED_USERS_PATH,
            Operation::ReadDeletedUsers,
            "deleted users",
        )
    } else {
        (USER_SELECT, "/users", Operation::ReadUsers, "users")
    };
    let request = GraphRequest::get(
        query.select(select).top(PAGE_SIZE).apply(path),
        operation,
        resource,
    );
    if advanced {
        request.with_header("ConsistencyLevel", "eventual")
    } else {
        request
    }
}

#[derive(Deserialize)]
struct FilterPage {
    #[serde(default)]
    value: Vec<CloudUser>,
    #[serde(default, rename = "@odata.nextLink")]
    next_link: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_use_eq_for_one_and_in_for_several() {
        let first = ImmutableId::from_text("nofCJe0gZk6D8J4gRgrt+A==");
        let second = ImmutableId::from_text("e4ToILwDyEOpOxdbtIkFig==");
        assert_eq!(
            immutable_id_filter(&[&first]),
            "onPremisesImmutableId eq 'nofCJe0gZk6D8J4gRgrt+A=='"
        );
        assert_eq!(
            immutable_id_filter(&[&first, &second]),
            "onPremisesImmutableId in ('nofCJe0gZk6D8J4gRgrt+A==','e4ToILwDyEOpOxdbtIkFig==')"
        );
        assert_eq!(equals_any("id", &["o'neil"]), "id eq 'o''neil'");
    }

    #[test]
    fn user_paths_encode_guest_upns() {
        assert_eq!(
            user_path("jo_contoso.com#EXT#@fabrikam.onmicrosoft.com"),
            "/users/jo_contoso.com%23EXT%23@fabrikam.onmicrosoft.com"
        );
        assert_eq!(
            user_path("$admin@contoso.com"),
            "/users('%24admin@contoso.com')"
        );
    }

    #[test]
    fn select_sets_match_the_planner() {
        // Exactly the properties of the model (those not read separately: the beta-only
        // object identifier and the sign-in activity are left out of a default user's JSON).
        let serde_json::Value::Object(model) =
            serde_json::to_value(CloudUser::default()).expect("a user serializes")
        else {
            panic!("a user is a JSON object")
        };
        let mut modelled: Vec<&str> = model.keys().map(String::as_str).collect();
        let mut deleted = DELETED_USER_SELECT.to_vec();
        modelled.sort_unstable();
        deleted.sort_unstable();
        assert_eq!(deleted, modelled);
        let mut active = USER_SELECT.to_vec();
        active.push("deletedDateTime");
        active.sort_unstable();
        assert_eq!(active, modelled);
    }

    #[test]
    fn restore_options_serialize_only_what_is_set() {
        assert_eq!(
            serde_json::to_value(RestoreOptions::default()).expect("json"),
            serde_json::json!({})
        );
        let options = RestoreOptions {
            auto_reconcile_proxy_conflict: true,
            new_user_principal_name: None,
        };
        assert_eq!(
            serde_json::to_value(options).expect("json"),
            serde_json::json!({"autoReconcileProxyConflict": true})
        );
    }
}
