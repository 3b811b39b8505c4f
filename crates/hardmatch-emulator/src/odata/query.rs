//! Query options of `GET /users` and `GET /directory/deletedItems/microsoft.graph.user`,
//! with Graph's rules: the default property set, `$select`-only properties, `$top` 1–999,
//! `$count` and the ConsistencyLevel requirement of advanced queries (graph-api.md §3),
//! and the opaque, stable `$skiptoken`.

use serde_json::Value;

use super::filter::{self, Comparison, Expression, Literal, StringFunction};
use crate::wire::{GraphError, OrderedObject, query_pairs};

/// The properties `GET /users` returns without `$select` (graph-api.md §3.1), in the order
/// Graph writes them.
pub(crate) const DEFAULT_USER_PROPERTIES: [&str; 11] = [
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];

/// Properties of the v1.0 `user` type (graph-v1.0-excerpt.csdl.xml, with `id` and
/// `deletedDateTime` inherited). Anything else stored on a user (beta's
/// `onPremisesObjectIdentifier`) is served on `/beta` only.
pub(crate) const V1_USER_PROPERTIES: &[&str] = &[
    "id",
    "deletedDateTime",
    "aboutMe",
    "accountEnabled",
    "ageGroup",
    "assignedLicenses",
    "assignedPlans",
    "authorizationInfo",
    "birthday",
    "businessPhones",
    "city",
    "companyName",
    "consentProvidedForMinor",
    "country",
    "createdDateTime",
    "creationType",
    "customSecurityAttributes",
    "department",
    "deviceEnrollmentLimit",
    "displayName",
    "employeeHireDate",
    "employeeId",
    "employeeLeaveDateTime",
    "employeeOrgData",
    "employeeType",
    "externalUserState",
    "externalUserStateChangeDateTime",
    "faxNumber",
    "givenName",
    "hireDate",
    "identities",
    "identityParentId",
    "imAddresses",
    "interests",
    "isManagementRestricted",
    "isResourceAccount",
    "jobTitle",
    "lastPasswordChangeDateTime",
    "legalAgeGroupClassification",
    "licenseAssignmentStates",
    "mail",
    "mailboxSettings",
    "mailNickname",
    "mobilePhone",
    "mySite",
    "officeLocation",
    "onPremisesDistinguishedName",
    "onPremisesDomainName",
    "onPremisesExtensionAttributes",
    "onPremisesImmutableId",
    "onPremisesLastSyncDateTime",
    "onPremisesProvisioningErrors",
    "onPremisesSamAccountName",
    "onPremisesSecurityIdentifier",
    "onPremisesSyncEnabled",
    "onPremisesUserPrincipalName",
    "otherMails",
    "passwordPolicies",
    "passwordProfile",
    "pastProjects",
    "postalCode",
    "preferredDataLocation",
    "preferredLanguage",
    "preferredName",
    "print",
    "provisionedPlans",
    "proxyAddresses",
    "responsibilities",
    "schools",
    "securityIdentifier",
    "serviceProvisioningErrors",
    "showInAddressList",
    "signInActivity",
    "signInSessionsValidFromDateTime",
    "skills",
    "state",
    "streetAddress",
    "surname",
    "usageLocation",
    "userPrincipalName",
    "userType",
];

/// Beta-only user properties the emulator knows.
pub(crate) const BETA_ONLY_USER_PROPERTIES: &[&str] = &["onPremisesObjectIdentifier"];

/// Properties Graph returns only for a single user, never on the collection: selecting
/// them on `/users` is a 501 (graph-api.md §3.1).
const SINGLE_USER_ONLY_PROPERTIES: &[&str] = &[
    "aboutMe",
    "birthday",
    "hireDate",
    "interests",
    "mailboxSettings",
    "mySite",
    "pastProjects",
    "preferredName",
    "responsibilities",
    "schools",
    "skills",
    "print",
];

/// Collection-valued properties: unset means `[]`, never `null`.
const COLLECTION_PROPERTIES: &[&str] = &[
    "assignedLicenses",
    "assignedPlans",
    "businessPhones",
    "identities",
    "imAddresses",
    "interests",
    "licenseAssignmentStates",
    "onPremisesProvisioningErrors",
    "otherMails",
    "pastProjects",
    "provisionedPlans",
    "proxyAddresses",
    "responsibilities",
    "schools",
    "serviceProvisioningErrors",
    "skills",
];

/// Which API version a request came through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ApiVersion {
    V1,
    Beta,
}

impl ApiVersion {
    pub(crate) fn segment(self) -> &'static str {
        match self {
            Self::V1 => "v1.0",
            Self::Beta => "beta",
        }
    }

    /// The canonical spelling of a user property in this version, if it exists.
    pub(crate) fn user_property(self, name: &str) -> Option<&'static str> {
        let known = V1_USER_PROPERTIES.iter().copied().chain(
            BETA_ONLY_USER_PROPERTIES
                .iter()
                .copied()
                .filter(|_| self == Self::Beta),
        );
        known
            .into_iter()
            .find(|property| property.eq_ignore_ascii_case(name))
    }
}

/// The parsed query options of a collection request.
#[derive(Clone, Debug, Default)]
pub(crate) struct QueryOptions {
    pub(crate) select: Option<Vec<&'static str>>,
    pub(crate) filter: Option<Expression>,
    pub(crate) filter_text: Option<String>,
    pub(crate) top: Option<u64>,
    pub(crate) count: bool,
    pub(crate) skip_token: Option<String>,
    pub(crate) order_by: Option<(String, bool)>,
    pub(crate) search: Option<String>,
    pub(crate) expand: bool,
    /// `ConsistencyLevel: eventual` was sent.
    pub(crate) eventual: bool,
}

/// The switches that change query validation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct QueryRules {
    pub(crate) immutable_id_requires_advanced: bool,
    /// Deleted items: whether `onPremisesImmutableId` may be filtered at all.
    pub(crate) immutable_id_filterable: bool,
}

impl QueryOptions {
    /// Parses and validates the query string of a user collection request.
    pub(crate) fn parse(
        query: &str,
        consistency_level: Option<&str>,
        version: ApiVersion,
        collection: bool,
        rules: QueryRules,
    ) -> Result<Self, GraphError> {
        let mut options = Self {
            eventual: consistency_level
                .is_some_and(|level| level.trim().eq_ignore_ascii_case("eventual")),
            ..Self::default()
        };
        for (key, value) in query_pairs(query) {
            let name = key.trim_start_matches('$').to_ascii_lowercase();
            match name.as_str() {
                "select" => options.select = Some(parse_select(&value, version, collection)?),
                "filter" => {
                    options.filter = Some(filter::parse(&value).map_err(|error| {
                        tracing::debug!(?error, filter = %value, "invalid $filter");
                        GraphError::bad_request(format!("Invalid filter clause: {}", error.0))
                    })?);
                    options.filter_text = Some(value);
                }
                "top" => {
                    let top = value
                        .trim()
                        .parse::<u64>()
                        .ok()
                        .filter(|top| (1..=999).contains(top));
                    // graph-api.md §3.1: exact 400 outside 1–999.
                    options.top = Some(top.ok_or_else(|| {
                        GraphError::unsupported_query(format!(
                            "Invalid page size specified: '{value}'. Must be between 1 and 999 inclusive."
                        ))
                    })?);
                }
                "count" => options.count = value.eq_ignore_ascii_case("true"),
                "skiptoken" => options.skip_token = Some(value),
                "skip" => {
                    // graph-api.md §3.1: no $skip on users (SkipSupported=false).
                    return Err(GraphError::bad_request(
                        "'$skip' is not supported by the service.",
                    ));
                }
                "orderby" => {
                    let mut parts = value.split_whitespace();
                    let property = parts.next().unwrap_or_default();
                    let descending = parts
                        .next()
                        .is_some_and(|direction| direction.eq_ignore_ascii_case("desc"));
                    let property = version.user_property(property).ok_or_else(|| {
                        GraphError::bad_request(format!(
                            "Could not find a property named '{property}' on type 'microsoft.graph.user'."
                        ))
                    })?;
                    options.order_by = Some((property.to_owned(), descending));
                }
                "search" => options.search = Some(value),
                "expand" => options.expand = true,
                _ => {}
            }
        }
        options.check_advanced(rules)?;
        Ok(options)
    }

    fn advanced_parameters(&self) -> bool {
        self.eventual && self.count
    }

    /// Graph's advanced-query rules (graph-api.md §3.2, §3.3).
    fn check_advanced(&self, rules: QueryRules) -> Result<(), GraphError> {
        if self.search.is_some() && !self.eventual {
            return Err(GraphError::bad_request(
                "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'",
            ));
        }
        if self.expand && (self.eventual || self.search.is_some()) {
            return Err(GraphError::unsupported_query(
                "The specified filter to the reference property query is currently not supported.",
            ));
        }
        if let Some(expression) = &self.filter {
            match needs_advanced(expression, rules, None) {
                Need::Unsupported(property) => return Err(unsupported_filter_property(&property)),
                Need::Operator(operator) if !self.advanced_parameters() => {
                    return Err(advanced_operator(&operator));
                }
                Need::Property(property) if !self.advanced_parameters() => {
                    return Err(unsupported_filter_property(&property));
                }
                _ => {}
            }
            if self.order_by.is_some() && !self.advanced_parameters() {
                return Err(GraphError::unsupported_query(
                    "Sorting not supported for current query.",
                ));
            }
        }
        if let Some((property, _)) = &self.order_by {
            let default_sortable = matches!(property.as_str(), "displayName" | "userPrincipalName");
            if !default_sortable && !self.advanced_parameters() {
                return Err(GraphError::unsupported_query(format!(
                    "Order by '{property}' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information"
                )));
            }
        }
        Ok(())
    }

    /// `@odata.count` is written only when both `$count=true` and the header are present;
    /// without the header `$count=true` is silently ignored (graph-api.md §3.2).
    pub(crate) fn writes_count(&self) -> bool {
        self.count && self.eventual
    }
}

fn advanced_operator(operator: &str) -> GraphError {
    GraphError::unsupported_query(format!(
        "Operator '{operator}' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information"
    ))
}

fn unsupported_filter_property(property: &str) -> GraphError {
    GraphError::unsupported_query(format!(
        "Unsupported or invalid query filter clause specified for property '{property}' of resource 'User'."
    ))
}

fn parse_select(
    value: &str,
    version: ApiVersion,
    collection: bool,
) -> Result<Vec<&'static str>, GraphError> {
    let mut selected = Vec::new();
    for name in value
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        let property = version.user_property(name).ok_or_else(|| {
            GraphError::bad_request(format!(
                "Could not find a property named '{name}' on type 'microsoft.graph.user'."
            ))
        })?;
        if collection && SINGLE_USER_ONLY_PROPERTIES.contains(&property) {
            return Err(GraphError::new(
                http::StatusCode::NOT_IMPLEMENTED,
                "NotImplemented",
                format!(
                    "The '{property}' property is not supported when retrieving a collection of users. Retrieve it for a single user instead."
                ),
            ));
        }
        if !selected.contains(&property) {
            selected.push(property);
        }
    }
    Ok(selected)
}

/// What a filter clause needs beyond the default.
#[derive(Debug, PartialEq)]
enum Need {
    Nothing,
    /// An operator that is always advanced (`ne`, `not`, `endsWith`, `/$count`).
    Operator(String),
    /// A property whose filter is advanced-only.
    Property(String),
    /// A property that cannot be filtered at all.
    Unsupported(String),
}

/// What Graph supports per property, without advanced parameters (graph-api.md §3.3).
struct Capability {
    equality: bool,
    starts_with: bool,
    range: bool,
}

fn capability(property: &str, rules: QueryRules) -> Option<Capability> {
    let default_equality = |starts_with| Capability {
        equality: true,
        starts_with,
        range: false,
    };
    Some(match property {
        "id"
        | "accountEnabled"
        | "onPremisesSyncEnabled"
        | "onPremisesSecurityIdentifier"
        | "usageLocation"
        | "userType"
        | "employeeId"
        | "securityIdentifier"
        | "creationType"
        | "externalUserState" => default_equality(false),
        "userPrincipalName"
        | "mail"
        | "displayName"
        | "givenName"
        | "surname"
        | "mailNickname"
        | "jobTitle"
        | "onPremisesUserPrincipalName"
        | "preferredLanguage" => default_equality(true),
        "onPremisesImmutableId" => {
            if !rules.immutable_id_filterable {
                return None;
            }
            Capability {
                equality: !rules.immutable_id_requires_advanced,
                starts_with: false,
                range: false,
            }
        }
        "createdDateTime" | "deletedDateTime" | "onPremisesLastSyncDateTime" => Capability {
            equality: true,
            starts_with: false,
            range: true,
        },
        "onPremisesSamAccountName"
        | "onPremisesDistinguishedName"
        | "onPremisesDomainName"
        | "companyName"
        | "department"
        | "city"
        | "country"
        | "state"
        | "officeLocation"
        | "postalCode"
        | "streetAddress"
        | "mobilePhone"
        | "faxNumber"
        | "employeeType"
        | "employeeHireDate"
        | "lastPasswordChangeDateTime" => Capability {
            equality: false,
            starts_with: false,
            range: false,
        },
        _ => return None,
    })
}

/// Collections whose `any` is supported, and which element operators are default.
fn lambda_capability(collection: &str) -> Option<Capability> {
    match collection {
        "proxyAddresses" | "otherMails" | "imAddresses" | "businessPhones" => Some(Capability {
            equality: true,
            starts_with: true,
            range: false,
        }),
        "assignedLicenses" | "assignedPlans" | "identities" => Some(Capability {
            equality: true,
            starts_with: false,
            range: false,
        }),
        _ => None,
    }
}

fn canonical(name: &str) -> String {
    ApiVersion::Beta
        .user_property(name)
        .map_or_else(|| name.to_owned(), str::to_owned)
}

fn combine(left: Need, right: Need) -> Need {
    match (left, right) {
        (unsupported @ Need::Unsupported(_), _) | (_, unsupported @ Need::Unsupported(_)) => {
            unsupported
        }
        (operator @ Need::Operator(_), _) | (_, operator @ Need::Operator(_)) => operator,
        (property @ Need::Property(_), _) | (_, property @ Need::Property(_)) => property,
        _ => Need::Nothing,
    }
}

fn needs_advanced(
    expression: &Expression,
    rules: QueryRules,
    lambda: Option<(&str, &str)>,
) -> Need {
    // `lambda` is (range variable, collection) inside `any`.
    let clause = |path: &[String],
                  equality: bool,
                  starts_with: bool,
                  range: bool,
                  null: bool,
                  operator: &str|
     -> Need {
        let first = path.first().map(String::as_str).unwrap_or_default();
        let capability = match lambda {
            Some((variable, collection)) if first == variable => lambda_capability(collection),
            _ => capability(&canonical(first), rules),
        };
        let Some(capability) = capability else {
            return Need::Unsupported(canonical(first));
        };
        if null {
            return Need::Property(canonical(first));
        }
        let default = (equality && capability.equality)
            || (starts_with && capability.starts_with)
            || (range && capability.range);
        if default {
            Need::Nothing
        } else if operator == "endsWith" || operator == "ne" {
            Need::Operator(operator.to_owned())
        } else if capability.equality || capability.starts_with || capability.range {
            // A supported property, but not with this operator by default.
            Need::Operator(operator.to_owned())
        } else {
            Need::Property(canonical(first))
        }
    };
    match expression {
        Expression::And(left, right) | Expression::Or(left, right) => combine(
            needs_advanced(left, rules, lambda),
            needs_advanced(right, rules, lambda),
        ),
        Expression::Not(inner) => combine(
            Need::Operator("not".into()),
            needs_advanced(inner, rules, lambda),
        ),
        Expression::Compare {
            path,
            operator,
            value,
        } => match operator {
            Comparison::NotEqual => combine(
                Need::Operator("ne".into()),
                clause(path, true, false, false, false, "ne"),
            ),
            Comparison::Equal => clause(path, true, false, false, *value == Literal::Null, "eq"),
            other => clause(path, false, false, true, false, other.name()),
        },
        Expression::In { path, .. } => clause(path, true, false, false, false, "in"),
        Expression::Function { function, path, .. } => match function {
            StringFunction::EndsWith => combine(
                Need::Operator("endsWith".into()),
                clause(path, false, false, false, false, "endsWith"),
            ),
            StringFunction::StartsWith => clause(path, false, true, false, false, "startsWith"),
        },
        Expression::Any {
            collection,
            variable,
            body,
        } => {
            let collection = canonical(collection);
            if lambda_capability(&collection).is_none() {
                return Need::Unsupported(collection);
            }
            needs_advanced(body, rules, Some((variable.as_str(), collection.as_str())))
        }
        Expression::Count { collection, .. } => {
            let collection = canonical(collection);
            if lambda_capability(&collection).is_none() {
                return Need::Unsupported(collection);
            }
            Need::Operator("$count".into())
        }
    }
}

/// Projects a stored user onto the selected (or default) properties, in order. Unset
/// properties are `null`, unset collections `[]`, as Graph writes them.
pub(crate) fn project_user(
    user: &serde_json::Map<String, Value>,
    select: Option<&[&'static str]>,
) -> OrderedObject {
    let properties: &[&str] = select.unwrap_or(&DEFAULT_USER_PROPERTIES);
    let mut object = OrderedObject::default();
    for &property in properties {
        let value = user.get(property).cloned().unwrap_or_else(|| {
            if COLLECTION_PROPERTIES.contains(&property) {
                Value::Array(Vec::new())
            } else {
                Value::Null
            }
        });
        object.push(property, value);
    }
    object
}

/// Where the next page of a result set starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Resume {
    /// After the user with this id, in id order: the default order, so that a page is
    /// found by binary search and costs only what it returns.
    AfterId(String),
    /// At this position of a result set sorted by `$orderby`, which has to be sorted whole.
    Offset(usize),
}

/// A position in a result set, encoded so that clients cannot (and need not) read it:
/// `X'<hex>'` like Graph's own tokens.
pub(crate) fn encode_skip_token(fingerprint: u64, resume: &Resume) -> String {
    let payload = match resume {
        Resume::AfterId(id) => format!("hm1:{fingerprint:016x}:after:{id}"),
        Resume::Offset(offset) => format!("hm1:{fingerprint:016x}:{offset}"),
    };
    let hex: String = payload.bytes().map(|byte| format!("{byte:02X}")).collect();
    format!("X'{hex}'")
}

/// Reads a skip token issued for the same query; `None` when it is foreign or stale.
pub(crate) fn decode_skip_token(token: &str, fingerprint: u64) -> Option<Resume> {
    let hex = token.strip_prefix("X'")?.strip_suffix('\'')?;
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(hex.get(index..index + 2)?, 16).ok())
        .collect();
    let payload = String::from_utf8(bytes?).ok()?;
    let mut parts = payload.splitn(3, ':');
    if parts.next()? != "hm1" {
        return None;
    }
    let token_fingerprint = u64::from_str_radix(parts.next()?, 16).ok()?;
    if token_fingerprint != fingerprint {
        return None;
    }
    let position = parts.next()?;
    match position.strip_prefix("after:") {
        Some(id) => Some(Resume::AfterId(id.to_owned())),
        None => position.parse().ok().map(Resume::Offset),
    }
}

/// A stable hash of the query options that shape a result set, so a skip token is only
/// honoured for the query that issued it.
pub(crate) fn fingerprint(parts: &[&str]) -> u64 {
    // FNV-1a: stable across runs and platforms, unlike the std hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// The `@odata.context` fragment for users, e.g. `users(id,userPrincipalName)`.
pub(crate) fn context_fragment(entity_set: &str, select: Option<&[&'static str]>) -> String {
    match select {
        Some(properties) if !properties.is_empty() => {
            format!("{entity_set}({})", properties.join(","))
        }
        _ => entity_set.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: QueryRules = QueryRules {
        immutable_id_requires_advanced: false,
        immutable_id_filterable: true,
    };

    fn parse(query: &str, eventual: bool) -> Result<QueryOptions, GraphError> {
        QueryOptions::parse(
            query,
            eventual.then_some("eventual"),
            ApiVersion::V1,
            true,
            RULES,
        )
    }

    fn message(query: &str, eventual: bool) -> String {
        parse(query, eventual)
            .map(|_| String::new())
            .unwrap_or_else(|error| error.message)
    }

    #[test]
    fn top_outside_1_to_999_is_the_exact_400() {
        // graph-api.md §3.1: $top=1000 → 400 Request_UnsupportedQuery.
        let error = parse("$top=1000", false).unwrap_err();
        assert_eq!(error.code, "Request_UnsupportedQuery");
        assert_eq!(
            error.message,
            "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive."
        );
        assert!(parse("$top=0", false).is_err());
        assert_eq!(parse("$top=999", false).unwrap().top, Some(999));
    }

    #[test]
    fn advanced_operators_need_consistency_level_and_count() {
        // graph-api.md §3.3: endsWith is advanced-only, with this exact text.
        assert_eq!(
            message("$filter=endsWith(mail,'@contoso.com')", false),
            "Operator 'endsWith' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information"
        );
        assert!(
            message("$filter=endsWith(mail,'@contoso.com')", true).contains("Operator 'endsWith'")
        );
        assert!(parse("$filter=endsWith(mail,'@contoso.com')&$count=true", true).is_ok());
        assert!(message("$filter=userPrincipalName ne 'x'", false).contains("Operator 'ne'"));
        assert!(message("$filter=not(userPrincipalName eq 'x')", false).contains("Operator 'not'"));
        assert!(message("$filter=proxyAddresses/$count eq 0", false).contains("Operator '$count'"));
        assert!(
            message("$filter=proxyAddresses/any(p:endsWith(p,'x'))", false).contains("endsWith")
        );
    }

    #[test]
    fn default_filters_need_nothing() {
        // graph-api.md §3.3 table, "Default" column.
        for filter in [
            "onPremisesImmutableId eq 'abc'",
            "onPremisesImmutableId in ('a','b')",
            "proxyAddresses/any(p:p eq 'smtp:bob@contoso.com')",
            "proxyAddresses/any(p:startsWith(p,'smtp:bob'))",
            "onPremisesSyncEnabled eq true",
            "onPremisesSecurityIdentifier eq 'S-1-5'",
            "onPremisesUserPrincipalName eq 'a@b'",
            "startsWith(onPremisesUserPrincipalName,'a')",
            "startsWith(userPrincipalName,'a') or mail eq 'x'",
            "assignedLicenses/any(a:a/skuId eq c7df2760-2c81-4ef7-b578-5b5392b571df)",
        ] {
            assert!(
                parse(&format!("$filter={filter}"), false).is_ok(),
                "{filter}"
            );
        }
    }

    #[test]
    fn advanced_only_properties_and_unfilterable_ones() {
        assert_eq!(
            message("$filter=onPremisesSamAccountName eq 'x'", false),
            "Unsupported or invalid query filter clause specified for property 'onPremisesSamAccountName' of resource 'User'."
        );
        assert!(parse("$filter=onPremisesSamAccountName eq 'x'&$count=true", true).is_ok());
        // eq null on onPremisesSyncEnabled is advanced (§3.3).
        assert!(
            message("$filter=onPremisesSyncEnabled eq null", false)
                .contains("onPremisesSyncEnabled")
        );
        assert!(parse("$filter=onPremisesSyncEnabled eq null&$count=true", true).is_ok());
        // Never filterable, even with advanced parameters.
        assert!(
            message(
                "$filter=onPremisesProvisioningErrors/any(e:e/value eq 'x')&$count=true",
                true
            )
            .contains("onPremisesProvisioningErrors")
        );
        // graph-api.md §16 #3: the older doc made the ImmutableID advanced-only.
        let strict = QueryRules {
            immutable_id_requires_advanced: true,
            immutable_id_filterable: true,
        };
        assert!(
            QueryOptions::parse(
                "$filter=onPremisesImmutableId eq 'a'",
                None,
                ApiVersion::V1,
                true,
                strict
            )
            .is_err()
        );
    }

    #[test]
    fn search_needs_only_the_header() {
        // graph-api.md §3.2 and the exact text of §3.3.
        assert_eq!(
            message("$search=\"displayName:adele\"", false),
            "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'"
        );
        assert!(parse("$search=\"displayName:adele\"", true).is_ok());
    }

    #[test]
    fn select_checks_names_and_collection_only_rules() {
        let options = parse("$select=id,userPrincipalName,onpremisesimmutableid", false).unwrap();
        assert_eq!(
            options.select.unwrap(),
            ["id", "userPrincipalName", "onPremisesImmutableId"]
        );
        assert_eq!(parse("$select=nonsense", false).unwrap_err().status, 400);
        // graph-api.md §3.1: non-collection properties on /users → 501.
        assert_eq!(parse("$select=aboutMe", false).unwrap_err().status, 501);
        // v1.0 has no onPremisesObjectIdentifier (graph-api.md §1).
        assert!(parse("$select=onPremisesObjectIdentifier", false).is_err());
        assert!(
            QueryOptions::parse(
                "$select=onPremisesObjectIdentifier",
                None,
                ApiVersion::Beta,
                true,
                RULES
            )
            .is_ok()
        );
        assert!(parse("$skip=5", false).is_err());
    }

    #[test]
    fn count_without_the_header_is_ignored() {
        // graph-api.md §3.2: "?$count=true without header is silently ignored".
        assert!(!parse("$count=true", false).unwrap().writes_count());
        assert!(parse("$count=true", true).unwrap().writes_count());
    }

    #[test]
    fn skip_tokens_are_opaque_and_bound_to_their_query() {
        let token = encode_skip_token(42, &Resume::Offset(100));
        assert!(token.starts_with("X'") && !token.contains("100"));
        assert_eq!(decode_skip_token(&token, 42), Some(Resume::Offset(100)));
        assert_eq!(decode_skip_token(&token, 43), None);
        assert_eq!(decode_skip_token("garbage", 42), None);
        // An id may itself contain the separator.
        let after = Resume::AfterId("a:b-1".to_owned());
        let token = encode_skip_token(42, &after);
        assert!(!token.contains("a:b"));
        assert_eq!(decode_skip_token(&token, 42), Some(after));
    }
}
