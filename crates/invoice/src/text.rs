//! Text handling for the two standard fonts: mapping Unicode to WinAnsi bytes, measuring with the
//! fonts' real glyph widths, wrapping to a column, and escaping PDF string literals.

use crate::metrics::{HELVETICA, HELVETICA_BOLD, LETTER_FALLBACK};

/// The fonts an invoice uses: two of the PDF standard 14, so nothing is embedded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Font {
    Helvetica,
    HelveticaBold,
}

impl Font {
    /// The PostScript name used as `/BaseFont`.
    pub fn base_font(self) -> &'static str {
        match self {
            Font::Helvetica => "Helvetica",
            Font::HelveticaBold => "Helvetica-Bold",
        }
    }

    /// Name of the font in a page's resource dictionary.
    pub(crate) fn resource(self) -> &'static str {
        match self {
            Font::Helvetica => "F1",
            Font::HelveticaBold => "F2",
        }
    }

    /// Advance widths in 1/1000 em for WinAnsi codes 32..=255.
    pub(crate) fn widths(self) -> &'static [u16; 224] {
        match self {
            Font::Helvetica => &HELVETICA,
            Font::HelveticaBold => &HELVETICA_BOLD,
        }
    }

    /// Advance width of one WinAnsi byte, in 1/1000 em (0 for control codes).
    pub fn glyph_width(self, byte: u8) -> u16 {
        if byte < 32 { 0 } else { self.widths()[usize::from(byte - 32)] }
    }
}

/// What one character becomes in WinAnsi.
enum Mapped {
    Byte(u8),
    /// Invisible (control characters, zero-width characters, combining marks): dropped.
    Nothing,
}

fn map_char(c: char) -> Mapped {
    let cp = u32::from(c);
    let byte = match c {
        ' '..='~' => return Mapped::Byte(cp as u8),
        // Soft hyphen: an invisible break hint (WinAnsi would draw it as a hyphen).
        '\u{AD}' => return Mapped::Nothing,
        '\u{A0}'..='\u{FF}' => return Mapped::Byte(cp as u8),
        '\t' => b' ',
        // The WinAnsi extras in 0x80..=0x9F.
        '€' => 0x80,
        '‚' => 0x82,
        'ƒ' => 0x83,
        '„' => 0x84,
        '…' => 0x85,
        '†' => 0x86,
        '‡' => 0x87,
        'ˆ' => 0x88,
        '‰' => 0x89,
        'Š' => 0x8A,
        '‹' => 0x8B,
        'Œ' => 0x8C,
        'Ž' => 0x8E,
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '˜' => 0x98,
        '™' => 0x99,
        'š' => 0x9A,
        '›' => 0x9B,
        'œ' => 0x9C,
        'ž' => 0x9E,
        'Ÿ' => 0x9F,
        // Look-alikes that are commonly typed or pasted.
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2212}' => b'-',
        '\u{2015}' => 0x97,
        '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => b' ',
        '\u{02B9}' | '\u{02BC}' | '\u{2032}' => b'\'',
        '\u{02BA}' | '\u{2033}' => b'"',
        '\u{2024}' => b'.',
        '\u{2044}' | '\u{2215}' => b'/',
        // Invisible: controls, zero-width characters, combining diacritics (the base letter stays).
        '\u{0}'..='\u{1F}' | '\u{7F}'..='\u{9F}' => return Mapped::Nothing,
        '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}' => return Mapped::Nothing,
        '\u{0300}'..='\u{036F}' => return Mapped::Nothing,
        _ => match LETTER_FALLBACK.binary_search_by_key(&cp, |&(k, _)| k) {
            Ok(i) => LETTER_FALLBACK[i].1,
            Err(_) => b'?',
        },
    };
    Mapped::Byte(byte)
}

/// Encodes text as WinAnsi (PDF's `/WinAnsiEncoding`, close to Windows-1252).
///
/// Latin-1 and the WinAnsi extras (euro sign, curly quotes, dashes, …) are kept. Letters with
/// diacritics outside WinAnsi fall back to the bare letter ("Wanjirũ" → "Wanjiru", "Adéẹ̀" →
/// "Adée"), combining marks and invisible characters are dropped, and anything else becomes `?`.
pub fn to_winansi(text: &str) -> Vec<u8> {
    text.chars()
        .filter_map(|c| match map_char(c) {
            Mapped::Byte(b) => Some(b),
            Mapped::Nothing => None,
        })
        .collect()
}

/// Width of WinAnsi-encoded text in points at `size`.
pub fn encoded_width(bytes: &[u8], font: Font, size: f32) -> f32 {
    let units: u32 = bytes.iter().map(|&b| u32::from(font.glyph_width(b))).sum();
    units as f32 * size / 1000.0
}

/// Width of `text` in points when set in `font` at `size`.
pub fn text_width(text: &str, font: Font, size: f32) -> f32 {
    encoded_width(&to_winansi(text), font, size)
}

/// Wraps `text` into lines no wider than `max_width` points, returning WinAnsi-encoded lines.
///
/// Explicit newlines start a new line (an empty paragraph gives an empty line); runs of spaces
/// collapse; a word wider than the column is broken between characters.
pub fn wrap(text: &str, font: Font, size: f32, max_width: f32) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    let space = encoded_width(b" ", font, size);
    for paragraph in text.split('\n') {
        let encoded = to_winansi(paragraph.trim_end_matches('\r'));
        let mut line: Vec<u8> = Vec::new();
        let mut line_width = 0.0_f32;
        for word in encoded.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
            let word_width = encoded_width(word, font, size);
            if !line.is_empty() && line_width + space + word_width <= max_width {
                line.push(b' ');
                line.extend_from_slice(word);
                line_width += space + word_width;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            if word_width <= max_width {
                line.extend_from_slice(word);
                line_width = word_width;
                continue;
            }
            // Too long for any line: break between characters.
            line_width = 0.0;
            for &b in word {
                let w = encoded_width(&[b], font, size);
                if !line.is_empty() && line_width + w > max_width {
                    lines.push(std::mem::take(&mut line));
                    line_width = 0.0;
                }
                line.push(b);
                line_width += w;
            }
        }
        lines.push(line);
    }
    lines
}

/// Writes WinAnsi bytes as a PDF literal string: `(`, `)` and `\` are escaped, and bytes outside
/// printable ASCII are written as octal escapes so content streams stay 7-bit.
pub(crate) fn pdf_literal(bytes: &[u8], out: &mut String) {
    out.push('(');
    for &b in bytes {
        match b {
            b'(' | b')' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7E => out.push(char::from(b)),
            _ => {
                out.push('\\');
                out.push_str(&format!("{b:03o}"));
            }
        }
    }
    out.push(')');
}

/// A PDF text string (for the document information dictionary) as UTF-16BE hex with a BOM.
pub(crate) fn pdf_text_string(text: &str) -> String {
    let mut out = String::from("<FEFF");
    for unit in text.encode_utf16() {
        out.push_str(&format!("{unit:04X}"));
    }
    out.push('>');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_and_latin1_pass_through() {
        assert_eq!(to_winansi("Hello, World ~"), b"Hello, World ~");
        assert_eq!(to_winansi("Müller é ñ ß ÿ"), b"M\xFCller \xE9 \xF1 \xDF \xFF");
    }

    #[test]
    fn winansi_extras() {
        assert_eq!(
            to_winansi("€ ‘q’ “dq” – — … • ™ Š œ Ÿ"),
            b"\x80 \x91q\x92 \x93dq\x94 \x96 \x97 \x85 \x95 \x99 \x8A \x9C \x9F"
        );
    }

    #[test]
    fn fallbacks_and_unknowns() {
        assert_eq!(to_winansi("Wanjirũ"), b"Wanjiru");
        assert_eq!(to_winansi("Ĩ ẹ ọ ṣ ł Ł"), b"I e o s l L");
        // NFD input: the combining tilde is dropped, the base letter stays.
        assert_eq!(to_winansi("Wanjiru\u{303}"), b"Wanjiru");
        assert_eq!(to_winansi("ǘ"), b"\xFC");
        assert_eq!(to_winansi("日本 😀 Ω"), b"?? ? ?");
        assert_eq!(to_winansi("a\u{200B}b\tc\u{7}"), b"ab c");
    }

    #[test]
    fn fallback_table_is_sorted() {
        assert!(LETTER_FALLBACK.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn widths_are_helvetica() {
        assert_eq!(Font::Helvetica.glyph_width(b'W'), 944);
        assert_eq!(Font::Helvetica.glyph_width(b'i'), 222);
        assert_eq!(Font::HelveticaBold.glyph_width(b'i'), 278);
        assert_eq!(Font::Helvetica.glyph_width(0x80), 556);
        assert!((text_width("Hello", Font::Helvetica, 10.0) - 22.78).abs() < 1e-3);
    }

    #[test]
    fn wraps_on_spaces_and_breaks_long_words() {
        let lines = wrap("aaa bbb ccc", Font::Helvetica, 10.0, text_width("aaa bbb", Font::Helvetica, 10.0));
        assert_eq!(lines, vec![b"aaa bbb".to_vec(), b"ccc".to_vec()]);
        let lines = wrap("x\n\ny", Font::Helvetica, 10.0, 100.0);
        assert_eq!(lines, vec![b"x".to_vec(), Vec::new(), b"y".to_vec()]);
        let lines = wrap(&"m".repeat(30), Font::Helvetica, 10.0, 50.0);
        assert!(lines.len() > 1);
        for line in &lines {
            assert!(encoded_width(line, Font::Helvetica, 10.0) <= 50.0);
        }
        assert_eq!(lines.concat(), "m".repeat(30).into_bytes());
    }

    #[test]
    fn literal_escapes() {
        let mut s = String::new();
        pdf_literal(b"a(b)c\\d\xFC", &mut s);
        assert_eq!(s, "(a\\(b\\)c\\\\d\\374)");
        assert_eq!(pdf_text_string("Aü"), "<FEFF004100FC>");
    }
}
