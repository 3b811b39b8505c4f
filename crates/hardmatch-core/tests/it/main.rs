//! Integration tests of the core through its public API: data-driven scenarios and
//! property tests. One binary (engineering-style.md §2 #12).

mod properties;
mod scenarios;
mod support;
mod troubleshooting;
