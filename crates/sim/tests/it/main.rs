//! The one integration-test binary of `broadnet_sim`: the provider clients against
//! their simulators, the RouterOS client and NAS against the router simulator, and
//! Python's `librouteros` against it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod airtel;
mod client_sim;
mod common;
mod hotspot_web;
mod librouteros;
mod mpesa;
mod nas_sim;
mod script_sim;
mod sms;
