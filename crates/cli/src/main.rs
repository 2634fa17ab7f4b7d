//! `nextclick`: the command-line tool of nextclick (reference model, demo server and demo data; with the
//! default features also training, export, catalogs and evaluation). `nextclick --help` lists the commands.

use clap::Parser;

mod commands;
mod demo;
mod serve;

#[derive(Parser)]
#[command(
    name = "nextclick",
    version,
    about = "nextclick: on-device next-click prediction — tooling"
)]
struct Cli {
    #[command(subcommand)]
    command: commands::Command,
}

fn main() -> anyhow::Result<()> {
    Cli::parse().command.run()
}
