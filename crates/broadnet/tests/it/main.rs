//! The one integration-test binary of `broadnet` (one link of the whole program, not
//! six): each suite is a module, named in nextest filters as `api::`, `payments::`, …
//! Most suites start the app with `broadnet_testkit::app::TestApp`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api;
mod browser;
mod cli;
mod freeradius;
mod payments;
mod portal;
mod radius;
mod routers;
mod vouchers;
