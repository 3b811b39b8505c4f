//! `hardmatch snapshot`: save a directory's state to a file that later commands read in
//! place of the live directory.

use std::io::{BufWriter, Write as _};

use crate::ExitStatus;
use crate::args::{SnapshotAdArgs, SnapshotTenantArgs};
use crate::output::{Visibility, write_atomically, write_atomically_with};
use crate::sources::{Context, load_ad, load_tenant, resolve_ad, resolve_tenant};

pub(crate) fn ad(arguments: &SnapshotAdArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let input = resolve_ad(&arguments.ad, context)?;
    let snapshot = load_ad(&input, context)?;
    // Streamed into the file rather than built in memory first: at 100k users the JSON
    // is 80 MB, and building it held that much more memory and wrote only once it was
    // whole.
    write_atomically_with(&arguments.output, Visibility::Ordinary, |file| {
        let mut writer = BufWriter::with_capacity(1 << 20, file);
        serde_json::to_writer_pretty(&mut writer, &snapshot).map_err(std::io::Error::other)?;
        writer.write_all(b"\n")?;
        writer.flush()
    })?;
    context.printer.status(&format!(
        "wrote {} users to {}",
        snapshot.users.len(),
        arguments.output.display()
    ));
    Ok(ExitStatus::Success)
}

pub(crate) fn tenant(
    arguments: &SnapshotTenantArgs,
    context: &Context,
) -> anyhow::Result<ExitStatus> {
    let input = resolve_tenant(&arguments.tenant, context)?;
    let snapshot = load_tenant(&input, context)?;
    let mut json = serde_json::to_vec_pretty(&snapshot)?;
    json.push(b'\n');
    write_atomically(&arguments.output, &json, Visibility::Ordinary)?;
    let deleted = snapshot
        .users
        .iter()
        .filter(|user| user.is_deleted())
        .count();
    context.printer.status(&format!(
        "wrote {} active and {deleted} deleted users to {}",
        snapshot.users.len() - deleted,
        arguments.output.display()
    ));
    Ok(ExitStatus::Success)
}
