#![allow(dead_code)]

use broadnet_invoice::InvoiceDoc;

pub fn sample() -> InvoiceDoc {
    InvoiceDoc {
        isp_name: "Kilimani Fibre (K) Ltd".into(),
        isp_details: vec![
            "Argwings Kodhek Rd, P.O. Box 1234-00100, Nairobi".into(),
            "Tel: +254 700 000 111".into(),
            "billing@kilimani.co.ke".into(),
            "KRA PIN: P051234567X".into(),
            "Account manager: Nyokabi Müller".into(),
        ],
        number: "INV-000123".into(),
        issued_at: "25 Nov 2026 14:30 EAT".into(),
        customer_name: "Wanjirũ O'Brien (Home)".into(),
        customer_username: "kilimani\\wanjiru".into(),
        customer_phone: Some("+254 712 345 678".into()),
        customer_email: Some("wanjiru@example.co.ke".into()),
        package_name: "Home Fibre 10 Mbps (Unlimited)".into(),
        period: "25 Nov 2026 14:30 – 25 Dec 2026 14:30".into(),
        amount: "KES 1,500.00".into(),
        applied: None,
        payment_method: "M-Pesa".into(),
        receipt: "NLJ7RT61SV".into(),
        status: "PAID".into(),
        footer: Some(
            "Thank you for staying connected. Questions? Call “Support” on 0700 000 111 – we’re here 24/7.".into(),
        ),
    }
}

/// A document whose header details and footer together need a second page.
pub fn long() -> InvoiceDoc {
    let mut doc = sample();
    doc.isp_details = (1..=60).map(|i| format!("Detail line {i:02}: branch office, street and hours")).collect();
    doc.footer = Some((1..=20).map(|i| format!("Footer note {i:02}.")).collect::<Vec<_>>().join("\n"));
    doc
}

/// Writes `bytes` to a fresh file under Cargo's per-target temp dir and returns its path.
pub fn write_temp(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("broadnet_invoice");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}-{}.pdf", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Runs a poppler-utils tool; fails the test (never skips) when it is not installed.
pub fn poppler(tool: &str, args: &[&str]) -> String {
    let output = match std::process::Command::new(tool).args(args).output() {
        Ok(output) => output,
        Err(e) => panic!(
            "could not run `{tool}` ({e}): install poppler-utils (e.g. `apt-get install poppler-utils`) to run the invoice PDF tests"
        ),
    };
    assert!(
        output.status.success(),
        "`{tool} {}` failed with {}: {}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("poppler output is UTF-8")
}

pub fn pdftotext(name: &str, bytes: &[u8]) -> String {
    let path = write_temp(name, bytes);
    let text = poppler("pdftotext", &["-layout", "-enc", "UTF-8", path.to_str().unwrap(), "-"]);
    let _ = std::fs::remove_file(&path);
    text
}
