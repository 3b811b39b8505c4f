//! Files hardmatch writes (snapshots, plans, reports) appear whole or not at all.
//!
//! A half-written plan is worse than none: it could parse and be applied. Every output
//! goes to a temporary file in the destination's directory and is renamed into place
//! only after it has been flushed to disk.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;

/// Who may read the file once written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visibility {
    /// The process's usual permissions.
    Ordinary,
    /// Owner only (0600 on Unix): anything that could hold a token.
    OwnerOnly,
}

/// Writes `contents` to `path` atomically: readers see the old file or the new one.
pub fn write_atomically(
    path: &Path,
    contents: &[u8],
    visibility: Visibility,
) -> anyhow::Result<()> {
    write_atomically_with(path, visibility, |file| file.write_all(contents))
}

/// Like [`write_atomically`], for outputs too large to build in memory first (a report of
/// a million users): `write` streams into the temporary file, which is renamed into place
/// only when it returns `Ok`.
pub fn write_atomically_with(
    path: &Path,
    visibility: Visibility,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut temporary = tempfile::Builder::new()
        .prefix(".hardmatch-")
        .suffix(".partial")
        .tempfile_in(directory)
        .with_context(|| format!("cannot create a file in `{}`", directory.display()))?;
    if visibility == Visibility::OwnerOnly {
        restrict_to_owner(temporary.as_file())?;
    }
    write(temporary.as_file_mut())
        .and_then(|()| temporary.as_file().sync_all())
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    temporary
        .persist(path)
        .map_err(|error| error.error)
        .with_context(|| {
            format!(
                "cannot move the new file into place at `{}`",
                path.display()
            )
        })?;
    Ok(())
}

#[cfg(unix)]
fn restrict_to_owner(file: &std::fs::File) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .context("cannot restrict the file to its owner")
}

#[cfg(not(unix))]
fn restrict_to_owner(_file: &std::fs::File) -> anyhow::Result<()> {
    // Files created in the user's own directories on Windows inherit an ACL that
    // already excludes other users.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_and_leaves_no_partial_file() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("plan.json");
        write_atomically(&path, b"first", Visibility::Ordinary).unwrap();
        write_atomically(&path, b"second", Visibility::OwnerOnly).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(directory.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["plan.json"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_it() {
        let error = write_atomically(
            Path::new("/nonexistent-hardmatch-dir/plan.json"),
            b"x",
            Visibility::Ordinary,
        )
        .unwrap_err();
        assert!(format!("{error:#}").contains("nonexistent-hardmatch-dir"));
    }
}
