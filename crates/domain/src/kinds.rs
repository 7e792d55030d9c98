//! Closed sets of values (roles, statuses, service types) with their one text form,
//! shared by the API, the database and RADIUS.

/// A closed set of values with one text form each (`as_str`, `parse`, serde, Display).
#[macro_export]
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Result<Self, $crate::ParseError> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::ParseError(format!(
                        "must be one of: {}",
                        [$($text),+].join(", ")
                    ))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// What an admin may do: superadmin everything, admin all but admin accounts,
    /// viewer only read.
    Role { Superadmin => "superadmin", Admin => "admin", Viewer => "viewer" }
);

text_enum!(
    /// How a customer connects.
    CustomerType { Pppoe => "pppoe", Hotspot => "hotspot" }
);

text_enum!(
    /// Which customers a package (or a router) serves.
    ServiceType { Pppoe => "pppoe", Hotspot => "hotspot", Both => "both" }
);

text_enum!(
    /// A customer's account state. Only `active` customers with an unexpired
    /// `expires_at` get online. A new customer waits for their first payment (or an
    /// admin's explicit, audited activation) before they get any access.
    CustomerStatus {
        AwaitingPayment => "awaiting_payment",
        Active => "active",
        Expired => "expired",
        Suspended => "suspended",
        Disabled => "disabled",
    }
);

text_enum!(
    /// Where money came from.
    PaymentProvider { Mpesa => "mpesa", Airtel => "airtel", Cash => "cash", Voucher => "voucher" }
);

text_enum!(
    /// A payment's life: pending until the provider says, then exactly one of the others.
    PaymentStatus {
        Pending => "pending",
        Completed => "completed",
        Failed => "failed",
        Cancelled => "cancelled",
        Expired => "expired",
    }
);

text_enum!(
    /// Where a router is in the wizard: added, then provisioned (it called back with
    /// its identity), then configured by us over its API (or partly, when a step failed).
    RouterState {
        Unprovisioned => "unprovisioned",
        Provisioned => "provisioned",
        Configuring => "configuring",
        Configured => "configured",
        Partial => "partial",
    }
);

text_enum!(
    /// How money arrived, for revenue by channel: an STK prompt, a paybill (C2B)
    /// payment, an Airtel prompt, cash at the counter, or a voucher.
    PaymentChannel { Stk => "stk", Paybill => "paybill", Airtel => "airtel", Cash => "cash", Voucher => "voucher" }
);

impl PaymentChannel {
    /// The key a paybill payment's row carries instead of an STK CheckoutRequestID.
    pub const PAYBILL_KEY_PREFIX: &'static str = "C2B-";

    /// The channel of a payment from its provider and its provider key: M-Pesa money is
    /// paybill when its key is a C2B transaction (or it came from the unmatched queue,
    /// which paybill money mostly fills), else an STK prompt.
    pub fn of(provider: PaymentProvider, checkout_request_id: Option<&str>) -> PaymentChannel {
        match provider {
            PaymentProvider::Mpesa => match checkout_request_id {
                Some(k) if k.starts_with(Self::PAYBILL_KEY_PREFIX) || k.starts_with("unmatched:") => {
                    PaymentChannel::Paybill
                }
                _ => PaymentChannel::Stk,
            },
            PaymentProvider::Airtel => PaymentChannel::Airtel,
            PaymentProvider::Cash => PaymentChannel::Cash,
            PaymentProvider::Voucher => PaymentChannel::Voucher,
        }
    }
}

impl Role {
    pub fn can_write(self) -> bool {
        !matches!(self, Role::Viewer)
    }
}

impl ServiceType {
    /// Whether a package of this service type may be given to a customer of `t`.
    pub fn serves(self, t: CustomerType) -> bool {
        matches!(
            (self, t),
            (ServiceType::Both, _)
                | (ServiceType::Pppoe, CustomerType::Pppoe)
                | (ServiceType::Hotspot, CustomerType::Hotspot)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_is_case_insensitive_and_lists_choices_on_error() {
        assert_eq!(Role::parse(" Admin "), Ok(Role::Admin));
        let err = Role::parse("root").unwrap_err();
        assert_eq!(err.0, "must be one of: superadmin, admin, viewer");
    }

    #[test]
    fn service_types_serve_customer_types() {
        assert!(ServiceType::Both.serves(CustomerType::Hotspot));
        assert!(ServiceType::Pppoe.serves(CustomerType::Pppoe));
        assert!(!ServiceType::Pppoe.serves(CustomerType::Hotspot));
        assert!(!ServiceType::Hotspot.serves(CustomerType::Pppoe));
    }
}

#[cfg(test)]
mod channel_tests {
    use super::*;

    #[test]
    fn a_payment_says_its_channel() {
        use PaymentProvider::*;
        assert_eq!(PaymentChannel::of(Mpesa, Some("ws_CO_123")), PaymentChannel::Stk);
        assert_eq!(PaymentChannel::of(Mpesa, Some("C2B-RKL51ZDR4F")), PaymentChannel::Paybill);
        assert_eq!(PaymentChannel::of(Mpesa, Some("unmatched:7")), PaymentChannel::Paybill);
        assert_eq!(PaymentChannel::of(Airtel, Some("BN1")), PaymentChannel::Airtel);
        assert_eq!(PaymentChannel::of(Cash, None), PaymentChannel::Cash);
        assert_eq!(PaymentChannel::parse("Paybill"), Ok(PaymentChannel::Paybill));
    }
}
