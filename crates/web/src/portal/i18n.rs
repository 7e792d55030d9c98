//! The portal's two languages: English and Kiswahili. The choice comes from the
//! language switch (a cookie), else the browser's Accept-Language; every text a page
//! shows is looked up here, and the use cases' messages for the portal too.

use axum::http::HeaderMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Sw,
}

pub const LANG_COOKIE: &str = "bn_lang";

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Sw => "sw",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "sw" => Some(Lang::Sw),
            _ => None,
        }
    }

    /// The cookie's choice, else the first of Accept-Language's that we speak (by
    /// weight), else English.
    pub fn of(headers: &HeaderMap) -> Lang {
        if let Some(l) = crate::extract::cookie_value(headers, LANG_COOKIE).and_then(|v| Lang::parse(&v)) {
            return l;
        }
        let accept = headers.get(axum::http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let mut best: Option<(f32, Lang)> = None;
        for part in accept.split(',') {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = it.find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok())).unwrap_or(1.0);
            let lang = match tag.split('-').next() {
                Some("sw") => Lang::Sw,
                Some("en") => Lang::En,
                _ => continue,
            };
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::En, |(_, l)| l)
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Sw,
            Lang::Sw => Lang::En,
        }
    }

    /// The name of the language, in itself (for the switch).
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Sw => "Kiswahili",
        }
    }

    /// A page text by key. Unknown keys are a bug: the key itself shows, so a test
    /// that reads the page finds it.
    pub fn t(self, key: &str) -> &'static str {
        TEXTS.iter().find(|(k, _, _)| *k == key).map_or("??", |(_, en, sw)| if self == Lang::Sw { sw } else { en })
    }

    /// A use case's message, in this language when we know it (by its English
    /// beginning); otherwise as it came.
    pub fn msg(self, text: &str) -> String {
        if self == Lang::En {
            return upper_first(text);
        }
        for (en, sw) in MESSAGES {
            if let Some(rest) = text.strip_prefix(en) {
                return format!("{sw}{rest}");
            }
        }
        upper_first(text)
    }
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// `(key, English, Kiswahili)`.
const TEXTS: &[(&str, &str, &str)] = &[
    ("title", "Get online", "Ingia mtandaoni"),
    ("choose_package", "Choose a package", "Chagua kifurushi"),
    ("tab_buy", "Buy", "Nunua"),
    ("tab_voucher", "I have a voucher", "Nina vocha"),
    ("tab_paid", "I already paid", "Nimeshalipa"),
    ("valid_for", "Valid for", "Muda"),
    ("speed", "Speed", "Kasi"),
    ("data", "Data", "Data"),
    ("unlimited", "Unlimited", "Bila kikomo"),
    ("devices", "Devices", "Vifaa"),
    ("phone", "M-Pesa phone number", "Nambari ya simu ya M-Pesa"),
    ("phone_airtel", "Airtel Money phone number", "Nambari ya simu ya Airtel Money"),
    ("phone_hint", "Any form: 0712 345 678, +254712345678", "Kwa namna yoyote: 0712 345 678, +254712345678"),
    ("pay", "Pay", "Lipa"),
    (
        "no_packages",
        "No packages are on sale right now. Please ask the shop.",
        "Hakuna vifurushi vinavyouzwa sasa. Tafadhali uliza dukani.",
    ),
    ("voucher_code", "Voucher code", "Nambari ya vocha"),
    ("voucher_pin", "PIN (only if your voucher has one)", "PIN (ikiwa vocha yako ina PIN)"),
    ("connect", "Connect", "Unganisha"),
    ("mpesa_code", "M-Pesa code (from the SMS)", "Msimbo wa M-Pesa (kutoka kwa SMS)"),
    ("paid_phone", "Number that paid", "Nambari iliyolipa"),
    (
        "paid_help",
        "Paid but not online? Type the code from your M-Pesa message.",
        "Umelipa lakini haujaunganishwa? Andika msimbo kutoka kwa ujumbe wa M-Pesa.",
    ),
    ("check_phone", "Check your phone", "Angalia simu yako"),
    ("enter_pin", "Enter your M-Pesa PIN on your phone to pay", "Weka PIN yako ya M-Pesa kwenye simu ili kulipa"),
    (
        "enter_pin_airtel",
        "Enter your Airtel Money PIN on your phone to pay",
        "Weka PIN yako ya Airtel Money kwenye simu ili kulipa",
    ),
    ("sent_to", "Sent to", "Imetumwa kwa"),
    ("seconds_left", "seconds left", "sekunde zimebaki"),
    ("waiting", "Waiting for your payment…", "Tunasubiri malipo yako…"),
    ("paid", "Paid! Connecting you…", "Umelipa! Tunakuunganisha…"),
    ("renewed", "Paid! Your account is renewed.", "Umelipa! Akaunti yako imeongezewa muda."),
    ("receipt", "Receipt", "Risiti"),
    ("cancelled", "You cancelled the prompt — try again.", "Ulighairi ombi — jaribu tena."),
    (
        "timed_out",
        "No answer from your phone — the prompt timed out.",
        "Hakuna jibu kutoka kwa simu yako — muda wa ombi umeisha.",
    ),
    (
        "insufficient",
        "Not enough M-Pesa balance. Top up, then try again.",
        "Salio la M-Pesa halitoshi. Ongeza salio, kisha jaribu tena.",
    ),
    ("failed", "The payment did not go through.", "Malipo hayakufaulu."),
    ("provider_said", "The provider said", "Mtoa huduma alisema"),
    ("send_again", "Send the prompt again", "Tuma ombi tena"),
    ("or_paybill", "Or pay with M-Pesa to paybill", "Au lipa kwa M-Pesa kwenye Paybill"),
    ("account_no", "account", "akaunti"),
    ("then_code", "then enter the code under “I already paid”.", "kisha weka msimbo chini ya “Nimeshalipa”."),
    ("your_login", "Your login for other devices", "Maelezo yako ya kuingia kwa vifaa vingine"),
    ("login_code", "Login code", "Msimbo wa kuingia"),
    ("password", "Password", "Nenosiri"),
    ("sms_sent", "We also sent them to you by SMS.", "Tumekutumia pia kwa SMS."),
    ("connecting", "Connecting you…", "Tunakuunganisha…"),
    (
        "tap_connect",
        "Not connected after a few seconds? Tap Connect.",
        "Haujaunganishwa baada ya sekunde chache? Bonyeza Unganisha.",
    ),
    (
        "no_router",
        "Open this page from the Wi-Fi's login page to connect: turn Wi-Fi off and on, then open any website.",
        "Fungua ukurasa huu kutoka ukurasa wa kuingia wa Wi-Fi: zima na uwashe Wi-Fi, kisha fungua tovuti yoyote.",
    ),
    ("welcome_back", "Welcome back", "Karibu tena"),
    ("still_active", "This device still has time on its package.", "Kifaa hiki bado kina muda kwenye kifurushi chake."),
    ("online", "You are online", "Umeunganishwa"),
    ("not_active", "This account has no time left.", "Akaunti hii haina muda uliobaki."),
    ("time_left", "Time left", "Muda uliobaki"),
    ("expires", "Until", "Hadi"),
    ("data_left", "Data left", "Data iliyobaki"),
    ("package", "Package", "Kifurushi"),
    ("buy_more", "Buy more time", "Nunua muda zaidi"),
    ("continue_to", "Continue to", "Endelea hadi"),
    ("my_account", "My account", "Akaunti yangu"),
    ("error_title", "Something went wrong", "Hitilafu imetokea"),
    ("try_again", "Try again", "Jaribu tena"),
    ("back", "Back", "Rudi"),
    (
        "too_many",
        "Too many tries. Wait a little, then try again.",
        "Umejaribu mara nyingi mno. Subiri kidogo, kisha jaribu tena.",
    ),
    ("wait_seconds", "Wait (seconds)", "Subiri (sekunde)"),
    ("router_says", "The Wi-Fi says", "Wi-Fi inasema"),
    (
        "form_expired",
        "This page was open too long. Reload it and try again.",
        "Ukurasa huu ulikaa wazi muda mrefu. Pakia upya na ujaribu tena.",
    ),
    (
        "order_missing",
        "We could not find this payment. Start again from the packages.",
        "Hatukupata malipo haya. Anza tena kutoka kwa vifurushi.",
    ),
    ("minutes", "min", "dak"),
    ("hours", "h", "saa"),
    ("days", "days", "siku"),
    ("day", "day", "siku"),
    // My account.
    ("log_in", "Log in", "Ingia"),
    ("log_out", "Log out", "Toka"),
    ("by_password", "Password", "Nenosiri"),
    ("by_code", "Code by SMS", "Msimbo kwa SMS"),
    ("username", "Username", "Jina la mtumiaji"),
    (
        "login_help",
        "Your username and password are in the SMS we sent when you joined or paid.",
        "Jina lako la mtumiaji na nenosiri viko kwenye SMS tuliyokutumia ulipojiunga au kulipa.",
    ),
    (
        "code_help",
        "Type the phone number on your account and we will send you a 6-digit code by SMS.",
        "Andika nambari ya simu iliyo kwenye akaunti yako nasi tutakutumia msimbo wa tarakimu 6 kwa SMS.",
    ),
    ("phone_number", "Phone number", "Nambari ya simu"),
    ("send_code", "Send me a code", "Nitumie msimbo"),
    ("enter_code", "Enter the code", "Weka msimbo"),
    (
        "code_sent_if",
        "If this number has an account, we sent a code by SMS to",
        "Ikiwa nambari hii ina akaunti, tumetuma msimbo kwa SMS kwa",
    ),
    ("sms_code", "Code from the SMS", "Msimbo kutoka kwa SMS"),
    ("send_new_code", "Send a new code", "Tuma msimbo mpya"),
    ("choose_account", "Choose your account", "Chagua akaunti yako"),
    ("several_accounts", "Several accounts use", "Akaunti kadhaa zinatumia"),
    ("status", "Status", "Hali"),
    ("data_used", "Data used", "Data iliyotumika"),
    ("renew_title", "Renew", "Lipia tena"),
    ("renew", "Renew", "Lipia tena"),
    ("renew_phone", "Phone number to pay with", "Nambari ya simu ya kulipa"),
    ("renew_hint", "Leave it empty to use", "Iache wazi kutumia"),
    ("no_devices", "No device is using this account yet.", "Bado hakuna kifaa kinachotumia akaunti hii."),
    ("last_seen", "last seen", "alionekana mara ya mwisho"),
    ("release", "Release", "Ondoa"),
    (
        "release_help",
        "Release a device you no longer use, or one whose address changed (phones change it), to free its place.",
        "Ondoa kifaa usichotumia tena, au ambacho anwani yake imebadilika (simu huibadilisha), ili kuacha nafasi yake.",
    ),
    ("device_released", "The device was released.", "Kifaa kimeondolewa."),
    ("payments", "Payments", "Malipo"),
    ("no_payments", "No payments yet.", "Bado hakuna malipo."),
    ("invoices", "Invoices", "Ankara"),
    ("no_invoices", "No invoices yet.", "Bado hakuna ankara."),
    ("download_pdf", "PDF", "PDF"),
    ("invoice_missing", "We could not find this invoice.", "Hatukupata ankara hii."),
    ("st_active", "Active", "Inatumika"),
    ("st_expired", "Expired", "Imeisha muda"),
    ("st_awaiting", "Waiting for payment", "Inasubiri malipo"),
    ("st_suspended", "Suspended", "Imesimamishwa"),
    ("st_disabled", "Disabled", "Imezimwa"),
    ("pay_completed", "Paid", "Imelipwa"),
    ("pay_pending", "Waiting", "Inasubiri"),
    ("pay_failed", "Failed", "Imeshindwa"),
    ("pay_cancelled", "Cancelled", "Imeghairiwa"),
    ("pay_expired", "No answer", "Haikujibiwa"),
];

/// Messages of the portal's use cases (English beginning → Kiswahili).
const MESSAGES: &[(&str, &str)] = &[
    ("choose a package", "Chagua kifurushi"),
    ("choose one of the packages shown", "Chagua kimoja cha vifurushi vilivyoonyeshwa"),
    ("must be a Kenyan mobile number", "Lazima iwe nambari ya simu ya Kenya"),
    ("is required", "Inahitajika"),
    (
        "a payment prompt was sent to this account less than 2 minutes ago",
        "Ombi la malipo lilitumwa kwa akaunti hii chini ya dakika 2 zilizopita: lijibu kwenye simu yako, au subiri kidogo ujaribu tena",
    ),
    (
        "the last prompt is still open on your phone",
        "Ombi la mwisho bado liko wazi kwenye simu yako: lijibu, au subiri dakika 2 kabla ya kuomba jingine",
    ),
    ("no payment with code", "Hakuna malipo yenye msimbo huo yaliyotufikia:"),
    ("this code has already been used", "Msimbo huu umeshatumika"),
    ("an M-Pesa code is 10 letters and digits", "Msimbo wa M-Pesa ni herufi na tarakimu 10"),
    ("no voucher has this code", "Hakuna vocha yenye msimbo huu; uangalie na ujaribu tena"),
    ("this voucher has been cancelled", "Vocha hii imefutwa"),
    ("this voucher's data is used up", "Data ya vocha hii imeisha — nunua nyingine"),
    ("this voucher has expired", "Muda wa vocha hii umeisha — nunua nyingine"),
    ("wrong PIN for this voucher", "PIN si sahihi kwa vocha hii"),
    ("this voucher has a PIN", "Vocha hii ina PIN: iandike pia"),
    ("type the code printed on the voucher", "Andika msimbo ulioandikwa kwenye vocha"),
    ("the time this payment bought has run out", "Muda ulionunuliwa na malipo haya umeisha; nunua kifurushi"),
    ("Your data bundle is used up — buy another.", "Kifurushi chako cha data kimeisha — nunua kingine."),
    ("Your package has ended — buy another.", "Muda wa kifurushi chako umeisha — nunua kingine."),
    ("wrong username or password", "Jina la mtumiaji au nenosiri si sahihi"),
    ("this code is wrong or has expired", "Msimbo huu si sahihi au muda wake umeisha; omba mwingine"),
    ("the code is the 6 digits in the SMS", "Msimbo ni tarakimu 6 zilizo kwenye SMS"),
    ("codes by SMS are not available here", "Misimbo kwa SMS haipatikani hapa; ingia kwa jina la mtumiaji na nenosiri"),
    ("choose one of the accounts shown", "Chagua moja ya akaunti zilizoonyeshwa"),
    ("this device is not on your account", "Kifaa hiki hakiko kwenye akaunti yako"),
    ("your package cannot be renewed here", "Kifurushi chako hakiwezi kulipiwa hapa; uliza dukani"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_both_languages() {
        for (k, en, sw) in TEXTS {
            assert!(!en.is_empty() && !sw.is_empty(), "{k}");
        }
        let mut keys: Vec<&str> = TEXTS.iter().map(|(k, _, _)| *k).collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n, "a key is listed twice");
    }

    #[test]
    fn accept_language_picks_the_heaviest_we_speak() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(axum::http::header::ACCEPT_LANGUAGE, v.parse().unwrap());
            m
        };
        assert_eq!(Lang::of(&h("sw-KE,sw;q=0.9,en;q=0.8")), Lang::Sw);
        assert_eq!(Lang::of(&h("fr,en;q=0.5,sw;q=0.4")), Lang::En);
        assert_eq!(Lang::of(&h("fr")), Lang::En);
        assert_eq!(Lang::of(&HeaderMap::new()), Lang::En);
        let mut c = h("sw");
        c.insert(axum::http::header::COOKIE, "bn_lang=en".parse().unwrap());
        assert_eq!(Lang::of(&c), Lang::En, "the switch wins");
    }

    #[test]
    fn messages_are_translated_by_their_beginning() {
        assert_eq!(Lang::Sw.msg("this code has already been used"), "Msimbo huu umeshatumika");
        assert_eq!(Lang::En.msg("this code has already been used"), "This code has already been used");
        assert_eq!(Lang::Sw.msg("something new"), "Something new");
    }
}
