//! A workspace is the directory that holds one tenant's journal. Only one apply or undo
//! may work in it at a time: two executors interleaving writes against the same plan is
//! how an action gets sent twice.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use crate::journal::{Journal, JournalError};

const LOCK_FILE: &str = "lock";
const JOURNAL_FILE: &str = "journal.sqlite";

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("cannot use the workspace directory `{path}`: {source}")]
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("another hardmatch run holds the workspace `{path}`{holder}")]
    Busy { path: PathBuf, holder: String },
    #[error(transparent)]
    Journal(#[from] JournalError),
}

impl WorkspaceError {
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Busy { .. } => Some(
                "wait for it to finish; if it was killed, its lock is released with it and \
                 `hardmatch apply --resume` continues where it stopped"
                    .to_owned(),
            ),
            Self::Directory { .. } => {
                Some("pass --workspace DIR with a directory you can write".to_owned())
            }
            Self::Journal(error) => error.hint().map(str::to_owned),
        }
    }
}

/// An open, exclusively held workspace. The lock is an OS file lock, so it is released
/// when the process exits, however it exits: a `kill -9` never leaves a stale lock.
#[derive(Debug)]
pub struct Workspace {
    root: PathBuf,
    journal: Journal,
    // Held for its lock; dropped with the workspace.
    _lock: File,
}

impl Workspace {
    pub fn open(root: &Path) -> Result<Self, WorkspaceError> {
        let directory_error = |source| WorkspaceError::Directory {
            path: root.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(root).map_err(directory_error)?;
        let mut lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(root.join(LOCK_FILE))
            .map_err(directory_error)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = lock.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(WorkspaceError::Busy {
                    path: root.to_path_buf(),
                    holder: if holder.is_empty() {
                        String::new()
                    } else {
                        format!(" ({holder})")
                    },
                });
            }
            Err(TryLockError::Error(error)) => return Err(directory_error(error)),
        }
        // Who holds it, for the next process's error message. Best effort: the lock itself
        // is what protects the journal.
        let _ = lock.set_len(0);
        let _ = lock.seek(SeekFrom::Start(0));
        let _ = write!(lock, "process {}", std::process::id());
        let _ = lock.flush();
        let journal = Journal::open(&root.join(JOURNAL_FILE))?;
        Ok(Self {
            root: root.to_path_buf(),
            journal,
            _lock: lock,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    pub fn journal_mut(&mut self) -> &mut Journal {
        &mut self.journal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_open_is_refused_until_the_first_is_dropped() {
        let directory = tempfile::tempdir().unwrap();
        let first = Workspace::open(directory.path()).unwrap();
        let error = Workspace::open(directory.path()).unwrap_err();
        assert!(matches!(error, WorkspaceError::Busy { .. }), "{error}");
        assert!(
            error
                .to_string()
                .contains(&format!("process {}", std::process::id()))
        );
        assert!(error.hint().is_some());
        drop(first);
        Workspace::open(directory.path()).unwrap();
    }
}
