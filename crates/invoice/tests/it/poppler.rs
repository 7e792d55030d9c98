#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Renders invoices and reads them back with poppler-utils (`pdftotext`, `pdfinfo`).
//! These tests fail, rather than skip, when poppler-utils is missing.

use crate::common;

use broadnet_invoice::render;
use common::{long, pdftotext, poppler, sample, write_temp};

/// Collapses runs of whitespace so that `-layout` column padding does not matter.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn every_field_is_extractable() {
    let doc = sample();
    let text = pdftotext("sample", &render(&doc));
    let expected = [
        "Kilimani Fibre (K) Ltd",
        "Argwings Kodhek Rd, P.O. Box 1234-00100, Nairobi",
        "Tel: +254 700 000 111",
        "billing@kilimani.co.ke",
        "KRA PIN: P051234567X",
        "Account manager: Nyokabi Müller",
        "INVOICE",
        "INV-000123",
        "25 Nov 2026 14:30 EAT",
        "PAID",
        "BILLED TO",
        // ũ is not in WinAnsi: it falls back to the bare letter.
        "Wanjiru O'Brien (Home)",
        "kilimani\\wanjiru",
        "+254 712 345 678",
        "wanjiru@example.co.ke",
        "Description",
        "Amount",
        "Home Fibre 10 Mbps (Unlimited)",
        "25 Nov 2026 14:30 – 25 Dec 2026 14:30",
        "KES 1,500.00",
        "Total",
        "Paid by M-Pesa, receipt NLJ7RT61SV",
        "Thank you for staying connected.",
        "Call “Support” on 0700 000 111 – we’re here 24/7.",
    ];
    for needle in expected {
        assert!(text.contains(needle), "{needle:?} missing from pdftotext output:\n{text}");
    }
    // The only '?' is the one in the footer: nothing in the sample falls back to '?'.
    assert_eq!(text.matches('?').count(), 1, "{text}");
    assert_eq!(poppler_pages("sample", &render(&doc)), 1);
}

#[test]
fn reading_order_follows_the_layout() {
    let text = squash(&pdftotext("order", &render(&sample())));
    let order = [
        "Kilimani Fibre (K) Ltd",
        "BILLED TO",
        "Wanjiru O'Brien (Home)",
        "Username: kilimani\\wanjiru",
        "Phone: +254 712 345 678",
        "Email: wanjiru@example.co.ke",
        "Description",
        "Home Fibre 10 Mbps (Unlimited)",
        "25 Nov 2026 14:30 – 25 Dec 2026 14:30",
        "Total",
        "Paid by M-Pesa",
        "Thank you",
    ];
    let mut from = 0;
    for needle in order {
        let at =
            text[from..].find(needle).unwrap_or_else(|| panic!("{needle:?} not found after byte {from} in:\n{text}"));
        from += at + needle.len();
    }
}

#[test]
fn unmappable_characters_become_question_marks() {
    let mut doc = sample();
    doc.customer_name = "Nyokabi Müller 日本".into();
    let text = pdftotext("unmappable", &render(&doc));
    assert!(text.contains("Nyokabi Müller ??"), "{text}");
}

fn poppler_pages(name: &str, pdf: &[u8]) -> usize {
    let path = write_temp(name, pdf);
    let info = poppler("pdfinfo", &[path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    let line = info.lines().find(|l| l.starts_with("Pages:")).unwrap_or_else(|| panic!("no Pages: in\n{info}"));
    line["Pages:".len()..].trim().parse().unwrap()
}

#[test]
fn long_details_and_footer_flow_onto_a_second_page() {
    let doc = long();
    let pdf = render(&doc);
    assert_eq!(poppler_pages("long", &pdf), 2);
    let text = pdftotext("long", &pdf);
    // pdftotext separates pages with a form feed.
    assert_eq!(text.matches('\u{c}').count(), 2, "{text}");
    let squashed = squash(&text);
    let mut from = 0;
    for needle in
        doc.isp_details.iter().chain(doc.footer.as_ref().unwrap().lines().map(str::to_owned).collect::<Vec<_>>().iter())
    {
        let at = squashed[from..].find(needle.as_str()).unwrap_or_else(|| panic!("{needle:?} missing or out of order"));
        from += at + needle.len();
    }
    assert!(text.contains("INV-000123 · Page 1 of 2"), "{text}");
    assert!(text.contains("INV-000123 · Page 2 of 2"), "{text}");
    assert!(text.contains("Paid by M-Pesa, receipt NLJ7RT61SV"));
}

#[test]
fn long_paragraphs_wrap_without_losing_words() {
    let mut doc = sample();
    let words: Vec<String> = (0..400).map(|i| format!("word{i}")).collect();
    let paragraph = words.join(" ");
    doc.footer = Some(paragraph.clone());
    doc.isp_name = "The Very Long Name Of A Community Internet Service Provider Cooperative Society".into();
    doc.package_name =
        "Business Fibre 100 Mbps symmetrical with static IP, managed router and 24/7 priority support".into();
    let pdf = render(&doc);
    assert_eq!(poppler_pages("wrap", &pdf), 2);
    let text = pdftotext("wrap", &pdf);
    let squashed = squash(&text);
    // Wrapped lines come back in order, with the page-number line in between.
    let footer_text = squashed.replace(" INV-000123 · Page 1 of 2", "");
    assert!(footer_text.contains(&paragraph), "{text}");
    // The name wraps in the header's left column, beside the invoice number and date.
    for part in ["The Very Long Name Of A", "Community Internet Service", "Provider Cooperative Society"] {
        assert!(text.contains(part), "{part:?} missing:\n{text}");
    }
    // The description wraps beside the amount column.
    assert!(squashed.replace(" KES 1,500.00", "").contains(&doc.package_name), "{text}");
    // No line is wider than the page: -layout would otherwise produce very long lines.
    for line in text.lines() {
        assert!(line.chars().count() < 140, "suspiciously long line: {line:?}");
    }
}
