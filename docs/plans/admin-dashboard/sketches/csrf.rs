// Sketch, not compiled. Two halves: the token lives in `broadnet_app` (crypto stays in
// app, beside `TokenKey::derive`); the check runs in one web extractor (extract.rs sketch).

// ---- crates/app/src/auth.rs (additions) ------------------------------------------------
impl TokenKey {
    /// The CSRF token of one session: stateless (any node can check it), changes at
    /// each login, dies with the session (its jti is revoked at logout).
    pub fn csrf(&self, jti: &str) -> String {
        let mut mac = self.mac();
        mac.update(b"broadnet-csrf:");
        mac.update(jti.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// The login form's proof for the nonce cookie (double submit, no session yet).
    pub fn login_proof(&self, nonce: &str) -> String {
        let mut mac = self.mac();
        mac.update(b"broadnet-login:");
        mac.update(nonce.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }
}

// ---- crates/app/src/lib.rs (additions) ------------------------------------------------
impl App {
    pub fn csrf_token(&self, s: &Session) -> String {
        self.tokens.csrf(&s.jti)
    }

    /// Refuses a state-changing form whose token is not this session's.
    pub fn check_csrf(&self, s: &Session, sent: &str) -> AppResult<()> {
        use subtle::ConstantTimeEq;
        let want = self.tokens.csrf(&s.jti);
        if want.as_bytes().ct_eq(sent.trim().as_bytes()).into() {
            Ok(())
        } else {
            Err(AppError::Forbidden("the form has expired or did not come from this site; reload the page and try again"))
        }
    }
}

// ---- crates/app/src/input.rs (addition) -----------------------------------------------
/// Like [`from_form`], from pairs already parsed (the web layer took `_csrf` out).
pub fn from_pairs<T: serde::de::DeserializeOwned>(
    pairs: impl IntoIterator<Item = (String, String)>,
) -> Result<T, AppError> {
    let fields: BTreeMap<String, String> = pairs.into_iter().collect(); // last value wins, as before
    T::deserialize(serde::de::value::MapDeserializer::<_, serde::de::value::Error>::new(fields.into_iter()))
        .map_err(|e| AppError::field("body", e.to_string()))
}
// and `from_form(body)` becomes `from_pairs(url::form_urlencoded::parse(body).into_owned())`.

#[cfg(test)]
mod tests {
    // - a token checks for its own session, not for another jti, not when empty;
    // - from_pairs: `_csrf` removed upstream never reaches `Unknown`;
    // - login_proof differs from csrf for the same input (labels differ).
}
