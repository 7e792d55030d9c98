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
