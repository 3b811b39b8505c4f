//! The generated tenant loads as the Entra ID emulator's fixture, with its checks (unique
//! ids, connector-space joins to existing users, typed users).

use hardmatch_bench::generate::{self, Options};
use hardmatch_emulator::fixture::Fixture;

#[test]
fn the_generated_tenant_is_an_emulator_fixture() {
    let (mut ad, mut tenant, mut ldif) = (Vec::new(), Vec::new(), Vec::new());
    let summary =
        generate::generate(&Options::new(21, 3_000), &mut ad, &mut tenant, &mut ldif).unwrap();
    let fixture = Fixture::from_json(std::str::from_utf8(&tenant).unwrap()).unwrap();
    assert_eq!(fixture.users.len(), summary.cloud_users);
    assert_eq!(
        fixture.connector_space.len(),
        summary.connector_space_entries
    );
    assert_eq!(fixture.apps.len(), 1);
    assert!(
        fixture.apps[0]
            .application_permissions
            .iter()
            .any(|permission| permission == "User.ReadWrite.All")
    );
    assert_eq!(fixture.cloud_users().unwrap().len(), summary.cloud_users);
}
