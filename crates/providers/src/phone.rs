//! Kenyan mobile numbers in the three shapes the providers want.
//!
//! - Daraja: `254712345678` or `254110345678` ([`msisdn`], mpesa-daraja.md §3.1, §11.6)
//! - Airtel: the 9-digit subscriber number `712345678`, no country code ([`subscriber`], airtel-money.md §8)
//! - Africa's Talking: `+254712345678` ([`international`], africastalking-sms.md §7.3)
//!
//! Accepted input forms: `0712345678`, `712345678`, `254712345678`, `+254712345678`, `00254712345678`, with
//! spaces, dashes, dots or parentheses anywhere. The subscriber number must start with 7 or 1 (Safaricom also
//! issues `011x` numbers).

/// The 9-digit subscriber number (`712345678`), or `None` if `input` is not a Kenyan mobile number.
pub fn subscriber(input: &str) -> Option<String> {
    let cleaned: String = input.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '\t')).collect();
    let digits = if let Some(rest) = cleaned.strip_prefix('+') {
        rest.strip_prefix("254")?
    } else if let Some(rest) = cleaned.strip_prefix("00254") {
        rest
    } else if cleaned.len() == 12 {
        cleaned.strip_prefix("254")?
    } else if cleaned.len() == 10 {
        cleaned.strip_prefix('0')?
    } else {
        cleaned.as_str()
    };
    let ok =
        digits.len() == 9 && digits.bytes().all(|b| b.is_ascii_digit()) && matches!(digits.as_bytes()[0], b'7' | b'1');
    ok.then(|| digits.to_string())
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
