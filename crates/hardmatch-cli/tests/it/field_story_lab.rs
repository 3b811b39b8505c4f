//! The field story, end to end, against the real Samba AD DC and the emulator.
//!
//! Isaiah Langer's AD account has its UPN on `fabrikam.com`, a domain the tenant has not
//! verified, and a secondary address that his licensed cloud account already has. The first
//! sync cannot soft-match him, so it creates a new `…@contoso.onmicrosoft.com` user that
//! holds his ImmutableID next to the account that is really his (entra-matching.md §4, §6).
//! hardmatch must see that; setting the ImmutableID while the duplicate sits in the recycle
//! bin must fail with the conflict error (§12, graph-api.md §10); deleting and purging the
//! duplicate, setting the ImmutableID and running a cycle must link him (§15).

use std::path::PathBuf;

use hardmatch_core::anchor::ImmutableId;
use hardmatch_graph::{CredentialSettings, GraphClient, GraphError, GraphSettings, Secret};
use serde_json::Value;

use crate::support::{EmulatorProcess, Lab, render};

const TENANT_ID: &str = "5d6e7f80-9a1b-4c2d-8e3f-4a5b6c7d8e9f";
const CLIENT_ID: &str = "0f1e2d3c-4b5a-4697-8877-665544332211";
const CLIENT_SECRET: &str = "field-story-lab-secret";
const REAL_ACCOUNT_ID: &str = "a1b2c3d4-1111-4e5f-9a0b-1c2d3e4f5a61";

fn fixture() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/fixtures/field-story-lab/tenant.json")
        .display()
        .to_string()
}

struct Story {
    lab: Lab,
    /// Isaiah's OU: reading only it keeps each step quick however large the lab is.
    organizational_unit: String,
    emulator: EmulatorProcess,
    isaiah: String,
    directory: tempfile::TempDir,
}

impl Story {
    fn run(&self, arguments: &[&str]) -> Value {
        let output = self.lab.command().args(arguments).output().unwrap();
        assert!(
            output.status.success(),
            "{arguments:?}\n{}",
            render(&output)
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
            panic!(
                "{arguments:?} printed no JSON ({error}):\n{}",
                render(&output)
            )
        })
    }

    fn sync(&self) -> Value {
        let mut arguments = vec![
            "emulator".to_owned(),
            "sync".to_owned(),
            "--url".to_owned(),
            self.emulator.url.clone(),
            "--emulator-ca-cert".to_owned(),
            self.emulator.ca_cert.clone().unwrap(),
            "--scope-ou".to_owned(),
            self.isaiah.clone(),
        ];
        arguments.extend(self.lab.source_flags_under(&self.organizational_unit));
        self.run(&arguments.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// Tenant source flags for the emulator over Graph; the secret travels in
    /// `HARDMATCH_TEST_CLIENT_SECRET`.
    fn live_tenant_flags(&self) -> Vec<String> {
        [
            "--tenant-id",
            TENANT_ID,
            "--client-id",
            CLIENT_ID,
            "--client-secret-env",
            "HARDMATCH_TEST_CLIENT_SECRET",
            "--authority-url",
            &self.emulator.url,
            "--graph-url",
            &self.emulator.url,
            "--graph-ca-cert",
            self.emulator.ca_cert.as_deref().unwrap(),
        ]
        .iter()
        .map(|flag| (*flag).to_owned())
        .collect()
    }

    /// `hardmatch snapshot tenant` over Graph, then `hardmatch status` for Isaiah.
    fn status(&self) -> Value {
        let tenant = self
            .directory
            .path()
            .join("tenant.json")
            .display()
            .to_string();
        let output = self
            .lab
            .command()
            .env("HARDMATCH_TEST_CLIENT_SECRET", CLIENT_SECRET)
            .args(["snapshot", "tenant"])
            .args(self.live_tenant_flags())
            .args(["-o", &tenant])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", render(&output));
        let mut arguments = vec![
            "status".to_owned(),
            "--json".to_owned(),
            "--tenant-snapshot".to_owned(),
            tenant,
        ];
        arguments.extend(self.lab.source_flags_under(&self.organizational_unit));
        arguments.extend(["--scope-ou".to_owned(), self.isaiah.clone()]);
        arguments.extend(["--user".to_owned(), "isaiah.langer@fabrikam.com".to_owned()]);
        let diagnosis = self.run(&arguments.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(
            diagnosis["users"].as_array().unwrap().len(),
            1,
            "{diagnosis:#}"
        );
        diagnosis
    }

    async fn graph(&self) -> GraphClient {
        let mut settings =
            GraphSettings::new(CredentialSettings::ClientSecret(Secret::new(CLIENT_SECRET)));
        settings.tenant_id = Some(TENANT_ID.to_owned());
        settings.client_id = Some(CLIENT_ID.to_owned());
        settings.authority_url = Some(self.emulator.url.clone());
        settings.graph_url = Some(self.emulator.url.clone());
        settings.extra_ca_pem =
            Some(std::fs::read(self.emulator.ca_cert.as_deref().unwrap()).unwrap());
        GraphClient::connect(settings).await.unwrap()
    }
}

#[test]
fn sync_creates_the_duplicate_and_the_hard_link_fixes_it() {
    let Some(lab) = Lab::from_environment() else {
        return;
    };
    let organizational_unit = format!("OU=Sales,OU=Staff,OU=Corp,{}", lab.base_dn);
    let isaiah = format!("CN=Isaiah Langer,{organizational_unit}");
    let story = Story {
        organizational_unit,
        emulator: EmulatorProcess::start(&["--tls", "--fixture", &fixture()]),
        lab,
        isaiah,
        directory: tempfile::tempdir().unwrap(),
    };

    // 1. The first cycle cannot soft-match and provisions a duplicate on the initial domain.
    let report = story.sync();
    let report_text = report.to_string();
    assert!(
        report_text.contains("isaiah.langer@contoso.onmicrosoft.com"),
        "{report:#}"
    );
    let diagnosis = story.status();
    let isaiah = &diagnosis["users"][0];
    assert_eq!(isaiah["status"], "conflicting", "{diagnosis:#}");
    assert_eq!(isaiah["reason"], "sync_created_duplicate");
    assert_eq!(isaiah["cloud_user_id"], REAL_ACCOUNT_ID);
    let immutable_id = ImmutableId::from_text(isaiah["immutable_id"].as_str().unwrap());
    let duplicate = isaiah["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|evidence| evidence["code"] == "duplicate")
        .and_then(|evidence| evidence["cloud_user_id"].as_str())
        .expect("the duplicate is named in the evidence")
        .to_owned();

    // The plan, read live from the DC and from Graph: purge the unlicensed duplicate, then
    // stamp the licensed account. It is never the licensed account that is deleted.
    let plan_path = story.directory.path().join("plan.json");
    let mut arguments: Vec<String> = ["plan", "--user", "isaiah.langer@fabrikam.com"]
        .iter()
        .map(|text| (*text).to_owned())
        .collect();
    arguments.extend(story.lab.source_flags_under(&story.organizational_unit));
    arguments.extend(story.live_tenant_flags());
    arguments.extend(["--scope-ou".to_owned(), story.isaiah.clone()]);
    arguments.extend(["-o".to_owned(), plan_path.display().to_string()]);
    let output = story
        .lab
        .command()
        .env("HARDMATCH_TEST_CLIENT_SECRET", CLIENT_SECRET)
        .args(&arguments)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", render(&output));
    let plan: Value = serde_json::from_str(&std::fs::read_to_string(&plan_path).unwrap()).unwrap();
    // The duplicate's sign-in activity was read before its deletion was planned: the sync
    // created it, and nobody has signed in to it.
    let deletion = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|action| action["kind"] == "soft_delete")
        .expect("the duplicate is deleted");
    let evidence = deletion["evidence"][0].as_str().unwrap();
    assert!(
        evidence.contains("no sign-in on record (never, or before April 2020)"),
        "{evidence}"
    );
    let steps: Vec<(String, String)> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|action| action["target"]["directory"] == "cloud")
        .map(|action| {
            (
                action["kind"].as_str().unwrap().to_owned(),
                action["target"]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("soft_delete".to_owned(), duplicate.clone()),
            ("purge_deleted".to_owned(), duplicate.clone()),
            ("set_immutable_id".to_owned(), REAL_ACCOUNT_ID.to_owned()),
        ],
        "{plan:#}"
    );

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let graph = story.graph().await;
        let held = graph.get_user(&duplicate).await.unwrap();
        assert_eq!(held.on_premises_immutable_id.as_ref(), Some(&immutable_id));
        assert!(
            held.user_principal_name
                .ends_with("@contoso.onmicrosoft.com")
        );

        // 2. A duplicate in the recycle bin still reserves the ImmutableID.
        graph.delete_user(&duplicate).await.unwrap();
        match graph.set_immutable_id(REAL_ACCOUNT_ID, &immutable_id).await {
            Err(GraphError::Conflict {
                holder_object_id, ..
            }) => {
                assert_eq!(holder_object_id.as_deref(), Some(duplicate.as_str()));
            }
            other => panic!("expected the ObjectConflict error, got {other:?}"),
        }

        // 3. Purged, the value is free; the real account takes it.
        graph.purge_deleted_user(&duplicate).await.unwrap();
        let linked = graph
            .set_immutable_id(REAL_ACCOUNT_ID, &immutable_id)
            .await
            .unwrap();
        assert_eq!(
            linked.on_premises_immutable_id.as_ref(),
            Some(&immutable_id)
        );
    });

    // 4. The next cycle re-provisions Isaiah as new, so he hard-matches his own account.
    let report = story.sync();
    assert!(report.to_string().contains(REAL_ACCOUNT_ID), "{report:#}");
    let diagnosis = story.status();
    let isaiah = &diagnosis["users"][0];
    assert_eq!(isaiah["status"], "linked", "{diagnosis:#}");
    assert_eq!(isaiah["cloud_user_id"], REAL_ACCOUNT_ID);
    runtime.block_on(async {
        let graph = story.graph().await;
        let real = graph.get_user(REAL_ACCOUNT_ID).await.unwrap();
        assert_eq!(real.on_premises_sync_enabled, Some(true));
        let users = graph.list_users().await.unwrap();
        assert!(
            users.iter().all(
                |user| !user.user_principal_name.starts_with("isaiah.langer")
                    || user.id == REAL_ACCOUNT_ID
            ),
            "no second Isaiah: {users:#?}"
        );
    });
}
