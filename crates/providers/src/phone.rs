//! Kenyan mobile numbers in the three shapes the providers want.
//!
//! - Daraja: `254712345678` or `254110345678` ([`msisdn`], mpesa-daraja.md §3.1, §11.6)
//! - Airtel: the 9-digit subscriber number `712345678`, no country code ([`subscriber`], airtel-money.md §8)
//! - Africa's Talking: `+254712345678` ([`international`], africastalking-sms.md §7.3)
//!
//! Input is read by [`broadnet_domain::Phone::parse`]: `0712345678`, `712345678`, `254712345678`,
//! `+254712345678`, `00254712345678`, with spaces, dashes, dots or parentheses between digits; the subscriber
//! number starts with 7 or 1 (Safaricom also issues `011x` numbers).

/// The 9-digit subscriber number (`712345678`), or `None` if `input` is not a Kenyan mobile number.
/// The forms accepted are [`broadnet_domain::Phone`]'s, so the product and the providers agree.
pub fn subscriber(input: &str) -> Option<String> {
    broadnet_domain::Phone::parse(input).ok().map(|p| p.as_str()[3..].to_string())
}

/// `254712345678` (12 digits, no `+`), as Daraja wants.
pub fn msisdn(input: &str) -> Option<String> {
    subscriber(input).map(|s| format!("254{s}"))
}

/// `+254712345678`, as Africa's Talking wants.
pub fn international(input: &str) -> Option<String> {
    subscriber(input).map(|s| format!("+254{s}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        for input in [
            "0733123456",
            "733123456",
            "254733123456",
            "+254733123456",
            "+254 733 123 456",
            "00254733123456",
            "0733-123-456",
        ] {
            assert_eq!(subscriber(input).as_deref(), Some("733123456"), "{input}");
        }
        assert_eq!(msisdn("0110123456").as_deref(), Some("254110123456"));
        assert_eq!(international("0712345678").as_deref(), Some("+254712345678"));
        for bad in ["", "12345", "0633123456", "+255733123456", "2547331234567", "07331234x6", "073312345"] {
            assert_eq!(subscriber(bad), None, "{bad}");
        }
    }
}
