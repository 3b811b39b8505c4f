//! Every entry point of the anchor parser, on any text. Besides not panicking, a value that
//! parses as a GUID must read back to the same GUID from each form it renders to, since
//! admins paste one tool's output into another.
#![no_main]

use hardmatch_core::anchor::{AnchorForm, ImmutableId, ObjectGuid, parse_anchor};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(guid) = ObjectGuid::from_ad_slice(data) {
        assert_renderings_read_back(guid);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(guid) = ObjectGuid::parse_canonical(text) {
        assert_renderings_read_back(guid);
    }
    let stored = ImmutableId::from_text(text);
    let _ = stored.validate_for_graph();
    let _ = stored.connector_space_dn();
    if let Some(guid) = stored.guid() {
        assert_eq!(
            guid.immutable_id(),
            stored,
            "a GUID ImmutableID re-encodes unchanged"
        );
    }
    match parse_anchor(text) {
        Ok(parsed) => match parsed.guid {
            Some(guid) => {
                assert_eq!(parsed.immutable_id, guid.immutable_id());
                assert_renderings_read_back(guid);
            }
            None => {
                if parsed.form == AnchorForm::Custom {
                    // A custom anchor is the text itself, and reads back as itself.
                    assert_eq!(parsed.immutable_id.as_str(), text.trim());
                    let again = parse_anchor(parsed.immutable_id.as_str()).ok();
                    assert_eq!(again.as_ref(), Some(&parsed));
                }
                // Any value reads back through its connector-space DN.
                let through_dn = parse_anchor(&parsed.immutable_id.connector_space_dn()).ok();
                assert_eq!(
                    through_dn.map(|anchor| anchor.immutable_id),
                    Some(parsed.immutable_id)
                );
            }
        },
        Err(error) => {
            let _ = error.to_string();
        }
    }
});

fn assert_renderings_read_back(guid: ObjectGuid) {
    let immutable_id = guid.immutable_id();
    let renderings = [
        guid.to_string(),
        format!("{{{guid}}}"),
        immutable_id.as_str().to_owned(),
        guid.ad_hex(),
        guid.ldap_filter_escape(),
        format!("(objectGUID={})", guid.ldap_filter_escape()),
        immutable_id.connector_space_dn(),
    ];
    for rendering in renderings {
        let parsed = parse_anchor(&rendering);
        assert_eq!(
            parsed.as_ref().ok().and_then(|anchor| anchor.guid),
            Some(guid),
            "{rendering} -> {parsed:?}"
        );
    }
}
