#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Structural checks on the PDF bytes, without any external tool.

use crate::common;

use broadnet_invoice::{InvoiceDoc, render};
use common::{long, sample};

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

/// Parses the xref table via `startxref`, checks that every in-use entry points at `N 0 obj`, and
/// returns the number of objects.
fn check_xref(pdf: &[u8]) -> usize {
    assert!(pdf.starts_with(b"%PDF-1.4\n"));
    assert!(pdf.ends_with(b"%%EOF\n"));
    let sx = rfind(pdf, b"startxref\n").expect("startxref");
    let tail = std::str::from_utf8(&pdf[sx + b"startxref\n".len()..]).unwrap();
    let xref_at: usize = tail.lines().next().unwrap().trim().parse().unwrap();
    assert!(pdf[xref_at..].starts_with(b"xref\n"), "startxref does not point at the xref table");

    let table = std::str::from_utf8(&pdf[xref_at..sx]).unwrap();
    let mut lines = table.split('\n');
    assert_eq!(lines.next(), Some("xref"));
    let header: Vec<usize> = lines.next().unwrap().split(' ').map(|n| n.parse().unwrap()).collect();
    assert_eq!(header[0], 0);
    let count = header[1];
    // Entries are exactly 20 bytes each ("nnnnnnnnnn ggggg n \n").
    let entries_start = xref_at + "xref\n".len() + format!("0 {count}\n").len();
    for i in 0..count {
        let entry = &pdf[entries_start + 20 * i..entries_start + 20 * (i + 1)];
        let entry = std::str::from_utf8(entry).unwrap();
        assert_eq!(entry.len(), 20);
        assert!(entry.ends_with(" \n"), "entry {i} is not 20 bytes: {entry:?}");
        if i == 0 {
            assert_eq!(entry, "0000000000 65535 f \n");
            continue;
        }
        assert_eq!(&entry[10..19], " 00000 n ", "entry {i}: {entry:?}");
        let offset: usize = entry[..10].parse().unwrap();
        let expected = format!("{i} 0 obj");
        assert!(
            pdf[offset..].starts_with(expected.as_bytes()),
            "xref entry {i} points at {:?}",
            String::from_utf8_lossy(&pdf[offset..offset + 12])
        );
    }
    let trailer = &table[entries_start - xref_at + 20 * count..];
    assert!(trailer.starts_with("trailer\n"), "{trailer}");
    assert!(trailer.contains(&format!("/Size {count}")), "{trailer}");
    assert!(trailer.contains("/Root 1 0 R"), "{trailer}");
    count
}

/// Every stream's /Length matches the bytes between `stream\n` and `\nendstream`.
fn check_streams(pdf: &[u8]) -> usize {
    let mut n = 0;
    let mut at = 0;
    while let Some(rel) = find(&pdf[at..], b"/Length ") {
        let start = at + rel + b"/Length ".len();
        let digits: String = pdf[start..].iter().take_while(|b| b.is_ascii_digit()).map(|&b| char::from(b)).collect();
        let len: usize = digits.parse().unwrap();
        let data = start + find(&pdf[start..], b"stream\n").unwrap() + b"stream\n".len();
        assert!(pdf[data + len..].starts_with(b"\nendstream"), "stream at {data} has a wrong /Length");
        n += 1;
        at = data + len;
    }
    n
}

#[test]
fn xref_offsets_point_at_objects() {
    let pdf = render(&sample());
    // catalog, pages, 2 fonts, info, then page + content per page
    assert_eq!(check_xref(&pdf), 8);
    assert_eq!(check_streams(&pdf), 1);
    assert!(find(&pdf, b"/Count 1").is_some());
}

#[test]
fn multi_page_structure() {
    let pdf = render(&long());
    assert_eq!(check_xref(&pdf), 10);
    assert_eq!(check_streams(&pdf), 2);
    assert!(find(&pdf, b"/Kids [6 0 R 8 0 R] /Count 2").is_some());
}

#[test]
fn fonts_are_standard_type1_winansi() {
    let pdf = render(&sample());
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.contains("/Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding"));
    assert!(text.contains("/Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding"));
    assert!(text.contains("/FirstChar 32 /LastChar 255"));
}

#[test]
fn strings_are_escaped() {
    let pdf = render(&sample());
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.contains("(Kilimani Fibre \\(K\\) Ltd)"), "parentheses escaped");
    assert!(text.contains("(Username: kilimani\\\\wanjiru)"), "backslash escaped");
    assert!(text.contains("Nyokabi M\\374ller"), "ü written as WinAnsi 0xFC");
    assert!(text.contains("\\223Support\\224"), "curly quotes as WinAnsi 0x93/0x94");
}

#[test]
fn output_is_deterministic() {
    assert_eq!(render(&sample()), render(&sample()));
    assert_eq!(render(&long()), render(&long()));
}

#[test]
fn empty_document_is_still_a_valid_pdf() {
    let pdf = render(&InvoiceDoc::default());
    assert_eq!(check_xref(&pdf), 8);
    check_streams(&pdf);
}
