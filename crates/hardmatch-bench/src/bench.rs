//! The benchmark suite (placeholder while the generator is built).

#[derive(clap::Args)]
pub struct BenchArgs {}

pub fn run(_arguments: &BenchArgs) -> anyhow::Result<()> {
    Ok(())
}
