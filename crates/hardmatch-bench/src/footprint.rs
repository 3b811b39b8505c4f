//! Where the memory of a parsed directory goes (`hardmatch-bench footprint`): the parts of
//! an AD user and a cloud user counted from the parsed values, and what two other layouts
//! of their text would take. A layout change is then judged on figures before it is built.
//!
//! Counts are exact sizes: the records' own bytes (`size_of`), plus the bytes of each
//! value held outside its record. Allocator rounding is left out on every side, so the
//! layouts compare like with like; peak RSS, measured from outside, includes it.

use std::collections::HashSet;
use std::path::Path;

use hardmatch_core::ad::AdUser;
use hardmatch_core::interned::Interned;
use hardmatch_core::tenant::{AssignedLicense, CloudUser};
use serde::{Deserialize, Serialize};

/// Bytes per AD user and cloud user pair (the generator makes one cloud user per AD user,
/// plus a few hundredths), by part.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Footprint {
    pub ad_users: usize,
    pub cloud_users: usize,
    /// `AdUser` and `CloudUser` themselves, each single value's 24-byte slot included.
    pub records: f64,
    /// Single values longer than the 24 bytes a slot holds inline.
    pub long_values: f64,
    /// Proxy addresses: a 24-byte `String` each, and its text.
    pub proxy_addresses: f64,
    /// Licences and provisioning errors, with their text (a licence's shared text once).
    pub other_lists: f64,
    /// The text of every value, short or long, without any slot or length.
    pub text_alone: f64,
    /// The same users with every value (proxy addresses too) in one arena per snapshot, a
    /// value being an 8-byte handle in its record and a 4-byte length before its text.
    pub arena_with_handles: f64,
    /// As `arena_with_handles` with 4-byte offsets instead of handles.
    pub arena_with_offsets: f64,
}

impl Footprint {
    /// What the layout of today takes, the sum of its parts.
    pub fn today(&self) -> f64 {
        self.records + self.long_values + self.proxy_addresses + self.other_lists
    }
}

/// Bytes of a value held in an arena: its 4-byte length and text, 4-byte aligned.
fn in_arena(text: &str) -> usize {
    (4 + text.len()).div_ceil(4) * 4
}

/// A slot of today's layout holds up to 24 bytes of text inline.
const INLINE: usize = 24;

#[derive(Default)]
struct Tally {
    records: usize,
    long_values: usize,
    proxy_addresses: usize,
    other_lists: usize,
    text_alone: usize,
    /// Single values, present or not: each a 24-byte slot in its record today.
    single_values: usize,
    /// Single values and list items, present or not, that a handle or offset would stand for.
    slots: usize,
    arena_text: usize,
    shared_seen: HashSet<Interned>,
}

impl Tally {
    fn value(&mut self, value: Option<&str>) {
        self.single_values += 1;
        self.slots += 1;
        if let Some(text) = value {
            if text.len() > INLINE {
                self.long_values += text.len();
            }
            self.text_alone += text.len();
            self.arena_text += in_arena(text);
        }
    }

    /// Text users share (licence SKUs and plans): counted once, as it is held.
    fn shared(&mut self, text: &Interned) {
        if self.shared_seen.insert(text.clone()) {
            self.other_lists += text.len();
        }
    }

    fn proxy_addresses(&mut self, addresses: &[String]) {
        for address in addresses {
            self.proxy_addresses += size_of::<String>() + address.len();
            self.text_alone += address.len();
            self.slots += 1;
            self.arena_text += in_arena(address);
        }
    }

    fn ad_user(&mut self, user: &AdUser) {
        self.records += size_of::<AdUser>();
        for value in [
            Some(user.distinguished_name.as_str()),
            user.domain.as_deref(),
            Some(user.immutable_id.as_str()),
            user.user_principal_name.as_deref(),
            user.mail.as_deref(),
            user.sam_account_name.as_deref(),
            user.display_name.as_deref(),
            user.object_sid.as_deref(),
        ] {
            self.value(value);
        }
        self.proxy_addresses(&user.proxy_addresses);
    }

    fn cloud_user(&mut self, user: &CloudUser) {
        self.records += size_of::<CloudUser>();
        for value in [
            Some(user.id.as_str()),
            Some(user.user_principal_name.as_str()),
            user.display_name.as_deref(),
            user.mail.as_deref(),
            user.deleted_date_time.as_deref(),
            user.on_premises_immutable_id.as_ref().map(|id| id.as_str()),
            user.on_premises_last_sync_date_time.as_deref(),
            user.on_premises_distinguished_name.as_deref(),
            user.on_premises_sam_account_name.as_deref(),
            user.on_premises_user_principal_name.as_deref(),
            user.on_premises_domain_name.as_deref(),
            user.on_premises_security_identifier.as_deref(),
            user.on_premises_object_identifier.as_deref(),
        ] {
            self.value(value);
        }
        // The creation date is evidence before a deletion.
        self.value(user.created_date_time.as_deref());
        self.proxy_addresses(&user.proxy_addresses);
        for licence in &user.assigned_licenses {
            self.other_lists += size_of::<AssignedLicense>();
            self.shared(&licence.sku_id);
            for plan in &licence.disabled_plans {
                self.other_lists += size_of_val(plan);
                self.shared(plan);
            }
        }
        for error in &user.on_premises_provisioning_errors {
            self.other_lists += size_of_val(error);
            for text in [
                &error.category,
                &error.occurred_date_time,
                &error.property_causing_error,
                &error.value,
            ]
            .into_iter()
            .flatten()
            {
                self.other_lists += text.len();
            }
        }
    }
}

/// Counts the parts of the parsed directories.
pub fn measure(ad_users: &[AdUser], cloud_users: &[CloudUser]) -> Footprint {
    let mut tally = Tally::default();
    ad_users.iter().for_each(|user| tally.ad_user(user));
    cloud_users.iter().for_each(|user| tally.cloud_user(user));
    let pairs = ad_users.len().max(1) as f64;
    let per_pair = |bytes: usize| bytes as f64 / pairs;
    // An arena keeps the records' other fields (GUIDs, flags, list headers); only each
    // single value's 24-byte slot becomes a handle or an offset, and each list item's too.
    let records_without_slots = tally.records - tally.single_values * INLINE;
    let arena = |slot: usize| records_without_slots + tally.slots * slot + tally.arena_text;
    Footprint {
        ad_users: ad_users.len(),
        cloud_users: cloud_users.len(),
        records: per_pair(tally.records),
        long_values: per_pair(tally.long_values),
        proxy_addresses: per_pair(tally.proxy_addresses),
        other_lists: per_pair(tally.other_lists),
        text_alone: per_pair(tally.text_alone),
        arena_with_handles: per_pair(arena(8) + tally.other_lists),
        arena_with_offsets: per_pair(arena(4) + tally.other_lists),
    }
}

/// Reads both snapshots as `status` and `plan` do, and counts them.
pub fn measure_files(ad: &Path, tenant: &Path) -> anyhow::Result<Footprint> {
    let (ad, tenant) = hardmatch::sources::read_snapshot_pair(ad, tenant)?;
    Ok(measure(&ad.users, &tenant.users))
}

#[cfg(test)]
mod tests {
    use hardmatch_core::ad::AnchorAttribute;
    use hardmatch_core::anchor::ObjectGuid;

    use super::*;

    #[test]
    fn parts_and_layouts_count_each_value_once() {
        let guid = ObjectGuid::from_ad_bytes([7; 16]);
        let ad_user = AdUser {
            // 49 bytes: held outside its slot.
            distinguished_name: "CN=Adele Vance,OU=Staff,DC=corp,DC=contoso,DC=com".into(),
            domain: None,
            object_guid: guid,
            consistency_guid: None,
            anchor_attribute: AnchorAttribute::ObjectGuid,
            // 24 bytes, and the 23-byte UPN: inline.
            immutable_id: guid.immutable_id(),
            user_principal_name: Some("adele.vance@contoso.com".into()),
            mail: None,
            proxy_addresses: vec!["SMTP:adele.vance@contoso.com".into()],
            sam_account_name: None,
            display_name: None,
            enabled: true,
            object_sid: None,
        };
        let cloud_user = CloudUser {
            id: "c700c6da-2b00-4817-954d-573b9ae6ca66".into(),
            user_principal_name: "adele.vance@contoso.com".into(),
            created_date_time: Some("2022-08-25T14:16:00Z".into()),
            assigned_licenses: vec![AssignedLicense {
                sku_id: "05e9a617-0261-4cee-bb44-138d3ef5d965".into(),
                disabled_plans: Vec::new(),
            }],
            ..CloudUser::default()
        };
        let footprint = measure(&[ad_user], &[cloud_user]);
        let records = (size_of::<AdUser>() + size_of::<CloudUser>()) as f64;
        let licence = (size_of::<AssignedLicense>() + 36) as f64;
        assert_eq!(footprint.records, records);
        assert_eq!(footprint.long_values, 85.0, "the DN and the cloud id");
        assert_eq!(footprint.proxy_addresses, 52.0, "a String and 28 bytes");
        assert_eq!(footprint.other_lists, licence);
        assert_eq!(footprint.text_alone, 203.0);
        // 8 AD and 14 cloud single values lose their 24-byte slots; they and the one
        // proxy address become handles or offsets, and 236 bytes of lengths and text.
        let kept = records - 22.0 * 24.0 + 236.0 + licence;
        assert_eq!(footprint.arena_with_handles, kept + 23.0 * 8.0);
        assert_eq!(footprint.arena_with_offsets, kept + 23.0 * 4.0);
        assert_eq!(
            footprint.today(),
            records + 85.0 + 52.0 + licence,
            "the sum of today's parts"
        );
    }
}
