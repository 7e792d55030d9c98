//! The `broadnet` program: configuration, wiring and the subcommands. Everything
//! a test needs to start the real server in-process is public here.

pub mod bench;
pub mod bench_pages;
pub mod bench_portal;
pub mod bench_vouchers;
pub mod config;
pub mod server;
pub mod simulate;
