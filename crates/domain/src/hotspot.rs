//! Hotspot values shared by the portal, RADIUS and the voucher screens: device MACs,
//! voucher codes and their alphabets, and the voucher and batch states.
//!
//! A hotspot account is named by its RADIUS username: a customer's username or a
//! voucher's code. Devices are bound to that name.

use crate::ParseError;

crate::text_enum!(
    /// A voucher's life: unused → active (first use, exactly once) → used up / expired,
    /// or revoked by an admin at any point.
    VoucherStatus {
        Unused => "unused",
        Active => "active",
        UsedUp => "used_up",
        Expired => "expired",
        Revoked => "revoked",
    }
);

crate::text_enum!(
    /// The characters a batch's codes are made of. None of them has 0, O, 1 or I.
    VoucherCharset { Digits => "digits", Letters => "letters", Mixed => "mixed" }
);

crate::text_enum!(
    /// `code`: the code is also the password. `pin`: the code is the username and a
    /// separate PIN the password.
    VoucherMode { Code => "code", Pin => "pin" }
);

crate::text_enum!(
    /// When a voucher's time runs: from its first use for the package's duration, or
    /// until the batch's fixed date.
    VoucherValidity { FirstUse => "first_use", Fixed => "fixed" }
);

impl VoucherCharset {
    /// The alphabet: no 0/O, 1/I (nor L, to spare misreading it as 1).
    pub fn alphabet(self) -> &'static [u8] {
        match self {
            VoucherCharset::Digits => b"23456789",
            VoucherCharset::Letters => b"ABCDEFGHJKMNPQRSTUVWXYZ",
            VoucherCharset::Mixed => b"23456789ABCDEFGHJKMNPQRSTUVWXYZ",
        }
    }
}

/// A voucher code as typed: case-insensitive, spaces and dashes ignored. `None` when
/// it cannot be a code (empty, too long, other characters).
pub fn normalise_voucher_code(input: &str) -> Option<String> {
    let code: String =
        input.chars().filter(|c| !matches!(c, ' ' | '-' | '\t')).map(|c| c.to_ascii_uppercase()).collect();
    let ok = !code.is_empty() && code.len() <= 32 && code.bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then_some(code)
}

/// A device MAC in the one form we store and compare: `AA:BB:CC:DD:EE:FF`. Accepts
/// `:`, `-`, `.` or no separators, any case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Mac(String);

impl Mac {
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let hex: String = input.trim().chars().filter(|c| !matches!(c, ':' | '-' | '.')).collect();
        if hex.len() != 12 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ParseError::new("must be a MAC address like AA:BB:CC:DD:EE:FF"));
        }
        let hex = hex.to_ascii_uppercase();
        let pairs: Vec<&str> = (0..6).map(|i| &hex[i * 2..i * 2 + 2]).collect();
        Ok(Mac(pairs.join(":")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Mac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Mac {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        Mac::parse(&s)
    }
}

impl From<Mac> for String {
    fn from(m: Mac) -> String {
        m.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_in_any_form_are_one_mac() {
        for s in ["aa:bb:cc:dd:ee:ff", "AA-BB-CC-DD-EE-FF", "aabb.ccdd.eeff", "AABBCCDDEEFF"] {
            assert_eq!(Mac::parse(s).unwrap().as_str(), "AA:BB:CC:DD:EE:FF", "{s}");
        }
        for s in ["", "AA:BB:CC:DD:EE", "GG:BB:CC:DD:EE:FF", "AA:BB:CC:DD:EE:FF:00"] {
            assert!(Mac::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn voucher_codes_ignore_case_spaces_and_dashes() {
        assert_eq!(normalise_voucher_code(" ab-c2 3 ").as_deref(), Some("ABC23"));
        assert_eq!(normalise_voucher_code(""), None);
        assert_eq!(normalise_voucher_code("ab'c"), None);
        assert_eq!(normalise_voucher_code(&"A".repeat(33)), None);
    }

    #[test]
    fn alphabets_have_no_ambiguous_characters() {
        for cs in VoucherCharset::ALL {
            for c in [b'0', b'O', b'1', b'I'] {
                assert!(!cs.alphabet().contains(&c), "{cs} has {}", c as char);
            }
        }
    }
}
