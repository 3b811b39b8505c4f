//! The command-line interface definition, from which help, completions and the man page
//! are generated.

use clap::{Args, Parser, Subcommand, ValueEnum};

const CONVERT_EXAMPLES: &str = "\
Examples:
  hardmatch convert 20e8847b-03bc-43c8-a93b-175bb489058a
  hardmatch convert e4ToILwDyEOpOxdbtIkFig== --json
  Get-ADUser -Filter * | Select ObjectGUID | Export-Csv g.csv   # on Windows, then:
  hardmatch convert - < g.csv";

/// Link on-premises Active Directory users to their existing Entra ID accounts.
#[derive(Debug, Parser)]
#[command(name = "hardmatch", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print only data and errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// More detail on stderr: -v for progress details, -vv for debugging.
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// When to colour output; `NO_COLOR` in the environment means never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Resolves `auto` against `NO_COLOR` and whether stderr is a terminal.
    pub fn enabled(self) -> bool {
        use std::io::IsTerminal as _;
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
                    && std::io::stderr().is_terminal()
            }
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show an anchor in every form: GUID, ImmutableID, hex, LDAP filter, connector-space DN.
    #[command(after_help = CONVERT_EXAMPLES)]
    Convert(ConvertArgs),
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Values to convert, in any form; `-` reads one value per line from stdin (a pasted
    /// column of an export, quotes and header included).
    #[arg(required = true, value_name = "VALUE")]
    pub values: Vec<String>,
    /// One JSON object per value, one per line.
    #[arg(long)]
    pub json: bool,
}
