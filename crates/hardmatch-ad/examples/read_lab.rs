//! Times a live read of the AD lab, for comparing hardmatch with `ldapsearch`.
//!
//! ```text
//! eval "$(scripts/ad-lab env)"
//! scripts/ad-lab seed --bulk 100000
//! cargo run --release -p hardmatch-ad --example read_lab -- OU=Bulk,DC=hardmatch,DC=test
//! ```
//!
//! Prints the user count, the elapsed time and the peak resident memory (Linux).

// An example's whole job is to print its measurement.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::Instant;

use hardmatch_ad::{AdSource, Bind, Directory, NoReporter, Password, TlsOptions, read_users};

fn variable(name: &str) -> Result<String, String> {
    std::env::var(name)
        .map_err(|_| format!("{name} is not set; run: eval \"$(scripts/ad-lab env)\""))
}

fn main() -> Result<(), String> {
    let base_dn = match std::env::args().nth(1) {
        Some(base_dn) => base_dn,
        None => variable("HARDMATCH_LAB_BASE_DN")?,
    };
    let mut source = AdSource::new(
        vec![Directory {
            url: variable("HARDMATCH_LAB_LDAPS_URL")?,
            base_dn,
        }],
        Bind::Simple {
            name: variable("HARDMATCH_LAB_BIND_DN")?,
            password: Password::new(variable("HARDMATCH_LAB_BIND_PASSWORD")?),
        },
    );
    source.tls = TlsOptions {
        ca_certificates: vec![variable("HARDMATCH_LAB_CA_CERT")?.into()],
        ..TlsOptions::default()
    };
    source.timeout = std::time::Duration::from_secs(300);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    let started = Instant::now();
    let snapshot = runtime
        .block_on(read_users(&source, &NoReporter))
        .map_err(|error| format!("{error} (hint: {})", error.hint().unwrap_or_default()))?;
    let elapsed = started.elapsed();
    let peak = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .map(|line| line.trim_start_matches("VmHWM:").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!(
        "users: {}\nelapsed: {:.2} s\npeak memory: {peak}",
        snapshot.users.len(),
        elapsed.as_secs_f64()
    );
    Ok(())
}
