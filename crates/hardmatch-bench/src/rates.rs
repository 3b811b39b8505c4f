//! How often each matching situation occurs in a generated directory, and the exact
//! counts those rates become.
//!
//! Rates are turned into counts up front (`round(rate × users)`) and users are drawn
//! without replacement, so a run with 1000 users and a linked rate of 0.6 has exactly 600
//! linked users, not "about 600". Benchmarks and tests can then state what the planner
//! must find instead of allowing for sampling noise.

use anyhow::{Context, bail};

/// What the tenant holds for one AD user. Exactly one applies to each AD user; users in no
/// category exist only on-premises (the next sync would provision them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    /// Synced, same ImmutableID, joined in the connector space.
    Linked,
    /// A licensed cloud-only account with the same UPN and primary SMTP: a soft-match
    /// candidate and the hard-match target.
    SoftMatch,
    /// The licensed cloud-only account plus a sync-created duplicate that holds the AD
    /// user's ImmutableID under a quarantined placeholder UPN (entra-matching.md §6).
    Duplicate,
    /// The cloud-only target plus a user in the recycle bin that still holds the
    /// ImmutableID (§12).
    RecycleBin,
    /// The cloud-only target plus another active, licensed user that holds the ImmutableID.
    LicensedHolder,
    /// The cloud-only target plus another cloud-only user that holds the AD user's primary
    /// SMTP address as a secondary proxy address.
    ProxyConflict,
    /// The cloud-only target holds an admin role (assigned or PIM-eligible), which blocks
    /// matching (§4, §8).
    Admin,
}

impl Category {
    /// In the order counts are listed and drawn.
    pub const ALL: [Self; 7] = [
        Self::Linked,
        Self::SoftMatch,
        Self::Duplicate,
        Self::RecycleBin,
        Self::LicensedHolder,
        Self::ProxyConflict,
        Self::Admin,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Self::Linked => "linked",
            Self::SoftMatch => "soft_match",
            Self::Duplicate => "duplicate",
            Self::RecycleBin => "recycle_bin",
            Self::LicensedHolder => "licensed_holder",
            Self::ProxyConflict => "proxy_conflict",
            Self::Admin => "admin",
        }
    }

    const fn index(self) -> usize {
        match self {
            Self::Linked => 0,
            Self::SoftMatch => 1,
            Self::Duplicate => 2,
            Self::RecycleBin => 3,
            Self::LicensedHolder => 4,
            Self::ProxyConflict => 5,
            Self::Admin => 6,
        }
    }
}

/// The rates a generated directory is built from. Category rates are shares of the AD
/// users and may not add up to more than 1; `orphan` and `cloud_only` add cloud users
/// that no AD user explains, as a share of the AD user count.
#[derive(Clone, Debug, PartialEq)]
pub struct Rates {
    pub linked: f64,
    pub soft_match: f64,
    pub duplicate: f64,
    pub recycle_bin: f64,
    pub licensed_holder: f64,
    pub proxy_conflict: f64,
    pub admin: f64,
    /// Active cloud users holding an ImmutableID that no AD user has.
    pub orphan: f64,
    /// Cloud-only users unrelated to any AD user.
    pub cloud_only: f64,
    /// AD users whose UPN suffix the tenant has not verified.
    pub unverified_suffix: f64,
    /// Disabled AD users.
    pub disabled: f64,
    /// AD users with mS-DS-ConsistencyGuid set (half of them to their objectGUID, as Entra
    /// Connect stamps it, half to another GUID, as a forest migration leaves it).
    pub consistency_guid: f64,
}

impl Default for Rates {
    /// Shaped like a tenant mid-way through a hybrid rollout; the cloud ends up with about
    /// as many users as AD.
    fn default() -> Self {
        Self {
            linked: 0.60,
            soft_match: 0.15,
            duplicate: 0.04,
            recycle_bin: 0.02,
            licensed_holder: 0.02,
            proxy_conflict: 0.02,
            admin: 0.005,
            orphan: 0.02,
            cloud_only: 0.03,
            unverified_suffix: 0.02,
            disabled: 0.05,
            consistency_guid: 0.30,
        }
    }
}

impl Rates {
    fn category_rate(&self, category: Category) -> f64 {
        match category {
            Category::Linked => self.linked,
            Category::SoftMatch => self.soft_match,
            Category::Duplicate => self.duplicate,
            Category::RecycleBin => self.recycle_bin,
            Category::LicensedHolder => self.licensed_holder,
            Category::ProxyConflict => self.proxy_conflict,
            Category::Admin => self.admin,
        }
    }

    /// Refuses rates outside [0, 1] and category rates that add up to more than 1.
    pub fn validate(&self) -> anyhow::Result<()> {
        let named = [
            ("linked", self.linked),
            ("soft-match", self.soft_match),
            ("duplicate", self.duplicate),
            ("recycle-bin", self.recycle_bin),
            ("licensed-holder", self.licensed_holder),
            ("proxy-conflict", self.proxy_conflict),
            ("admin", self.admin),
            ("orphan", self.orphan),
            ("cloud-only", self.cloud_only),
            ("unverified-suffix", self.unverified_suffix),
            ("disabled", self.disabled),
            ("consistency-guid", self.consistency_guid),
        ];
        for (name, rate) in named {
            if !(0.0..=1.0).contains(&rate) {
                bail!("--{name}-rate must be between 0 and 1, got {rate}");
            }
        }
        let total: f64 = Category::ALL
            .iter()
            .map(|&category| self.category_rate(category))
            .sum();
        // A little slack for decimal rates such as 0.1 + 0.2 that do not add up exactly.
        if total > 1.0 + 1e-9 {
            bail!(
                "the category rates (linked, soft-match, duplicate, recycle-bin, licensed-holder, \
                 proxy-conflict, admin) add up to {total}, more than 1"
            );
        }
        Ok(())
    }

    /// The exact counts these rates give for `users` AD users.
    pub fn counts(&self, users: usize) -> anyhow::Result<Counts> {
        self.validate()?;
        let mut categories = [0usize; 7];
        for category in Category::ALL {
            categories[category.index()] = count_of(self.category_rate(category), users);
        }
        // Rounding each rate can overshoot by a user or two when the rates add up to 1;
        // the last categories give way so the total never exceeds the users.
        let mut excess = categories.iter().sum::<usize>().saturating_sub(users);
        for slot in categories.iter_mut().rev() {
            let taken = excess.min(*slot);
            *slot -= taken;
            excess -= taken;
        }
        Ok(Counts {
            users,
            categories,
            orphans: count_of(self.orphan, users),
            cloud_only: count_of(self.cloud_only, users),
            unverified_suffix: count_of(self.unverified_suffix, users),
            disabled: count_of(self.disabled, users),
            consistency_guid: count_of(self.consistency_guid, users),
        })
    }
}

/// `round(rate × users)`, computed so that it can be stated in a test.
pub fn count_of(rate: f64, users: usize) -> usize {
    // Rates are validated to [0, 1], so the product fits in usize; the conversion
    // saturates rather than wraps in any case.
    (rate * users as f64).round() as usize
}

/// Exact counts for one generated directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counts {
    pub users: usize,
    categories: [usize; 7],
    pub orphans: usize,
    pub cloud_only: usize,
    pub unverified_suffix: usize,
    pub disabled: usize,
    pub consistency_guid: usize,
}

impl Counts {
    pub fn category(&self, category: Category) -> usize {
        self.categories[category.index()]
    }

    /// AD users that no cloud user corresponds to.
    pub fn ad_only(&self) -> usize {
        self.users - self.categories.iter().sum::<usize>()
    }

    /// How many cloud users (active and deleted) the tenant will hold.
    pub fn cloud_users(&self) -> usize {
        let per_category: usize = Category::ALL
            .iter()
            .map(|&category| {
                let users_each = match category {
                    Category::Linked | Category::SoftMatch | Category::Admin => 1,
                    Category::Duplicate
                    | Category::RecycleBin
                    | Category::LicensedHolder
                    | Category::ProxyConflict => 2,
                };
                users_each * self.category(category)
            })
            .sum();
        per_category + self.orphans + self.cloud_only
    }

    /// The categories as `(name, count)`, for summaries.
    pub fn named(&self) -> impl Iterator<Item = (&'static str, usize)> + '_ {
        Category::ALL
            .iter()
            .map(|&category| (category.name(), self.category(category)))
    }

    pub(crate) fn category_counts(&self) -> [usize; 7] {
        self.categories
    }
}

/// Draws members of fixed-size groups from a population without replacement, one
/// population member at a time, so that every group ends up with exactly its count
/// (selection sampling, Knuth TAOCP vol. 2 §3.4.2, generalised to several groups).
pub(crate) struct ExactDraw {
    remaining: Vec<usize>,
    population_left: usize,
}

impl ExactDraw {
    pub(crate) fn new(groups: &[usize], population: usize) -> anyhow::Result<Self> {
        let total: usize = groups.iter().sum();
        if total > population {
            return Err(anyhow::anyhow!(
                "{total} members requested from a population of {population}"
            ))
            .context("drawing exact counts");
        }
        Ok(Self {
            remaining: groups.to_vec(),
            population_left: population,
        })
    }

    /// The group the next population member falls into, if any.
    pub(crate) fn next(&mut self, random: &mut fastrand::Rng) -> Option<usize> {
        if self.population_left == 0 {
            return None;
        }
        let draw = random.usize(..self.population_left);
        self.population_left -= 1;
        let mut cumulative = 0;
        for (group, left) in self.remaining.iter_mut().enumerate() {
            cumulative += *left;
            if draw < cumulative {
                *left -= 1;
                return Some(group);
            }
        }
        None
    }

    /// A yes/no draw: is the next member in the single group?
    pub(crate) fn next_is_member(&mut self, random: &mut fastrand::Rng) -> bool {
        self.next(random).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_draw_hits_every_count_exactly() {
        let mut random = fastrand::Rng::with_seed(7);
        let mut draw = ExactDraw::new(&[3, 5, 0, 2], 17).unwrap();
        let mut seen = [0usize; 4];
        let mut none = 0;
        for _ in 0..17 {
            match draw.next(&mut random) {
                Some(group) => seen[group] += 1,
                None => none += 1,
            }
        }
        assert_eq!(seen, [3, 5, 0, 2]);
        assert_eq!(none, 7);
    }

    #[test]
    fn rates_that_overshoot_are_refused_and_rounding_never_exceeds_the_users() {
        let rates = Rates {
            linked: 0.9,
            soft_match: 0.2,
            ..Rates::default()
        };
        assert!(rates.validate().is_err());
        let rates = Rates {
            linked: 0.5,
            soft_match: 0.5,
            duplicate: 0.0,
            recycle_bin: 0.0,
            licensed_holder: 0.0,
            proxy_conflict: 0.0,
            admin: 0.0,
            ..Rates::default()
        };
        let counts = rates.counts(3).unwrap();
        assert!(counts.ad_only() <= 3);
        assert_eq!(
            counts.category(Category::Linked) + counts.category(Category::SoftMatch),
            3
        );
    }
}
