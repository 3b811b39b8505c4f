//! `hardmatch snapshot`: save a directory's state to a file that later commands read in
//! place of the live directory.

use crate::ExitStatus;
use crate::args::SnapshotAdArgs;
use crate::output::{Visibility, write_atomically};
use crate::sources::{Context, load_ad, resolve_ad};

pub(crate) fn ad(arguments: &SnapshotAdArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let input = resolve_ad(&arguments.ad, context)?;
    let snapshot = load_ad(&input, context)?;
    let mut json = serde_json::to_vec_pretty(&snapshot)?;
    json.push(b'\n');
    write_atomically(&arguments.output, &json, Visibility::Ordinary)?;
    context.printer.status(&format!(
        "wrote {} users to {}",
        snapshot.users.len(),
        arguments.output.display()
    ));
    Ok(ExitStatus::Success)
}
