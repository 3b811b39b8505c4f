//! The journal: an embedded SQLite database that records every action before and after it
//! is sent, so that no write is ever done twice or lost.
//!
//! The protocol is write-ahead. An action is marked `in_flight` — with its before-image and
//! the exact request — and committed *before* the request leaves; its outcome is committed
//! after the response arrives. After a crash, `pending` actions have certainly not been sent,
//! finished ones certainly were, and `in_flight` ones are the only unknowns: resume settles
//! them by re-reading the target, never by sending blindly again.
//!
//! The journal never holds credentials: requests are recorded as method, URL and body, and
//! the executor does not pass headers in.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

/// The schema version this build reads and writes.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,                 -- apply | undo
    undoes_run TEXT,                    -- for undo runs
    plan_fingerprint TEXT NOT NULL,
    plan TEXT NOT NULL,                 -- the reviewed plan, verbatim
    tenant TEXT NOT NULL,
    operator TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    outcome TEXT                        -- completed | failed | interrupted
);
CREATE TABLE IF NOT EXISTS actions (
    run_id TEXT NOT NULL REFERENCES runs(id),
    action_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    state TEXT NOT NULL,
    before_image TEXT,
    request TEXT,
    response TEXT,
    request_id TEXT,
    detail TEXT,
    started_at TEXT,
    finished_at TEXT,
    PRIMARY KEY (run_id, action_id)
);
CREATE TABLE IF NOT EXISTS events (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    action_id TEXT,
    at TEXT NOT NULL,
    state TEXT NOT NULL,
    detail TEXT
);
";

/// Where an action stands. Transitions only move forward:
/// `pending → in_flight → succeeded | failed`, or `pending → stale | skipped`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionState {
    Pending,
    InFlight,
    Succeeded,
    Failed,
    /// Its precondition no longer held when re-read before sending.
    Stale,
    /// Not attempted because something it depends on did not succeed.
    Skipped,
}

impl ActionState {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::InFlight => "in_flight",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Stale => "stale",
            Self::Skipped => "skipped",
        }
    }

    fn parse(name: &str) -> Result<Self, JournalError> {
        [
            Self::Pending,
            Self::InFlight,
            Self::Succeeded,
            Self::Failed,
            Self::Stale,
            Self::Skipped,
        ]
        .into_iter()
        .find(|state| state.name() == name)
        .ok_or_else(|| JournalError::Corrupt(format!("unknown action state `{name}`")))
    }

    /// Whether nothing more will happen to the action in this run.
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::Stale | Self::Skipped
        )
    }
}

/// A run as recorded, for `history` and for resuming.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: String,
    pub kind: String,
    pub undoes_run: Option<String>,
    pub plan_fingerprint: String,
    pub tenant: String,
    pub operator: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub outcome: Option<String>,
    pub action_counts: Vec<(String, u64)>,
}

/// One action's journal row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRecord {
    pub action_id: String,
    pub position: i64,
    pub kind: String,
    pub target: String,
    pub state: ActionState,
    pub before_image: Option<serde_json::Value>,
    pub request: Option<serde_json::Value>,
    pub response: Option<serde_json::Value>,
    pub request_id: Option<String>,
    pub detail: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

/// What a new run records up front.
#[derive(Clone, Debug)]
pub struct NewRun<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub undoes_run: Option<&'a str>,
    pub plan_fingerprint: &'a str,
    pub plan: &'a str,
    pub tenant: &'a str,
    pub operator: &'a str,
    pub started_at: &'a str,
}

/// One planned action as the journal first sees it.
#[derive(Clone, Debug)]
pub struct NewAction<'a> {
    pub action_id: &'a str,
    pub kind: &'a str,
    pub target: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("the journal database failed: {0}")]
    Database(#[from] rusqlite::Error),
    #[error(
        "the journal was written by a newer hardmatch (schema {found}, this build knows {SCHEMA_VERSION})"
    )]
    NewerSchema { found: i64 },
    #[error("the journal is inconsistent: {0}")]
    Corrupt(String),
    #[error("run `{0}` is not in this journal")]
    UnknownRun(String),
    #[error("action `{action_id}` of run `{run_id}` cannot go from {from} to {to}")]
    IllegalTransition {
        run_id: String,
        action_id: String,
        from: &'static str,
        to: &'static str,
    },
    #[error("cannot encode a journal value: {0}")]
    Encoding(#[from] serde_json::Error),
}

impl JournalError {
    /// The next step for the user, where there is one.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Self::NewerSchema { .. } => {
                Some("use the hardmatch version that wrote this workspace, or a newer one")
            }
            Self::UnknownRun(_) => Some("`hardmatch history` lists the runs in this workspace"),
            Self::Corrupt(_) => Some(
                "keep a copy of the workspace directory and report this; do not edit the journal by hand",
            ),
            _ => None,
        }
    }
}

/// An open journal. Every method is one SQLite transaction, committed (and, in WAL mode
/// with `synchronous=FULL`, durable) before it returns.
#[derive(Debug)]
pub struct Journal {
    connection: Connection,
    /// Inside [`begin_group`](Self::begin_group): transitions join one transaction.
    in_group: bool,
}

impl Journal {
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        let connection = Connection::open(path)?;
        Self::initialise(connection)
    }

    /// A journal that lives only in memory, for rehearsals.
    pub fn in_memory() -> Result<Self, JournalError> {
        Self::initialise(Connection::open_in_memory()?)
    }

    fn initialise(connection: Connection) -> Result<Self, JournalError> {
        // WAL keeps readers (history, verify) off the writer's back; FULL makes each commit
        // survive power loss, which is the point of writing ahead.
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        let found: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
        if found > SCHEMA_VERSION {
            return Err(JournalError::NewerSchema { found });
        }
        connection.execute_batch(SCHEMA)?;
        connection.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        Ok(Self {
            connection,
            in_group: false,
        })
    }

    /// Starts one transaction for the transitions of a group of actions, until
    /// [`commit_group`](Self::commit_group): a group's actions become durable together,
    /// with one disk sync instead of one each. Nothing of the group is known to the
    /// journal before the commit, so the commit must precede any request of the group.
    pub fn begin_group(&mut self) -> Result<(), JournalError> {
        if !self.in_group {
            self.connection.execute_batch("BEGIN IMMEDIATE")?;
            self.in_group = true;
        }
        Ok(())
    }

    /// Commits the group's transitions (durable on return).
    pub fn commit_group(&mut self) -> Result<(), JournalError> {
        if self.in_group {
            self.connection.execute_batch("COMMIT")?;
            self.in_group = false;
        }
        Ok(())
    }

    /// Records a run and all its actions as `pending`, in one transaction: a run is either
    /// fully known to the journal or not at all.
    pub fn begin_run(
        &mut self,
        run: &NewRun<'_>,
        actions: &[NewAction<'_>],
    ) -> Result<(), JournalError> {
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        transaction.execute(
            "INSERT INTO runs (id, kind, undoes_run, plan_fingerprint, plan, tenant, operator, started_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                run.id,
                run.kind,
                run.undoes_run,
                run.plan_fingerprint,
                run.plan,
                run.tenant,
                run.operator,
                run.started_at
            ],
        )?;
        for (position, action) in actions.iter().enumerate() {
            transaction.execute(
                "INSERT INTO actions (run_id, action_id, position, kind, target, state)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending')",
                params![
                    run.id,
                    action.action_id,
                    position as i64,
                    action.kind,
                    action.target
                ],
            )?;
        }
        transaction.execute(
            "INSERT INTO events (run_id, at, state, detail) VALUES (?1, ?2, 'run_started', ?3)",
            params![run.id, run.started_at, run.kind],
        )?;
        transaction.commit()?;
        Ok(())
    }

    /// Marks an action as about to be sent, with what it changes and what it sends. Must be
    /// called, and return, before the request leaves.
    pub fn mark_in_flight(
        &mut self,
        run_id: &str,
        action_id: &str,
        before_image: &serde_json::Value,
        request: &serde_json::Value,
        at: &str,
    ) -> Result<(), JournalError> {
        self.transition(
            run_id,
            action_id,
            &[ActionState::Pending],
            ActionState::InFlight,
            at,
            Transition {
                before_image: Some(before_image),
                request: Some(request),
                ..Transition::default()
            },
        )
    }

    /// Records the outcome of an action that was in flight.
    pub fn mark_finished(
        &mut self,
        run_id: &str,
        action_id: &str,
        outcome: Outcome<'_>,
        at: &str,
    ) -> Result<(), JournalError> {
        let (state, response, request_id, detail) = match outcome {
            Outcome::Succeeded {
                response,
                request_id,
            } => (ActionState::Succeeded, response, request_id, None),
            Outcome::Failed {
                response,
                request_id,
                detail,
            } => (ActionState::Failed, response, request_id, Some(detail)),
            Outcome::Confirmed { detail } => (ActionState::Succeeded, None, None, Some(detail)),
        };
        self.transition(
            run_id,
            action_id,
            &[ActionState::InFlight],
            state,
            at,
            Transition {
                response,
                request_id,
                detail,
                ..Transition::default()
            },
        )
    }

    /// Records that an action was not sent: its precondition failed (`Stale`) or a
    /// prerequisite did not succeed (`Skipped`).
    pub fn mark_not_sent(
        &mut self,
        run_id: &str,
        action_id: &str,
        state: ActionState,
        detail: &str,
        at: &str,
    ) -> Result<(), JournalError> {
        if !matches!(state, ActionState::Stale | ActionState::Skipped) {
            return Err(JournalError::IllegalTransition {
                run_id: run_id.to_owned(),
                action_id: action_id.to_owned(),
                from: ActionState::Pending.name(),
                to: state.name(),
            });
        }
        self.transition(
            run_id,
            action_id,
            &[ActionState::Pending],
            state,
            at,
            Transition {
                detail: Some(detail),
                ..Transition::default()
            },
        )
    }

    /// Records that an in-flight action whose outcome was lost (the process died while it
    /// was being sent) is sent once more, because re-reading the target showed no effect.
    pub fn mark_resent(
        &mut self,
        run_id: &str,
        action_id: &str,
        request: &serde_json::Value,
        at: &str,
    ) -> Result<(), JournalError> {
        self.transition(
            run_id,
            action_id,
            &[ActionState::InFlight],
            ActionState::InFlight,
            at,
            Transition {
                request: Some(request),
                detail: Some("resent: the target showed no effect after an interruption"),
                ..Transition::default()
            },
        )
    }

    /// The run's record, with its action counts.
    pub fn run(&self, run_id: &str) -> Result<RunRecord, JournalError> {
        self.runs()?
            .into_iter()
            .find(|run| run.id == run_id)
            .ok_or_else(|| JournalError::UnknownRun(run_id.to_owned()))
    }

    fn transition(
        &mut self,
        run_id: &str,
        action_id: &str,
        allowed_from: &[ActionState],
        to: ActionState,
        at: &str,
        values: Transition<'_>,
    ) -> Result<(), JournalError> {
        if self.in_group {
            return Self::record_transition(
                &self.connection,
                run_id,
                action_id,
                allowed_from,
                to,
                at,
                values,
            );
        }
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        Self::record_transition(
            &transaction,
            run_id,
            action_id,
            allowed_from,
            to,
            at,
            values,
        )?;
        transaction.commit()?;
        Ok(())
    }

    fn record_transition(
        transaction: &Connection,
        run_id: &str,
        action_id: &str,
        allowed_from: &[ActionState],
        to: ActionState,
        at: &str,
        values: Transition<'_>,
    ) -> Result<(), JournalError> {
        let current: Option<String> = transaction
            .query_row(
                "SELECT state FROM actions WHERE run_id = ?1 AND action_id = ?2",
                params![run_id, action_id],
                |row| row.get(0),
            )
            .optional()?;
        let current = match current {
            Some(name) => ActionState::parse(&name)?,
            None => {
                return Err(JournalError::Corrupt(format!(
                    "action `{action_id}` of run `{run_id}` was never recorded"
                )));
            }
        };
        if !allowed_from.contains(&current) {
            return Err(JournalError::IllegalTransition {
                run_id: run_id.to_owned(),
                action_id: action_id.to_owned(),
                from: current.name(),
                to: to.name(),
            });
        }
        let encode =
            |value: Option<&serde_json::Value>| value.map(serde_json::to_string).transpose();
        let started_at = (to == ActionState::InFlight).then_some(at);
        let finished_at = to.is_final().then_some(at);
        transaction.execute(
            "UPDATE actions SET state = ?3,
                 before_image = COALESCE(?4, before_image),
                 request = COALESCE(?5, request),
                 response = COALESCE(?6, response),
                 request_id = COALESCE(?7, request_id),
                 detail = COALESCE(?8, detail),
                 started_at = COALESCE(?9, started_at),
                 finished_at = COALESCE(?10, finished_at)
             WHERE run_id = ?1 AND action_id = ?2",
            params![
                run_id,
                action_id,
                to.name(),
                encode(values.before_image)?,
                encode(values.request)?,
                encode(values.response)?,
                values.request_id,
                values.detail,
                started_at,
                finished_at
            ],
        )?;
        transaction.execute(
            "INSERT INTO events (run_id, action_id, at, state, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![run_id, action_id, at, to.name(), values.detail],
        )?;
        Ok(())
    }

    /// Closes a run with its outcome.
    pub fn finish_run(
        &mut self,
        run_id: &str,
        outcome: &str,
        at: &str,
    ) -> Result<(), JournalError> {
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let updated = transaction.execute(
            "UPDATE runs SET finished_at = ?2, outcome = ?3 WHERE id = ?1",
            params![run_id, at, outcome],
        )?;
        if updated == 0 {
            return Err(JournalError::UnknownRun(run_id.to_owned()));
        }
        transaction.execute(
            "INSERT INTO events (run_id, at, state, detail) VALUES (?1, ?2, 'run_finished', ?3)",
            params![run_id, at, outcome],
        )?;
        transaction.commit()?;
        Ok(())
    }

    /// The plan a run executes, verbatim as reviewed.
    pub fn plan_of(&self, run_id: &str) -> Result<String, JournalError> {
        self.connection
            .query_row(
                "SELECT plan FROM runs WHERE id = ?1",
                params![run_id],
                |row| row.get(0),
            )
            .optional()?
            .ok_or_else(|| JournalError::UnknownRun(run_id.to_owned()))
    }

    /// The actions of a run, in plan order.
    pub fn actions(&self, run_id: &str) -> Result<Vec<ActionRecord>, JournalError> {
        let mut statement = self.connection.prepare(
            "SELECT action_id, position, kind, target, state, before_image, request, response,
                    request_id, detail, started_at, finished_at
             FROM actions WHERE run_id = ?1 ORDER BY position",
        )?;
        let rows = statement.query_map(params![run_id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, Option<String>>(5)?,
                row.get::<_, Option<String>>(6)?,
                row.get::<_, Option<String>>(7)?,
                row.get::<_, Option<String>>(8)?,
                row.get::<_, Option<String>>(9)?,
                row.get::<_, Option<String>>(10)?,
                row.get::<_, Option<String>>(11)?,
            ))
        })?;
        let decode = |text: Option<String>| -> Result<Option<serde_json::Value>, JournalError> {
            Ok(text.map(|text| serde_json::from_str(&text)).transpose()?)
        };
        let mut records = Vec::new();
        for row in rows {
            let (
                action_id,
                position,
                kind,
                target,
                state,
                before,
                request,
                response,
                request_id,
                detail,
                started_at,
                finished_at,
            ) = row?;
            records.push(ActionRecord {
                action_id,
                position,
                kind,
                target,
                state: ActionState::parse(&state)?,
                before_image: decode(before)?,
                request: decode(request)?,
                response: decode(response)?,
                request_id,
                detail,
                started_at,
                finished_at,
            });
        }
        if records.is_empty() && !self.run_exists(run_id)? {
            return Err(JournalError::UnknownRun(run_id.to_owned()));
        }
        Ok(records)
    }

    fn run_exists(&self, run_id: &str) -> Result<bool, JournalError> {
        Ok(self
            .connection
            .query_row("SELECT 1 FROM runs WHERE id = ?1", params![run_id], |_| {
                Ok(())
            })
            .optional()?
            .is_some())
    }

    /// Runs that have not finished: what `apply --resume` picks up.
    pub fn unfinished_runs(&self) -> Result<Vec<String>, JournalError> {
        let mut statement = self
            .connection
            .prepare("SELECT id FROM runs WHERE finished_at IS NULL ORDER BY started_at, id")?;
        let ids = statement
            .query_map([], |row| row.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(ids)
    }

    /// Every run, newest first, with how many actions ended in each state.
    pub fn runs(&self) -> Result<Vec<RunRecord>, JournalError> {
        let mut statement = self.connection.prepare(
            "SELECT id, kind, undoes_run, plan_fingerprint, tenant, operator, started_at, finished_at, outcome
             FROM runs ORDER BY started_at DESC, id DESC",
        )?;
        let runs = statement
            .query_map([], |row| {
                Ok(RunRecord {
                    id: row.get(0)?,
                    kind: row.get(1)?,
                    undoes_run: row.get(2)?,
                    plan_fingerprint: row.get(3)?,
                    tenant: row.get(4)?,
                    operator: row.get(5)?,
                    started_at: row.get(6)?,
                    finished_at: row.get(7)?,
                    outcome: row.get(8)?,
                    action_counts: Vec::new(),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut counts = self.connection.prepare(
            "SELECT state, COUNT(*) FROM actions WHERE run_id = ?1 GROUP BY state ORDER BY state",
        )?;
        runs.into_iter()
            .map(|mut run| {
                run.action_counts = counts
                    .query_map(params![run.id], |row| {
                        Ok((row.get(0)?, row.get::<_, i64>(1)? as u64))
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(run)
            })
            .collect()
    }
}

#[derive(Default)]
struct Transition<'a> {
    before_image: Option<&'a serde_json::Value>,
    request: Option<&'a serde_json::Value>,
    response: Option<&'a serde_json::Value>,
    request_id: Option<&'a str>,
    detail: Option<&'a str>,
}

/// How an in-flight action ended.
#[derive(Clone, Copy, Debug)]
pub enum Outcome<'a> {
    Succeeded {
        response: Option<&'a serde_json::Value>,
        request_id: Option<&'a str>,
    },
    Failed {
        response: Option<&'a serde_json::Value>,
        request_id: Option<&'a str>,
        detail: &'a str,
    },
    /// The answer was lost, but re-reading the target shows the effect: it succeeded, and
    /// is not sent again.
    Confirmed { detail: &'a str },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(id: &str) -> NewRun<'_> {
        NewRun {
            id,
            kind: "apply",
            undoes_run: None,
            plan_fingerprint: "fp",
            plan: "{}",
            tenant: "contoso.onmicrosoft.com",
            operator: "admin",
            started_at: "2026-11-22T10:00:00Z",
        }
    }

    const ACTIONS: &[NewAction<'static>] = &[
        NewAction {
            action_id: "a1",
            kind: "soft_delete",
            target: "dup",
        },
        NewAction {
            action_id: "a2",
            kind: "purge_deleted",
            target: "dup",
        },
        NewAction {
            action_id: "a3",
            kind: "set_immutable_id",
            target: "real",
        },
    ];

    #[test]
    fn a_reopened_journal_knows_exactly_what_was_sent() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("journal.sqlite");
        {
            let mut journal = Journal::open(&path).unwrap();
            journal.begin_run(&run("r1"), ACTIONS).unwrap();
            journal
                .mark_in_flight(
                    "r1",
                    "a1",
                    &json!({"deletedDateTime": null}),
                    &json!({"method": "DELETE"}),
                    "t1",
                )
                .unwrap();
            journal
                .mark_finished(
                    "r1",
                    "a1",
                    Outcome::Succeeded {
                        response: None,
                        request_id: Some("req-1"),
                    },
                    "t2",
                )
                .unwrap();
            journal
                .mark_in_flight("r1", "a2", &json!({}), &json!({"method": "DELETE"}), "t3")
                .unwrap();
            // The process dies here: a2 is in flight, a3 pending.
        }
        let journal = Journal::open(&path).unwrap();
        assert_eq!(journal.unfinished_runs().unwrap(), ["r1"]);
        let states: Vec<_> = journal
            .actions("r1")
            .unwrap()
            .into_iter()
            .map(|action| (action.action_id, action.state))
            .collect();
        assert_eq!(
            states,
            [
                ("a1".to_owned(), ActionState::Succeeded),
                ("a2".to_owned(), ActionState::InFlight),
                ("a3".to_owned(), ActionState::Pending),
            ]
        );
        let first = &journal.actions("r1").unwrap()[0];
        assert_eq!(first.request_id.as_deref(), Some("req-1"));
        assert_eq!(first.before_image, Some(json!({"deletedDateTime": null})));
    }

    #[test]
    fn transitions_only_move_forward() {
        let mut journal = Journal::in_memory().unwrap();
        journal.begin_run(&run("r1"), ACTIONS).unwrap();
        // Finishing what was never sent would claim a write that did not happen.
        let error = journal
            .mark_finished(
                "r1",
                "a1",
                Outcome::Succeeded {
                    response: None,
                    request_id: None,
                },
                "t",
            )
            .unwrap_err();
        assert!(matches!(
            error,
            JournalError::IllegalTransition {
                from: "pending",
                to: "succeeded",
                ..
            }
        ));
        journal
            .mark_in_flight("r1", "a1", &json!({}), &json!({}), "t")
            .unwrap();
        // Sending twice is exactly what the journal exists to prevent.
        let error = journal
            .mark_in_flight("r1", "a1", &json!({}), &json!({}), "t")
            .unwrap_err();
        assert!(matches!(
            error,
            JournalError::IllegalTransition {
                from: "in_flight",
                to: "in_flight",
                ..
            }
        ));
        journal
            .mark_not_sent("r1", "a3", ActionState::Stale, "licensed since review", "t")
            .unwrap();
        assert!(
            journal
                .mark_not_sent("r1", "a2", ActionState::Succeeded, "x", "t")
                .is_err()
        );
    }

    #[test]
    fn history_counts_outcomes_per_run() {
        let mut journal = Journal::in_memory().unwrap();
        journal.begin_run(&run("r1"), ACTIONS).unwrap();
        journal
            .mark_in_flight("r1", "a1", &json!({}), &json!({}), "t")
            .unwrap();
        journal
            .mark_finished(
                "r1",
                "a1",
                Outcome::Failed {
                    response: Some(&json!({"error": {"code": "x"}})),
                    request_id: None,
                    detail: "403",
                },
                "t",
            )
            .unwrap();
        journal
            .mark_not_sent("r1", "a2", ActionState::Skipped, "a1 failed", "t")
            .unwrap();
        journal.finish_run("r1", "failed", "t9").unwrap();
        let runs = journal.runs().unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].outcome.as_deref(), Some("failed"));
        assert_eq!(
            runs[0].action_counts,
            [
                ("failed".to_owned(), 1),
                ("pending".to_owned(), 1),
                ("skipped".to_owned(), 1)
            ]
        );
        assert!(journal.unfinished_runs().unwrap().is_empty());
        assert!(matches!(
            journal.actions("nope"),
            Err(JournalError::UnknownRun(_))
        ));
    }

    #[test]
    fn a_journal_from_a_newer_build_is_refused() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("journal.sqlite");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        assert!(matches!(
            Journal::open(&path),
            Err(JournalError::NewerSchema { .. })
        ));
    }
}
