//! Invoice PDFs without a PDF library.
//!
//! [`render`] lays an [`InvoiceDoc`] out on A4 pages and writes a small, valid PDF 1.4 file by hand:
//! Helvetica and Helvetica-Bold as standard Type 1 fonts with `/WinAnsiEncoding` (nothing embedded),
//! uncompressed content streams, and a cross-reference table. Text is measured with the fonts' real
//! glyph widths (Adobe's AFM tables), wrapped to its column, and flows onto further pages when it
//! does not fit. Output is deterministic: the same document always gives the same bytes.

mod metrics;
mod pdf;
mod text;

pub use pdf::{A4_HEIGHT, A4_WIDTH};
pub use text::{Font, encoded_width, text_width, to_winansi, wrap};

/// Everything printed on an invoice. All values are shown as given (already formatted).
#[derive(Debug, Clone, Default)]
pub struct InvoiceDoc {
    pub isp_name: String,
    /// Address, phone, email, tax PIN lines, shown under the name.
    pub isp_details: Vec<String>,
    /// For example "INV-000123".
    pub number: String,
    /// Already formatted in the ISP's time zone, e.g. "25 Nov 2026 14:30 EAT".
    pub issued_at: String,
    pub customer_name: String,
    pub customer_username: String,
    pub customer_phone: Option<String>,
    pub customer_email: Option<String>,
    pub package_name: String,
    /// For example "25 Nov 2026 14:30 – 25 Dec 2026 14:30".
    pub period: String,
    /// For example "KES 1,500.00".
    pub amount: String,
    /// How the payment was applied when it was not exactly one period, e.g. "3
    /// periods of KES 1,500.00 (KES 4,500.00, with KES 1,000.00 earlier credit).
    /// Credit carried forward: KES 0.00."; shown under the period.
    pub applied: Option<String>,
    /// "M-Pesa", "Airtel Money", "Cash".
    pub payment_method: String,
    /// Provider receipt, e.g. "NLJ7RT61SV".
    pub receipt: String,
    /// For example "PAID".
    pub status: String,
    /// Free text from settings, e.g. "Thank you for staying connected.".
    pub footer: Option<String>,
}

// Page geometry (points).
const MARGIN: f32 = 50.0;
const LEFT: f32 = MARGIN;
const RIGHT: f32 = A4_WIDTH - MARGIN;
const TOP: f32 = A4_HEIGHT - MARGIN;
/// Lowest baseline for body text; below it are the page numbers.
const BOTTOM: f32 = MARGIN + 20.0;
const CONTENT_WIDTH: f32 = RIGHT - LEFT;
/// The header's left column (ISP name and details) and right column (invoice number, date, status).
const HEADER_LEFT_WIDTH: f32 = 290.0;
const HEADER_RIGHT_WIDTH: f32 = 190.0;
/// Width of the table's amount column.
const AMOUNT_WIDTH: f32 = 140.0;
const CELL_PAD: f32 = 6.0;

const BLACK: f32 = 0.0;
const MUTED: f32 = 0.35;

/// Renders the invoice as a PDF file.
pub fn render(doc: &InvoiceDoc) -> Vec<u8> {
    let mut out = Layout::new();
    header(&mut out, doc);
    billed_to(&mut out, doc);
    table(&mut out, doc);
    payment_and_footer(&mut out, doc);
    let pages = out.finish(&doc.number);
    let title = if doc.number.is_empty() { "Invoice".to_owned() } else { format!("Invoice {}", doc.number) };
    pdf::write(&pages, &pdf::Info { title: &title, author: &doc.isp_name })
}

fn header(out: &mut Layout, doc: &InvoiceDoc) {
    // Right column first, on the first page only.
    let mut y = TOP - 18.0;
    out.text_right(RIGHT, y, Font::HelveticaBold, 20.0, MUTED, b"INVOICE");
    y -= 20.0;
    let right_lines = [
        (format!("Invoice no: {}", doc.number), Font::HelveticaBold, !doc.number.is_empty()),
        (format!("Date: {}", doc.issued_at), Font::Helvetica, !doc.issued_at.is_empty()),
        (format!("Status: {}", doc.status), Font::HelveticaBold, !doc.status.is_empty()),
    ];
    for (line, font, show) in right_lines {
        if !show {
            continue;
        }
        for part in wrap(&line, font, 10.0, HEADER_RIGHT_WIDTH) {
            out.text_right(RIGHT, y, font, 10.0, BLACK, &part);
            y -= 13.0;
        }
    }
    let right_bottom = y;

    // Left column: it may run past the first page.
    out.y = TOP - 16.0;
    let name_lines = wrap(&doc.isp_name, Font::HelveticaBold, 18.0, HEADER_LEFT_WIDTH);
    for line in &name_lines {
        out.line(LEFT, Font::HelveticaBold, 18.0, 22.0, BLACK, line);
    }
    out.y -= 4.0;
    for detail in &doc.isp_details {
        for line in wrap(detail, Font::Helvetica, 9.0, HEADER_LEFT_WIDTH) {
            out.line(LEFT, Font::Helvetica, 9.0, 12.0, MUTED, &line);
        }
    }
    if out.pages.is_empty() {
        out.y = out.y.min(right_bottom);
    }
    out.y -= 14.0;
    out.rule(0.5, 0.75);
    out.y -= 22.0;
}

fn billed_to(out: &mut Layout, doc: &InvoiceDoc) {
    out.keep(60.0);
    out.line(LEFT, Font::HelveticaBold, 9.0, 14.0, MUTED, b"BILLED TO");
    for line in wrap(&doc.customer_name, Font::HelveticaBold, 11.0, CONTENT_WIDTH) {
        out.line(LEFT, Font::HelveticaBold, 11.0, 14.0, BLACK, &line);
    }
    let mut rows = Vec::new();
    if !doc.customer_username.is_empty() {
        rows.push(format!("Username: {}", doc.customer_username));
    }
    if let Some(phone) = doc.customer_phone.as_deref().filter(|p| !p.is_empty()) {
        rows.push(format!("Phone: {phone}"));
    }
    if let Some(email) = doc.customer_email.as_deref().filter(|e| !e.is_empty()) {
        rows.push(format!("Email: {email}"));
    }
    for row in rows {
        for line in wrap(&row, Font::Helvetica, 10.0, CONTENT_WIDTH) {
            out.line(LEFT, Font::Helvetica, 10.0, 13.0, BLACK, &line);
        }
    }
    out.y -= 22.0;
}

fn table(out: &mut Layout, doc: &InvoiceDoc) {
    let desc_width = CONTENT_WIDTH - AMOUNT_WIDTH - 2.0 * CELL_PAD;
    let amount_width = AMOUNT_WIDTH - 2.0 * CELL_PAD;
    let name_lines = wrap(&doc.package_name, Font::HelveticaBold, 10.0, desc_width);
    let mut period_lines =
        if doc.period.is_empty() { Vec::new() } else { wrap(&doc.period, Font::Helvetica, 9.0, desc_width) };
    if let Some(applied) = doc.applied.as_deref().filter(|a| !a.is_empty()) {
        period_lines.extend(wrap(applied, Font::Helvetica, 9.0, desc_width));
    }
    let amount_lines = wrap(&doc.amount, Font::Helvetica, 10.0, amount_width);

    // Header band, kept together with the first row.
    out.keep(22.0 + 14.0 * 2.0);
    let band_top = out.y + 4.0;
    out.fill_rect(LEFT, band_top - 20.0, CONTENT_WIDTH, 20.0, 0.92);
    out.y -= 10.0;
    out.text(LEFT + CELL_PAD, out.y, Font::HelveticaBold, 10.0, BLACK, b"Description");
    out.text_right(RIGHT - CELL_PAD, out.y, Font::HelveticaBold, 10.0, BLACK, b"Amount");
    out.y -= 22.0;

    // The row: package name (bold) and period (muted) on the left, amount on the right.
    let rows = name_lines.len().max(amount_lines.len());
    for i in 0..rows {
        out.keep(14.0);
        if let Some(line) = name_lines.get(i) {
            out.text(LEFT + CELL_PAD, out.y, Font::HelveticaBold, 10.0, BLACK, line);
        }
        if let Some(line) = amount_lines.get(i) {
            out.text_right(RIGHT - CELL_PAD, out.y, Font::Helvetica, 10.0, BLACK, line);
        }
        out.y -= 14.0;
    }
    for line in &period_lines {
        out.line(LEFT + CELL_PAD, Font::Helvetica, 9.0, 12.0, MUTED, line);
    }
    out.y += 4.0;
    out.rule(0.5, 0.75);
    out.y -= 18.0;

    // Total.
    let total_lines = wrap(&doc.amount, Font::HelveticaBold, 11.0, amount_width);
    out.keep(14.0 * total_lines.len() as f32);
    out.text(RIGHT - AMOUNT_WIDTH - 60.0, out.y, Font::HelveticaBold, 11.0, BLACK, b"Total");
    for line in &total_lines {
        out.keep(14.0);
        out.text_right(RIGHT - CELL_PAD, out.y, Font::HelveticaBold, 11.0, BLACK, line);
        out.y -= 14.0;
    }
    out.y -= 20.0;
}

fn payment_and_footer(out: &mut Layout, doc: &InvoiceDoc) {
    let paid = match (doc.payment_method.is_empty(), doc.receipt.is_empty()) {
        (false, false) => Some(format!("Paid by {}, receipt {}", doc.payment_method, doc.receipt)),
        (false, true) => Some(format!("Paid by {}", doc.payment_method)),
        (true, false) => Some(format!("Receipt {}", doc.receipt)),
        (true, true) => None,
    };
    if let Some(paid) = paid {
        for line in wrap(&paid, Font::Helvetica, 10.0, CONTENT_WIDTH) {
            out.line(LEFT, Font::Helvetica, 10.0, 13.0, BLACK, &line);
        }
        out.y -= 18.0;
    }
    if let Some(footer) = doc.footer.as_deref().filter(|f| !f.trim().is_empty()) {
        for line in wrap(footer, Font::Helvetica, 9.0, CONTENT_WIDTH) {
            out.line(LEFT, Font::Helvetica, 9.0, 12.0, MUTED, &line);
        }
    }
}

/// Accumulates content streams page by page; `y` is the baseline of the next line.
struct Layout {
    pages: Vec<String>,
    current: String,
    y: f32,
}

impl Layout {
    fn new() -> Self {
        Self { pages: Vec::new(), current: String::new(), y: TOP }
    }

    fn new_page(&mut self) {
        self.pages.push(std::mem::take(&mut self.current));
        self.y = TOP - 10.0;
    }

    /// Starts a new page unless `height` points fit above the bottom margin.
    fn keep(&mut self, height: f32) {
        if self.y - height + 10.0 < BOTTOM {
            self.new_page();
        }
    }

    /// One line of flowing text at the cursor, then moves down by `leading`.
    fn line(&mut self, x: f32, font: Font, size: f32, leading: f32, gray: f32, text: &[u8]) {
        if self.y < BOTTOM {
            self.new_page();
        }
        self.text(x, self.y, font, size, gray, text);
        self.y -= leading;
    }

    fn text(&mut self, x: f32, y: f32, font: Font, size: f32, gray: f32, text: &[u8]) {
        if text.is_empty() {
            return;
        }
        let s = &mut self.current;
        s.push_str(&format!("BT /{} {} Tf {} g {} {} Td ", font.resource(), num(size), num(gray), num(x), num(y)));
        text::pdf_literal(text, s);
        s.push_str(" Tj ET\n");
    }

    fn text_right(&mut self, right: f32, y: f32, font: Font, size: f32, gray: f32, text: &[u8]) {
        let x = right - encoded_width(text, font, size);
        self.text(x, y, font, size, gray, text);
    }

    fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, gray: f32) {
        self.current.push_str(&format!("{} g {} {} {} {} re f\n", num(gray), num(x), num(y), num(w), num(h)));
    }

    /// A horizontal rule across the content width at the cursor.
    fn rule(&mut self, width: f32, gray: f32) {
        self.current.push_str(&format!(
            "{} G {} w {} {} m {} {} l S\n",
            num(gray),
            num(width),
            num(LEFT),
            num(self.y),
            num(RIGHT),
            num(self.y)
        ));
    }

    /// Closes the last page and, when there is more than one, numbers them.
    fn finish(mut self, number: &str) -> Vec<String> {
        self.pages.push(std::mem::take(&mut self.current));
        let total = self.pages.len();
        if total > 1 {
            for (i, page) in self.pages.iter_mut().enumerate() {
                let label = if number.is_empty() {
                    format!("Page {} of {total}", i + 1)
                } else {
                    format!("{number} \u{b7} Page {} of {total}", i + 1)
                };
                let bytes = to_winansi(&label);
                let mut extra = Layout { pages: Vec::new(), current: String::new(), y: 0.0 };
                extra.text_right(RIGHT, MARGIN - 10.0, Font::Helvetica, 8.0, MUTED, &bytes);
                page.push_str(&extra.current);
            }
        }
        self.pages
    }
}

/// Formats a coordinate with at most two decimals and no trailing zeros (deterministic, compact).
fn num(v: f32) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".to_owned() } else { s.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formatting() {
        assert_eq!(num(10.0), "10");
        assert_eq!(num(0.35), "0.35");
        assert_eq!(num(595.28), "595.28");
        assert_eq!(num(-0.001), "0");
        assert_eq!(num(12.5), "12.5");
    }
}
