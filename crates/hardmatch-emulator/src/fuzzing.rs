//! Entry points for the fuzz targets in the repository's `fuzz/` crate. The `$filter` parser
//! and the query-option rules are crate-private; reaching them through the HTTP server would
//! spend each fuzz input on a TCP round trip instead of on the parser. Not an API.

use serde_json::{Map, Value, json};

use crate::odata::filter::{self, EvaluationRules};
use crate::odata::query::{ApiVersion, QueryOptions, QueryRules};

/// Parses `text` as a `$filter` value and, when it parses, evaluates it against two user
/// objects under both case rules; then runs it through the query-option validation the way a
/// request's query string carries it (with `$count=true` and the `ConsistencyLevel` header
/// when `eventual`), under both immutable-ID rules. Returns the number of matching
/// evaluations plus the number of accepted queries, so that tests can check it and nothing
/// is optimised away.
pub fn filter_text(text: &str, eventual: bool, beta: bool) -> usize {
    let mut matched = 0;
    if let Ok(expression) = filter::parse(text) {
        for object in sample_users() {
            for proxy_addresses_case_insensitive in [false, true] {
                let rules = EvaluationRules {
                    proxy_addresses_case_insensitive,
                };
                matched += usize::from(filter::evaluate(&expression, &object, rules));
            }
        }
    }
    let encoded: String = form_urlencoded::byte_serialize(text.as_bytes()).collect();
    let query = if eventual {
        format!("$filter={encoded}&$count=true")
    } else {
        format!("$filter={encoded}")
    };
    let version = if beta {
        ApiVersion::Beta
    } else {
        ApiVersion::V1
    };
    for immutable_id_requires_advanced in [false, true] {
        let rules = QueryRules {
            immutable_id_requires_advanced,
            immutable_id_filterable: !immutable_id_requires_advanced,
        };
        let level = eventual.then_some("eventual");
        matched += usize::from(QueryOptions::parse(&query, level, version, true, rules).is_ok());
    }
    matched
}

/// Users shaped like the emulator's state: strings, nulls, booleans, numbers, and the two
/// collections lambdas range over.
fn sample_users() -> Vec<Map<String, Value>> {
    let users = [
        json!({
            "id": "22222222-bbbb-4bbb-8bbb-222222222222",
            "displayName": "Adele Vance",
            "userPrincipalName": "adele.vance@contoso.com",
            "mail": "adele.vance@contoso.com",
            "onPremisesImmutableId": "HowrP0daPkydIXtqDk+MEg==",
            "onPremisesSyncEnabled": true,
            "accountEnabled": true,
            "proxyAddresses": ["SMTP:adele.vance@contoso.com", "smtp:adele@contoso.com"],
            "assignedLicenses": [{"skuId": "05e9a617-0261-4cee-bb44-138d3ef5d965", "disabledPlans": []}],
            "createdDateTime": "2024-01-01T00:00:00Z",
            "employeeId": "1024"
        }),
        json!({
            "id": "11111111-aaaa-4aaa-8aaa-111111111111",
            "displayName": null,
            "userPrincipalName": "x@contoso.onmicrosoft.com",
            "mail": null,
            "onPremisesImmutableId": null,
            "onPremisesSyncEnabled": null,
            "accountEnabled": false,
            "proxyAddresses": [],
            "assignedLicenses": []
        }),
    ];
    users
        .into_iter()
        .filter_map(|user| match user {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lambda_filter_is_evaluated_and_accepted() {
        // Matches the first sample user under both case rules; accepted under both
        // immutable-ID rules.
        let filter = "proxyAddresses/any(p:p eq 'smtp:adele@contoso.com')";
        assert_eq!(filter_text(filter, false, false), 2 + 2);
        // Another case matches only where proxyAddresses compare case-insensitively.
        let filter = "proxyAddresses/any(p:p eq 'SMTP:ADELE@contoso.com')";
        assert_eq!(filter_text(filter, false, false), 1 + 2);
    }

    #[test]
    fn text_that_does_not_parse_counts_nothing() {
        assert_eq!(filter_text("userPrincipalName eq", true, true), 0);
    }
}
