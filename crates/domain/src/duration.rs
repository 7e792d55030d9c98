//! The one duration parser: package durations, token lifetimes, RouterOS uptimes and
//! timeouts all read `1w2d3h4m5s`, `300ms`, `01:22:53` or `3d01:22:53`. A bare number
//! means the unit the caller names (days for a package, seconds elsewhere).

use std::time::Duration;

/// What a number without a unit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bare {
    Seconds,
    Days,
}

/// Parses a duration; `None` for anything else (empty, negative, unknown unit, overflow).
/// Units: `w`, `d`, `h`, `m` or `min`, `s`, `ms`, in any combination, optionally
/// followed by a `hh:mm:ss` clock (RouterOS writes `3d01:22:53`). Case and white
/// space are ignored.
pub fn parse(text: &str, bare: Bare) -> Option<Duration> {
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
    if text.is_empty() {
        return None;
    }
    if let Ok(n) = text.parse::<u64>() {
        let unit = match bare {
            Bare::Seconds => 1,
            Bare::Days => 86_400,
        };
        return n.checked_mul(unit).map(Duration::from_secs);
    }
    let (units, clock) = match text.rfind(|c: char| c.is_ascii_alphabetic()) {
        Some(i) if text.contains(':') => (&text[..=i], &text[i + 1..]),
        None if text.contains(':') => ("", text.as_str()),
        _ => (text.as_str(), ""),
    };
    let mut millis: u64 = 0;
    let mut number = String::new();
    let mut chars = units.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().ok()?;
        number.clear();
        let unit_ms = match c {
            'w' => 604_800_000,
            'd' => 86_400_000,
            'h' => 3_600_000,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                1
            }
            'm' if chars.peek() == Some(&'i') => {
                chars.next();
                if chars.next() != Some('n') {
                    return None;
                }
                60_000
            }
            'm' => 60_000,
            's' => 1_000,
            _ => return None,
        };
        millis = millis.checked_add(n.checked_mul(unit_ms)?)?;
    }
    if !number.is_empty() {
        // Digits after the last unit: seconds, as RouterOS means them.
        millis = millis.checked_add(number.parse::<u64>().ok()?.checked_mul(1_000)?)?;
    }
    if !clock.is_empty() {
        let mut secs: u64 = 0;
        for part in clock.split(':') {
            secs = secs.checked_mul(60)?.checked_add(part.parse().ok()?)?;
        }
        millis = millis.checked_add(secs.checked_mul(1_000)?)?;
    }
    Some(Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_we_meet() {
        let s = |n| Some(Duration::from_secs(n));
        assert_eq!(parse("1w2d3h4m5s", Bare::Seconds), s(604_800 + 2 * 86_400 + 3 * 3600 + 4 * 60 + 5));
        assert_eq!(parse("300ms", Bare::Seconds), Some(Duration::from_millis(300)));
        assert_eq!(parse("01:22:53", Bare::Seconds), s(3600 + 22 * 60 + 53));
        assert_eq!(parse("3d01:22:53", Bare::Seconds), s(3 * 86_400 + 3600 + 22 * 60 + 53));
        assert_eq!(parse("90min", Bare::Seconds), s(5400));
        assert_eq!(parse(" 12 H ", Bare::Seconds), s(43_200));
        assert_eq!(parse("5", Bare::Seconds), s(5));
        assert_eq!(parse("30", Bare::Days), s(30 * 86_400));
        for bad in ["", "x", "-5d", "5y", "1.5h", "mi", "5mix", "99999999999999999999d"] {
            assert_eq!(parse(bad, Bare::Seconds), None, "{bad}");
        }
    }
}
