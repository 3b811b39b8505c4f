//! The device-code flow's server side (graph-api.md §2): issued codes, their state, and
//! what a poll answers. Approval comes from `POST /_emulator/devicecode/approve`, or, in
//! lab mode, automatically after a number of polls.

use std::time::{Duration, SystemTime};

/// Where a device code stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DeviceCodeState {
    Pending,
    Approved { user_id: String },
    Declined,
    Redeemed,
}

#[derive(Clone, Debug)]
pub(crate) struct DeviceCode {
    pub(crate) device_code: String,
    pub(crate) user_code: String,
    pub(crate) client_id: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) expires: SystemTime,
    pub(crate) interval: Duration,
    pub(crate) last_poll: Option<SystemTime>,
    pub(crate) polls: u32,
    pub(crate) state: DeviceCodeState,
}

/// The answer to one poll.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PollOutcome {
    Unknown,
    Expired,
    Pending,
    SlowDown,
    Declined,
    AlreadyRedeemed,
    ClientMismatch,
    /// Issue tokens for this user and these scopes.
    Approved {
        user_id: String,
        scopes: Vec<String>,
    },
}

#[derive(Debug, Default)]
pub(crate) struct DeviceCodes {
    codes: Vec<DeviceCode>,
}

impl DeviceCodes {
    pub(crate) fn insert(&mut self, code: DeviceCode) {
        self.codes.push(code);
    }

    /// Approves (or declines) the code a user typed. Returns false when no pending code
    /// has that user code.
    pub(crate) fn decide(&mut self, user_code: &str, decision: DeviceCodeState) -> bool {
        match self.codes.iter_mut().find(|code| {
            code.user_code.eq_ignore_ascii_case(user_code) && code.state == DeviceCodeState::Pending
        }) {
            Some(code) => {
                code.state = decision;
                true
            }
            None => false,
        }
    }

    /// Answers a poll. `auto_approve` is (after how many polls, as which user).
    pub(crate) fn poll(
        &mut self,
        device_code: &str,
        client_id: &str,
        now: SystemTime,
        auto_approve: Option<(u32, String)>,
    ) -> PollOutcome {
        let Some(code) = self
            .codes
            .iter_mut()
            .find(|code| code.device_code == device_code)
        else {
            return PollOutcome::Unknown;
        };
        if !code.client_id.eq_ignore_ascii_case(client_id) {
            return PollOutcome::ClientMismatch;
        }
        if now >= code.expires {
            return PollOutcome::Expired;
        }
        let too_soon = code
            .last_poll
            .is_some_and(|last| now.duration_since(last).unwrap_or_default() < code.interval);
        code.last_poll = Some(now);
        code.polls += 1;
        if code.state == DeviceCodeState::Pending
            && let Some((after, user_id)) = auto_approve
            && code.polls >= after
        {
            code.state = DeviceCodeState::Approved { user_id };
        }
        match &code.state {
            DeviceCodeState::Pending if too_soon => PollOutcome::SlowDown,
            DeviceCodeState::Pending => PollOutcome::Pending,
            DeviceCodeState::Declined => PollOutcome::Declined,
            DeviceCodeState::Redeemed => PollOutcome::AlreadyRedeemed,
            DeviceCodeState::Approved { user_id } => {
                let outcome = PollOutcome::Approved {
                    user_id: user_id.clone(),
                    scopes: code.scopes.clone(),
                };
                code.state = DeviceCodeState::Redeemed;
                outcome
            }
        }
    }
}
