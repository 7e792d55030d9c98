//! The BroadNet Billing domain: values that arrive from outside (phone numbers,
//! usernames, amounts, rates, durations) parsed once into types that cannot be wrong.
//! No I/O and no clock reads: time is always passed in.

pub mod billing;
pub mod clock;
pub mod duration;
pub mod hotspot;
pub mod kinds;
pub mod money;
pub mod phone;
pub mod rate;
pub mod username;

pub use clock::{Clock, FixedClock, SystemClock};
pub use hotspot::{Mac, VoucherCharset, VoucherMode, VoucherStatus, VoucherValidity};
pub use kinds::{
    CustomerStatus, CustomerType, PaymentChannel, PaymentProvider, PaymentStatus, Role, RouterState, ServiceType,
};
pub use money::Money;
pub use phone::Phone;
pub use rate::{Burst, Rate, RateLimit, format_duration_minutes, parse_duration_minutes};
pub use username::Username;

/// Why a value from outside was refused; the text is shown to the user as a field message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

impl ParseError {
    pub fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}
