//! Invoice PDFs, drawn from the invoice row (numbered in the payment's transaction),
//! the payment and the ISP's details in Settings → General.

use crate::settings::SettingKey;
use crate::{App, AppError, AppResult};
use broadnet_domain::PaymentProvider;
use broadnet_store::StoreError;

/// Thousands separators for people: 1500.00 → "1,500.00".
/// How a payment was applied, for the invoice, when it was not simply one period
/// for exactly the price: several periods, earlier credit used, or money kept.
fn applied_note(inv: &broadnet_store::Invoice) -> Option<String> {
    let kes = |m: broadnet_domain::Money| format!("{} {}", inv.currency, grouped(m));
    let credit_before = (inv.applied.minor() + inv.balance_after.minor()).saturating_sub(inv.amount.minor());
    if inv.periods == 1 && inv.balance_after.minor() == 0 && credit_before == 0 {
        return None;
    }
    let used = match credit_before {
        0 => String::new(),
        c => format!(", with {} earlier credit", kes(broadnet_domain::Money::clamped(c))),
    };
    let bought = match inv.periods {
        0 => "No period renewed: the amount is less than the package price".to_string(),
        1 => format!("1 period ({}{used})", kes(inv.applied)),
        n => format!("{n} periods ({}{used})", kes(inv.applied)),
    };
    Some(format!("{bought}. Credit carried forward: {}.", kes(inv.balance_after)))
}

pub fn grouped(amount: broadnet_domain::Money) -> String {
    let text = amount.to_string();
    let (whole, cents) = text.split_once('.').unwrap_or((&text, "00"));
    let mut out = String::new();
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    format!("{out}.{cents}")
}

impl App {
    /// The invoice of a completed payment: its number and PDF.
    pub async fn invoice_pdf(&self, payment_id: i64) -> AppResult<(String, Vec<u8>)> {
        let invoice = self.store.get_invoice_for_payment(payment_id).await.map_err(AppError::from_store("invoice"))?;
        let payment = self.store.get_payment(payment_id).await.map_err(AppError::from_store("payment"))?;
        let customer = match invoice.customer_id {
            Some(id) => match self.store.get_customer(id).await {
                Ok(c) => Some(c),
                Err(StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        let mut details = Vec::new();
        for key in [SettingKey::IspAddress, SettingKey::IspPhone, SettingKey::IspEmail] {
            if let Some(v) = self.setting(key).await? {
                details.extend(v.lines().map(str::to_string));
            }
        }
        let period = match (invoice.period_start, invoice.period_end) {
            (Some(a), Some(b)) => format!("{} - {}", self.format_time(a).await?, self.format_time(b).await?),
            _ => String::new(),
        };
        let doc = broadnet_invoice::InvoiceDoc {
            isp_name: self.isp_name().await?,
            isp_details: details,
            number: invoice.number.clone(),
            issued_at: self.format_time(invoice.issued_at).await?,
            customer_name: invoice.customer_name.clone(),
            customer_username: customer.as_ref().map(|c| c.username.to_string()).unwrap_or_default(),
            customer_phone: customer.as_ref().map(|c| c.phone.local()),
            customer_email: customer.as_ref().and_then(|c| c.email.clone()),
            package_name: invoice.package_name.clone().unwrap_or_else(|| "Internet".into()),
            period,
            amount: format!("{} {}", invoice.currency, grouped(invoice.amount)),
            applied: applied_note(&invoice),
            payment_method: match payment.provider {
                PaymentProvider::Mpesa => "M-Pesa",
                PaymentProvider::Airtel => "Airtel Money",
                PaymentProvider::Cash => "Cash",
                PaymentProvider::Voucher => "Voucher",
            }
            .to_string(),
            receipt: payment.provider_receipt.clone().unwrap_or_default(),
            status: "PAID".into(),
            footer: self.setting(SettingKey::InvoiceFooter).await?,
        };
        Ok((invoice.number, broadnet_invoice::render(&doc)))
    }
}

/// The invoices list's query string: `q` (a number or a customer's name, or part of
/// one), `customer_id`, `page`, `per_page`, as text until checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct InvoiceListQuery {
    pub q: Option<String>,
    pub customer_id: Option<String>,
    pub page: Option<String>,
    pub per_page: Option<String>,
}

impl InvoiceListQuery {
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut m = crate::sessions::last_of(pairs);
        InvoiceListQuery {
            q: m.remove("q"),
            customer_id: m.remove("customer_id"),
            page: m.remove("page"),
            per_page: m.remove("per_page"),
        }
    }
}

broadnet_domain::text_enum!(
    /// How an invoice is sent again.
    InvoiceChannel { Sms => "sms", Email => "email" }
);

/// "Send this invoice again": `channel` is `sms` or `email`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub struct ResendInvoice {
    pub channel: crate::input::Input,
    #[serde(flatten)]
    pub unknown: crate::input::Unknown,
}

/// An invoice queued to be sent again: to whom, by which channel.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InvoiceResent {
    pub number: String,
    pub channel: InvoiceChannel,
    pub to: String,
}

impl App {
    /// Invoices, newest first, found by number or customer name.
    pub async fn list_invoices(
        &self,
        params: &InvoiceListQuery,
    ) -> AppResult<broadnet_store::Page<broadnet_store::Invoice>> {
        let mut q = broadnet_store::InvoiceQuery { page: 1, per_page: 50, ..Default::default() };
        let mut errors = crate::FieldErrors::new();
        q.search = params.q.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(|s| s.chars().take(100).collect());
        if let Some(v) = &params.customer_id {
            match v.trim().parse() {
                Ok(n) => q.customer_id = Some(n),
                Err(_) => errors.entry("customer_id".into()).or_default().push("must be a whole number".into()),
            }
        }
        crate::sessions::paging(&mut errors, &params.page, &params.per_page, (&mut q.page, &mut q.per_page));
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        Ok(self.store.list_invoices(&q).await?)
    }

    /// Sends an invoice to its customer again, through the outbox like every message:
    /// by SMS (its number, amount and receipt) or by email with the PDF attached.
    pub async fn resend_invoice(
        &self,
        s: &crate::Session,
        number: &str,
        req: &ResendInvoice,
    ) -> AppResult<InvoiceResent> {
        s.require_write()?;
        let mut f = crate::input::Fields::new(&req.unknown);
        let channel = f.parsed("channel", &req.channel, InvoiceChannel::parse);
        let channel = f.required("channel", channel);
        f.finish()?;
        let Some(channel) = channel else { return Err(AppError::Internal("channel missing after validation".into())) };
        let invoice = self.store.get_invoice(number).await.map_err(AppError::from_store("invoice"))?;
        let Some(customer_id) = invoice.customer_id else {
            return Err(AppError::field(
                "channel",
                "the invoice's customer was deleted: there is nobody to send it to",
            ));
        };
        let customer = self.store.get_customer(customer_id).await.map_err(AppError::from_store("customer"))?;
        let payment = self.store.get_payment(invoice.payment_id).await.map_err(AppError::from_store("payment"))?;
        let receipt = payment.provider_receipt.map(|r| format!(", receipt {r}")).unwrap_or_default();
        let text = format!(
            "{}: invoice {} for {} {}, paid {}{receipt}. Thank you.",
            self.isp_name().await?,
            invoice.number,
            invoice.currency,
            grouped(invoice.amount),
            self.format_time(invoice.issued_at).await?,
        );
        let now = self.now();
        let (kind, payload, to) = match channel {
            InvoiceChannel::Sms => {
                if !self.sms_settings().await?.enabled {
                    return Err(AppError::field("channel", "SMS is turned off: turn it on under Settings → SMS"));
                }
                let to = format!("+{}", customer.phone.as_str());
                let payload = serde_json::json!({"to": to, "message": text, "customer_id": customer.id});
                (broadnet_store::OutboxKind::Sms, payload, to)
            }
            InvoiceChannel::Email => {
                if !self.email_settings().await?.enabled {
                    return Err(AppError::field("channel", "email is turned off: turn it on under Settings → Email"));
                }
                let Some(to) = customer.email.clone().filter(|e| e.contains('@')) else {
                    return Err(AppError::field(
                        "channel",
                        "the customer has no email address: add one on their page, or send it by SMS",
                    ));
                };
                let payload = serde_json::json!({"to": to, "subject": format!("Invoice {}", invoice.number),
                    "text": text, "customer_id": customer.id, "invoice_payment_id": invoice.payment_id});
                (broadnet_store::OutboxKind::Email, payload, to)
            }
        };
        // Each request is a message of its own, but a double click (the same second) is one.
        let key = format!("invoice.resend:{}:{channel}:{}", invoice.number, now.timestamp());
        self.store.enqueue(broadnet_store::NewOutbox { kind, payload, dedupe_key: Some(key), at: now }).await?;
        self.wake_outbox();
        tracing::info!(admin = %s.admin.username, invoice = %invoice.number, %channel, "invoice queued to be sent again");
        Ok(InvoiceResent { number: invoice.number, channel, to })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_grouped() {
        let m = |minor| broadnet_domain::Money::from_minor(minor).unwrap();
        assert_eq!(grouped(m(150_000)), "1,500.00");
        assert_eq!(grouped(m(99)), "0.99");
        assert_eq!(grouped(m(123_456_789)), "1,234,567.89");
        assert_eq!(grouped(m(100_000)), "1,000.00");
    }
}
