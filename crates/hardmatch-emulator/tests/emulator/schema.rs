//! Every property the emulator returns exists in Microsoft's published v1.0 metadata, with
//! a compatible type (graph-v1.0-excerpt.csdl.xml in the shared reference). Skips with a
//! visible notice when the file is absent.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::common::*;

#[derive(Default)]
struct Schema {
    /// type name → (base type, property → Edm type)
    types: HashMap<String, (Option<String>, HashMap<String, String>)>,
}

fn attribute(line: &str, name: &str) -> Option<String> {
    let start = line.find(&format!("{name}=\""))? + name.len() + 2;
    let end = line[start..].find('"')? + start;
    Some(line[start..end].to_owned())
}

fn short(type_name: &str) -> String {
    type_name
        .trim_start_matches("graph.")
        .trim_start_matches("microsoft.graph.")
        .to_owned()
}

impl Schema {
    fn load() -> Option<Self> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/reference/graph-v1.0-excerpt.csdl.xml");
        let Ok(text) = std::fs::read_to_string(&path) else {
            println!("NOTICE: schema test skipped: {} is absent", path.display());
            return None;
        };
        let mut schema = Self::default();
        let mut current: Option<String> = None;
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with("<EntityType ") || line.starts_with("<ComplexType ") {
                let name = attribute(line, "Name")?;
                let base = attribute(line, "BaseType").map(|base| short(&base));
                schema.types.insert(name.clone(), (base, HashMap::new()));
                current = Some(name);
            } else if line.starts_with("<Property ")
                && let (Some(current), Some(name), Some(kind)) =
                    (&current, attribute(line, "Name"), attribute(line, "Type"))
                && let Some((_, properties)) = schema.types.get_mut(current)
            {
                properties.insert(name, kind);
            }
        }
        Some(schema)
    }

    fn property(&self, type_name: &str, property: &str) -> Option<String> {
        let mut current = Some(type_name.to_owned());
        while let Some(name) = current {
            let (base, properties) = self.types.get(&name)?;
            if let Some(kind) = properties.get(property) {
                return Some(kind.clone());
            }
            current = base.clone();
        }
        None
    }

    /// Checks an object against a type; returns problems.
    fn check_object(
        &self,
        type_name: &str,
        object: &Value,
        path: &str,
        problems: &mut Vec<String>,
    ) {
        let Some(map) = object.as_object() else {
            problems.push(format!("{path}: not an object"));
            return;
        };
        for (key, value) in map {
            if key.starts_with('@') {
                continue;
            }
            match self.property(type_name, key) {
                None => problems.push(format!("{path}.{key}: not a property of {type_name}")),
                Some(kind) => self.check_value(&kind, value, &format!("{path}.{key}"), problems),
            }
        }
    }

    fn check_value(&self, kind: &str, value: &Value, path: &str, problems: &mut Vec<String>) {
        if let Some(inner) = kind
            .strip_prefix("Collection(")
            .and_then(|rest| rest.strip_suffix(')'))
        {
            match value {
                Value::Array(items) => {
                    for (index, item) in items.iter().enumerate() {
                        self.check_value(inner, item, &format!("{path}[{index}]"), problems);
                    }
                }
                other => problems.push(format!("{path}: {other} is not a collection")),
            }
            return;
        }
        if value.is_null() {
            return;
        }
        let fits = match kind {
            "Edm.String" | "Edm.Guid" | "Edm.DateTimeOffset" | "Edm.Duration" => value.is_string(),
            "Edm.Boolean" => value.is_boolean(),
            "Edm.Int32" | "Edm.Int64" | "Edm.Double" => value.is_number(),
            other => {
                let name = short(other);
                if self.types.contains_key(&name) {
                    self.check_object(&name, value, path, problems);
                    true
                } else {
                    // An enum type: a string member name.
                    value.is_string()
                }
            }
        };
        if !fits {
            problems.push(format!("{path}: {value} does not fit {kind}"));
        }
    }
}

fn check_collection(
    schema: &Schema,
    type_name: &str,
    body: &Value,
    label: &str,
    problems: &mut Vec<String>,
) {
    let items = body["value"]
        .as_array()
        .unwrap_or_else(|| panic!("{label}: no value in {body}"));
    assert!(!items.is_empty(), "{label}: empty");
    for (index, item) in items.iter().enumerate() {
        schema.check_object(type_name, item, &format!("{label}[{index}]"), problems);
    }
}

#[tokio::test]
async fn every_returned_property_exists_in_the_published_metadata_with_a_compatible_type() {
    let Some(schema) = Schema::load() else {
        return;
    };
    let emulator = emulator_with(fixture_with(|fixture| {
        fixture.settings.sync_settings_app_only_allowed = true;
        fixture.apps[0]
            .application_permissions
            .push("OnPremDirectorySynchronization.Read.All".into());
    }))
    .await;
    let token = app_token(&emulator).await;
    let mut problems = Vec::new();
    // Every property any fixture user stores, selected explicitly, plus the default set.
    let mut stored: Vec<String> = hardmatch_emulator::Fixture::example()
        .users
        .iter()
        .flat_map(|user| user.keys().cloned().collect::<Vec<_>>())
        .collect();
    stored.sort();
    stored.dedup();
    let select = stored.join(",");
    for path in [
        "/users".to_owned(),
        format!("/users?$select={select}"),
        "/directory/deletedItems/microsoft.graph.user".to_owned(),
        format!("/directory/deletedItems/microsoft.graph.user?$select={select}"),
    ] {
        let reply = get(&emulator, &token, &path).await;
        assert_eq!(reply.status.as_u16(), 200, "{path}: {}", reply.text);
        check_collection(&schema, "user", &reply.json(), &path, &mut problems);
    }
    let single = get(
        &emulator,
        &token,
        &format!("/users/{ADELE}?$select={select}"),
    )
    .await
    .json();
    schema.check_object("user", &single, "user", &mut problems);
    for (path, type_name) in [
        ("/organization", "organization"),
        ("/domains", "domain"),
        (
            "/directory/onPremisesSynchronization",
            "onPremisesDirectorySynchronization",
        ),
        (
            "/roleManagement/directory/roleAssignments",
            "unifiedRoleAssignment",
        ),
    ] {
        let reply = get(&emulator, &token, path).await;
        assert_eq!(reply.status.as_u16(), 200, "{path}: {}", reply.text);
        check_collection(&schema, type_name, &reply.json(), path, &mut problems);
    }
    let licenses = get(&emulator, &token, &format!("/users/{ADELE}/licenseDetails"))
        .await
        .json();
    check_collection(
        &schema,
        "licenseDetails",
        &licenses,
        "licenseDetails",
        &mut problems,
    );
    assert!(problems.is_empty(), "{problems:#?}");
    emulator.shutdown().await;
}
