//! MS-CHAP v1 (RFC 2433) and v2 (RFC 2759), and the MPPE keys (RFC 3079) a
//! RADIUS server returns with them.

use des::Des;
use des::cipher::{BlockEncrypt, KeyInit};
use md4::Md4;
use md5::Digest;
use sha1::Sha1;
use subtle::ConstantTimeEq;

const MAGIC1: &[u8] = b"Magic server to client signing constant";
const MAGIC2: &[u8] = b"Pad to make it do more than one iteration";
const MASTER_MAGIC: &[u8] = b"This is the MPPE Master Key";
const KEY_MAGIC2: &[u8] = b"On the client side, this is the send key; on the server side, it is the receive key.";
const KEY_MAGIC3: &[u8] = b"On the client side, this is the receive key; on the server side, it is the send key.";

/// NtPasswordHash: MD4 of the UTF-16LE password.
pub fn nt_hash(password: &str) -> [u8; 16] {
    let utf16: Vec<u8> = password.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    Md4::digest(&utf16).into()
}

/// HashNtPasswordHash: MD4 of the NT hash.
pub fn nt_hash_hash(nt_hash: &[u8; 16]) -> [u8; 16] {
    Md4::digest(nt_hash).into()
}

/// The user name MS-CHAP hashes: without a `DOMAIN\` prefix.
pub fn strip_domain(user: &str) -> &str {
    user.rsplit_once('\\').map(|(_, u)| u).unwrap_or(user)
}

/// ChallengeHash: first 8 octets of SHA1(peer ‖ authenticator ‖ user).
pub fn challenge_hash(peer_challenge: &[u8; 16], auth_challenge: &[u8; 16], user: &str) -> [u8; 8] {
    let mut h = Sha1::new();
    h.update(peer_challenge);
    h.update(auth_challenge);
    h.update(strip_domain(user).as_bytes());
    let d = h.finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&d[..8]);
    out
}

/// Spreads 7 key octets over 8, with odd parity in the low bit of each.
pub fn des_key(k7: &[u8; 7]) -> [u8; 8] {
    let mut k = [
        k7[0],
        (k7[0] << 7) | (k7[1] >> 1),
        (k7[1] << 6) | (k7[2] >> 2),
        (k7[2] << 5) | (k7[3] >> 3),
        (k7[3] << 4) | (k7[4] >> 4),
        (k7[4] << 3) | (k7[5] >> 5),
        (k7[5] << 2) | (k7[6] >> 6),
        k7[6] << 1,
    ];
    for b in &mut k {
        *b &= 0xfe;
        if b.count_ones().is_multiple_of(2) {
            *b |= 1;
        }
    }
    k
}

fn des_encrypt(key7: &[u8], block: &[u8; 8]) -> [u8; 8] {
    let mut k7 = [0u8; 7];
    k7.copy_from_slice(key7);
    // An 8-octet key is always valid for DES.
    let cipher = Des::new_from_slice(&des_key(&k7)).unwrap_or_else(|_| unreachable!());
    let mut b = (*block).into();
    cipher.encrypt_block(&mut b);
    b.into()
}

/// ChallengeResponse: three DES encryptions of the challenge with the zero-padded hash.
pub fn challenge_response(challenge: &[u8; 8], hash: &[u8; 16]) -> [u8; 24] {
    let mut z = [0u8; 21];
    z[..16].copy_from_slice(hash);
    let mut out = [0u8; 24];
    for i in 0..3 {
        out[i * 8..i * 8 + 8].copy_from_slice(&des_encrypt(&z[i * 7..i * 7 + 7], challenge));
    }
    out
}

/// MS-CHAPv2 NT-Response.
pub fn v2_nt_response(
    auth_challenge: &[u8; 16],
    peer_challenge: &[u8; 16],
    user: &str,
    nt_hash: &[u8; 16],
) -> [u8; 24] {
    challenge_response(&challenge_hash(peer_challenge, auth_challenge, user), nt_hash)
}

/// GenerateAuthenticatorResponse: `S=` and 40 upper-case hex digits.
pub fn authenticator_response(
    nt_hash: &[u8; 16],
    nt_response: &[u8; 24],
    peer_challenge: &[u8; 16],
    auth_challenge: &[u8; 16],
    user: &str,
) -> String {
    let mut h = Sha1::new();
    h.update(nt_hash_hash(nt_hash));
    h.update(nt_response);
    h.update(MAGIC1);
    let d1 = h.finalize();
    let mut h = Sha1::new();
    h.update(d1);
    h.update(challenge_hash(peer_challenge, auth_challenge, user));
    h.update(MAGIC2);
    let d2 = h.finalize();
    let hex: String = d2.iter().map(|b| format!("{b:02X}")).collect();
    format!("S={hex}")
}

/// MPPE start keys for MS-CHAPv2, from the server's side: (send, receive).
pub fn v2_mppe_keys(nt_hash: &[u8; 16], nt_response: &[u8; 24]) -> ([u8; 16], [u8; 16]) {
    let mut h = Sha1::new();
    h.update(nt_hash_hash(nt_hash));
    h.update(nt_response);
    h.update(MASTER_MAGIC);
    let master = h.finalize();
    let start_key = |magic: &[u8]| {
        let mut h = Sha1::new();
        h.update(&master[..16]);
        h.update([0u8; 40]);
        h.update(magic);
        h.update([0xf2u8; 40]);
        let d = h.finalize();
        let mut k = [0u8; 16];
        k.copy_from_slice(&d[..16]);
        k
    };
    (start_key(KEY_MAGIC3), start_key(KEY_MAGIC2))
}

/// What a verified MS-CHAPv2 exchange yields for the Access-Accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Success {
    pub ident: u8,
    /// Value of MS-CHAP2-Success: ident ‖ "S=…".
    pub success: Vec<u8>,
    pub send_key: [u8; 16],
    pub recv_key: [u8; 16],
}

/// Checks an MS-CHAP2-Response (50 octets) against the stored password's NT hash.
pub fn v2_verify(auth_challenge: &[u8], response: &[u8], user: &str, nt_hash: &[u8; 16]) -> Option<V2Success> {
    let auth: [u8; 16] = auth_challenge.try_into().ok()?;
    if response.len() != 50 {
        return None;
    }
    let ident = response[0];
    let peer: [u8; 16] = response[2..18].try_into().ok()?;
    let nt_resp: [u8; 24] = response[26..50].try_into().ok()?;
    let expect = v2_nt_response(&auth, &peer, user, nt_hash);
    if !bool::from(expect.ct_eq(&nt_resp)) {
        return None;
    }
    let mut success = vec![ident];
    success.extend_from_slice(authenticator_response(nt_hash, &nt_resp, &peer, &auth, user).as_bytes());
    let (send_key, recv_key) = v2_mppe_keys(nt_hash, &nt_resp);
    Some(V2Success { ident, success, send_key, recv_key })
}

/// Checks an MS-CHAP-Response (v1, 50 octets, NT-Response flag set).
/// Returns the ident and the MS-CHAP-MPPE-Keys plaintext (8 zeros ‖ NT hash hash),
/// which the caller hides with the User-Password cipher.
pub fn v1_verify(challenge: &[u8], response: &[u8], nt_hash: &[u8; 16]) -> Option<(u8, [u8; 24])> {
    let challenge: [u8; 8] = challenge.try_into().ok()?;
    if response.len() != 50 || response[1] != 1 {
        return None;
    }
    let expect = challenge_response(&challenge, nt_hash);
    if !bool::from(expect.ct_eq(&response[26..50])) {
        return None;
    }
    let mut keys = [0u8; 24];
    keys[8..].copy_from_slice(&nt_hash_hash(nt_hash));
    Some((response[0], keys))
}

/// MS-CHAP-Error value for a failed v2 attempt: ident ‖ "E=691 R=1 C=… V=3 M=…".
pub fn v2_error(ident: u8, code: u32, retry: bool, auth_challenge: &[u8], message: &str) -> Vec<u8> {
    let c: String = auth_challenge.iter().map(|b| format!("{b:02X}")).collect();
    let mut v = vec![ident];
    v.extend_from_slice(format!("E={code} R={} C={c} V=3 M={message}", u8::from(retry)).as_bytes());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }
    fn a16(s: &str) -> [u8; 16] {
        h(s).try_into().unwrap()
    }

    #[test]
    fn rfc2759_vectors() {
        let auth = a16("5B5D7C7D7B3F2F3E3C2C602132262628");
        let peer = a16("21402324255E262A28295F2B3A337C7E");
        assert_eq!(challenge_hash(&peer, &auth, "User").to_vec(), h("D02E4386BCE91226"));
        assert_eq!(challenge_hash(&peer, &auth, "CORP\\User").to_vec(), h("D02E4386BCE91226"));
        let nt = nt_hash("clientPass");
        assert_eq!(nt.to_vec(), h("44EBBA8D5312B8D611474411F56989AE"));
        assert_eq!(nt_hash_hash(&nt).to_vec(), h("41C00C584BD2D91C4017A2A12FA59F3F"));
        let resp = v2_nt_response(&auth, &peer, "User", &nt);
        assert_eq!(resp.to_vec(), h("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF"));
        assert_eq!(
            authenticator_response(&nt, &resp, &peer, &auth, "User"),
            "S=407A5589115FD0D6209F510FE9C04566932CDA56"
        );
        let (send, recv) = v2_mppe_keys(&nt, &resp);
        assert_eq!(send.to_vec(), h("8B7CDC149B993A1BA118CB153F56DCCB"));
        assert_eq!(recv.to_vec(), h("D5F0E9521E3EA9589645E86051C82226"));
    }

    #[test]
    fn des_key_expansion_vector() {
        let nt = nt_hash("MyPw");
        assert_eq!(nt.to_vec(), h("FC156AF7EDCD6C0EDDE3337D427F4EAC"));
        assert_eq!(des_key(&nt[..7].try_into().unwrap()).to_vec(), h("FD0B5B5E7F6E34D9"));
        assert_eq!(des_key(&nt[7..14].try_into().unwrap()).to_vec(), h("0E6E796737EA08FE"));
    }

    #[test]
    fn v2_verify_accepts_the_vector_and_refuses_a_changed_octet() {
        let auth = h("5B5D7C7D7B3F2F3E3C2C602132262628");
        let mut response =
            h("010021402324255E262A28295F2B3A337C7E000000000000000082309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF");
        let ok = v2_verify(&auth, &response, "User", &nt_hash("clientPass")).unwrap();
        assert_eq!(ok.ident, 1);
        assert_eq!(&ok.success[1..], b"S=407A5589115FD0D6209F510FE9C04566932CDA56");
        assert_eq!(ok.success.len(), 43);
        assert!(v2_verify(&auth, &response, "User", &nt_hash("clientpass")).is_none());
        response[49] ^= 1;
        assert!(v2_verify(&auth, &response, "User", &nt_hash("clientPass")).is_none());
        assert!(v2_verify(&auth[..8], &response, "User", &nt_hash("clientPass")).is_none());
        let e = v2_error(1, 691, true, &auth, "Authentication rejected");
        assert_eq!(&e[1..], b"E=691 R=1 C=5B5D7C7D7B3F2F3E3C2C602132262628 V=3 M=Authentication rejected");
    }

    #[test]
    fn v1_vector() {
        let challenge = h("0102030405060708");
        let nt = nt_hash("clientPass");
        let resp = challenge_response(&challenge.clone().try_into().unwrap(), &nt);
        assert_eq!(resp.to_vec(), h("58C4DD40F3EF1F59241A03E5845AA13A87ABB69FBB0B0D8D"));
        let mut value = vec![1, 1];
        value.extend([0u8; 24]);
        value.extend(resp);
        let (ident, keys) = v1_verify(&challenge, &value, &nt).unwrap();
        assert_eq!(ident, 1);
        assert_eq!(keys.to_vec(), h("000000000000000041C00C584BD2D91C4017A2A12FA59F3F"));
        value[1] = 0; // LM response only: refused
        assert!(v1_verify(&challenge, &value, &nt).is_none());
    }
}
