//! One module per subcommand; each is a function from resolved arguments to an exit status.

mod apply;
mod convert;
mod demo;
mod emulator;
mod plan;
mod reference;
mod rehearse;
mod report;
mod snapshot;
mod status;

use crate::ExitStatus;
use crate::args::{Command, SnapshotCommand};
use crate::sources::Context;

pub fn dispatch(command: Command, context: &Context) -> anyhow::Result<ExitStatus> {
    match command {
        Command::Convert(arguments) => convert::run(&arguments, &context.printer),
        Command::Snapshot(SnapshotCommand::Ad(arguments)) => snapshot::ad(&arguments, context),
        Command::Snapshot(SnapshotCommand::Tenant(arguments)) => {
            snapshot::tenant(&arguments, context)
        }
        Command::Status(arguments) => status::run(&arguments, context),
        Command::Plan(arguments) => plan::run(&arguments, context),
        Command::Show(arguments) => plan::show(&arguments, context),
        Command::Report(arguments) => report::run(&arguments, context),
        Command::Emulator(arguments) => emulator::run(&arguments, context),
        Command::Apply(arguments) => apply::apply(&arguments, context),
        Command::Undo(arguments) => apply::undo(&arguments, context),
        Command::Sync(arguments) => apply::sync(&arguments, context),
        Command::Verify(arguments) => apply::verify(&arguments, context),
        Command::History(arguments) => apply::history(&arguments, context),
        Command::Demo(arguments) => demo::run(&arguments, context),
        Command::Rehearse(arguments) => rehearse::run(&arguments, context),
        Command::Completions { shell } => reference::completions(shell, &context.printer),
        Command::Man => reference::manual(&context.printer),
    }
}
