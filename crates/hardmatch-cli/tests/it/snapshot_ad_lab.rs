//! `hardmatch snapshot ad` against the Samba lab: the file it writes (streamed, not built
//! in memory first) is exactly the pretty JSON of the snapshot it holds, with every user of
//! a multi-page OU once, in DN order.

use std::collections::HashSet;

use hardmatch_core::ad::AdSnapshot;

use crate::support::{Lab, render};

#[test]
fn a_live_snapshot_of_a_multi_page_ou_is_whole_sorted_and_pretty_json() {
    let Some(lab) = Lab::from_environment() else {
        return;
    };
    let directory = tempfile::tempdir().unwrap();
    // `scripts/ad-lab` seeds paged1..paged1200 there: more than Samba's 1000 per page.
    let paging = format!("OU=Paging,{}", lab.base_dn);
    let output = lab
        .command()
        .current_dir(directory.path())
        .args(["snapshot", "ad"])
        .args(lab.source_flags_under(&paging))
        .args(["-o", "ad.json"])
        .output()
        .unwrap();
    insta::assert_snapshot!(render(&output), @r"
    exit: 0
    --- stdout
    --- stderr
    wrote 1200 users to ad.json
    ");

    let written = std::fs::read(directory.path().join("ad.json")).unwrap();
    let snapshot: AdSnapshot = serde_json::from_slice(&written).unwrap();
    let mut expected = serde_json::to_vec_pretty(&snapshot).unwrap();
    expected.push(b'\n');
    assert!(
        written == expected,
        "the file is not the snapshot's pretty JSON with a final newline"
    );

    let users = &snapshot.users;
    let accounts: HashSet<&str> = users
        .iter()
        .filter_map(|user| user.sam_account_name.as_deref())
        .collect();
    assert_eq!(users.len(), 1200);
    assert_eq!(accounts.len(), 1200);
    for number in [1, 999, 1000, 1001, 1200] {
        assert!(accounts.contains(format!("paged{number}").as_str()));
    }
    let names: Vec<String> = users
        .iter()
        .map(|user| user.distinguished_name.as_str().to_lowercase())
        .collect();
    assert!(names.is_sorted(), "users are not in DN order");
}
