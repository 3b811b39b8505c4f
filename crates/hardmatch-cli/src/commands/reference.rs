//! `hardmatch completions` and `hardmatch man`: generated from the same definition as
//! `--help`, so they cannot drift from the real interface.

use clap::CommandFactory as _;

use crate::ExitStatus;
use crate::args::Cli;
use crate::printer::Printer;

pub(crate) fn completions(
    shell: clap_complete::Shell,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "hardmatch", &mut script);
    printer.data(&String::from_utf8_lossy(&script))?;
    Ok(ExitStatus::Success)
}

pub(crate) fn manual(printer: &Printer) -> anyhow::Result<ExitStatus> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut page)?;
    printer.data(&String::from_utf8_lossy(&page))?;
    Ok(ExitStatus::Success)
}
