//! Serialises pages of content into a PDF 1.4 file: catalog, page tree, the two standard fonts,
//! an information dictionary, one content stream per page, and a cross-reference table.

use crate::text::{Font, pdf_text_string};

/// A4 in points.
pub const A4_WIDTH: f32 = 595.28;
/// A4 in points.
pub const A4_HEIGHT: f32 = 841.89;

const CATALOG: usize = 1;
const PAGES: usize = 2;
const FONT_REGULAR: usize = 3;
const FONT_BOLD: usize = 4;
const INFO: usize = 5;
const FIRST_PAGE: usize = 6;

/// Document metadata written to the information dictionary.
pub(crate) struct Info<'a> {
    pub title: &'a str,
    pub author: &'a str,
}

struct Writer {
    buf: Vec<u8>,
    /// Byte offset of each object, indexed by object number (index 0 unused).
    offsets: Vec<usize>,
}

impl Writer {
    fn object(&mut self, id: usize, body: &[u8]) {
        if self.offsets.len() <= id {
            self.offsets.resize(id + 1, 0);
        }
        self.offsets[id] = self.buf.len();
        self.buf.extend_from_slice(format!("{id} 0 obj\n").as_bytes());
        self.buf.extend_from_slice(body);
        self.buf.extend_from_slice(b"\nendobj\n");
    }
}

fn font_dict(font: Font) -> Vec<u8> {
    let widths: Vec<String> = font.widths().iter().map(u16::to_string).collect();
    let mut rows = String::new();
    for chunk in widths.chunks(16) {
        rows.push_str("\n  ");
        rows.push_str(&chunk.join(" "));
    }
    format!(
        "<< /Type /Font /Subtype /Type1 /BaseFont /{} /Encoding /WinAnsiEncoding\n   /FirstChar 32 /LastChar 255 /Widths [{rows}\n] >>",
        font.base_font()
    )
    .into_bytes()
}

/// Builds the whole file from the pages' content streams (uncompressed).
pub(crate) fn write(pages: &[String], info: &Info<'_>) -> Vec<u8> {
    let mut w = Writer { buf: Vec::with_capacity(8 * 1024), offsets: Vec::new() };
    // Header; the comment with high bytes marks the file as binary for transfer tools.
    w.buf.extend_from_slice(b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n");

    w.object(CATALOG, format!("<< /Type /Catalog /Pages {PAGES} 0 R >>").as_bytes());

    let kids: Vec<String> = (0..pages.len()).map(|i| format!("{} 0 R", FIRST_PAGE + 2 * i)).collect();
    w.object(
        PAGES,
        format!(
            "<< /Type /Pages /Kids [{}] /Count {} /MediaBox [0 0 {A4_WIDTH} {A4_HEIGHT}] >>",
            kids.join(" "),
            pages.len()
        )
        .as_bytes(),
    );
    w.object(FONT_REGULAR, &font_dict(Font::Helvetica));
    w.object(FONT_BOLD, &font_dict(Font::HelveticaBold));
    w.object(
        INFO,
        format!(
            "<< /Title {} /Author {} /Producer (BroadNet Billing) >>",
            pdf_text_string(info.title),
            pdf_text_string(info.author)
        )
        .as_bytes(),
    );

    for (i, content) in pages.iter().enumerate() {
        let page_id = FIRST_PAGE + 2 * i;
        let content_id = page_id + 1;
        w.object(
            page_id,
            format!(
                "<< /Type /Page /Parent {PAGES} 0 R /MediaBox [0 0 {A4_WIDTH} {A4_HEIGHT}]\n   \
                 /Resources << /Font << /{} {FONT_REGULAR} 0 R /{} {FONT_BOLD} 0 R >> /ProcSet [/PDF /Text] >>\n   \
                 /Contents {content_id} 0 R >>",
                Font::Helvetica.resource(),
                Font::HelveticaBold.resource(),
            )
            .as_bytes(),
        );
        let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
        stream.extend_from_slice(content.as_bytes());
        stream.extend_from_slice(b"\nendstream");
        w.object(content_id, &stream);
    }

    // Cross-reference table: every entry is exactly 20 bytes.
    let xref_at = w.buf.len();
    let size = w.offsets.len();
    let mut xref = format!("xref\n0 {size}\n0000000000 65535 f \n");
    for &offset in &w.offsets[1..] {
        xref.push_str(&format!("{offset:010} 00000 n \n"));
    }
    xref.push_str(&format!(
        "trailer\n<< /Size {size} /Root {CATALOG} 0 R /Info {INFO} 0 R >>\nstartxref\n{xref_at}\n%%EOF\n"
    ));
    w.buf.extend_from_slice(xref.as_bytes());
    w.buf
}
