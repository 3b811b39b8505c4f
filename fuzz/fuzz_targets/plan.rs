//! The plan file reader (`Plan::from_json`), which refuses newer formats and hand-edited
//! actions. A plan it accepts must render for review and write back to the same plan.
#![no_main]

use hardmatch_core::plan::{Plan, render_powershell, render_show};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Plan::from_json(text) {
        Ok(plan) => {
            let _ = render_show(&plan);
            let _ = render_powershell(&plan);
            let written = plan.to_json().expect("an accepted plan serialises");
            assert_eq!(Plan::from_json(&written).ok(), Some(plan));
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
