//! One module per subcommand; each is a function from resolved arguments to an exit status.

mod convert;

use crate::ExitStatus;
use crate::args::Command;
use crate::printer::Printer;

pub fn dispatch(command: Command, printer: &Printer) -> anyhow::Result<ExitStatus> {
    match command {
        Command::Convert(arguments) => convert::run(&arguments, printer),
    }
}
