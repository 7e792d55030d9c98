//! The one integration-test binary of `broadnet_invoice`: the PDF's structure, and its
//! text as poppler reads it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod poppler;
mod structure;
