//! Packets: decoding with the checks FreeRADIUS's `rad_packet_ok()` makes,
//! encoding, Request/Response Authenticators and Message-Authenticator.

use crate::dict::{VENDOR_MIKROTIK, attr};
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use std::net::Ipv4Addr;
use subtle::ConstantTimeEq;

pub const MIN_PACKET: usize = 20;
pub const MAX_PACKET: usize = 4096;
pub const MAX_VALUE: usize = 253;
/// FreeRADIUS's `max_attributes` default: a cap against attribute floods.
pub const MAX_ATTRIBUTES: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    AccessRequest,
    AccessAccept,
    AccessReject,
    AccountingRequest,
    AccountingResponse,
    AccessChallenge,
    StatusServer,
    DisconnectRequest,
    DisconnectAck,
    DisconnectNak,
    CoaRequest,
    CoaAck,
    CoaNak,
}

impl Code {
    pub fn from_u8(v: u8) -> Option<Code> {
        Some(match v {
            1 => Code::AccessRequest,
            2 => Code::AccessAccept,
            3 => Code::AccessReject,
            4 => Code::AccountingRequest,
            5 => Code::AccountingResponse,
            11 => Code::AccessChallenge,
            12 => Code::StatusServer,
            40 => Code::DisconnectRequest,
            41 => Code::DisconnectAck,
            42 => Code::DisconnectNak,
            43 => Code::CoaRequest,
            44 => Code::CoaAck,
            45 => Code::CoaNak,
            _ => return None,
        })
    }

    pub fn as_u8(self) -> u8 {
        match self {
            Code::AccessRequest => 1,
            Code::AccessAccept => 2,
            Code::AccessReject => 3,
            Code::AccountingRequest => 4,
            Code::AccountingResponse => 5,
            Code::AccessChallenge => 11,
            Code::StatusServer => 12,
            Code::DisconnectRequest => 40,
            Code::DisconnectAck => 41,
            Code::DisconnectNak => 42,
            Code::CoaRequest => 43,
            Code::CoaAck => 44,
            Code::CoaNak => 45,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Code::AccessRequest => "Access-Request",
            Code::AccessAccept => "Access-Accept",
            Code::AccessReject => "Access-Reject",
            Code::AccountingRequest => "Accounting-Request",
            Code::AccountingResponse => "Accounting-Response",
            Code::AccessChallenge => "Access-Challenge",
            Code::StatusServer => "Status-Server",
            Code::DisconnectRequest => "Disconnect-Request",
            Code::DisconnectAck => "Disconnect-ACK",
            Code::DisconnectNak => "Disconnect-NAK",
            Code::CoaRequest => "CoA-Request",
            Code::CoaAck => "CoA-ACK",
            Code::CoaNak => "CoA-NAK",
        }
    }

    /// Requests whose authenticator is MD5 over zeros (not random).
    pub fn has_computed_request_authenticator(self) -> bool {
        matches!(self, Code::AccountingRequest | Code::CoaRequest | Code::DisconnectRequest)
    }

    pub fn is_request(self) -> bool {
        matches!(
            self,
            Code::AccessRequest
                | Code::AccountingRequest
                | Code::StatusServer
                | Code::CoaRequest
                | Code::DisconnectRequest
        )
    }
}

/// Why a datagram is not a RADIUS packet. All are silently dropped by a server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("datagram of {0} octets is shorter than a RADIUS header")]
    TooShort(usize),
    #[error("length field {field} is invalid for a datagram of {datagram} octets")]
    BadLength { field: usize, datagram: usize },
    #[error("unknown packet code {0}")]
    UnknownCode(u8),
    #[error("attribute at offset {0} is malformed (type 0, length < 2, or overruns the packet)")]
    BadAttribute(usize),
    #[error("more than {MAX_ATTRIBUTES} attributes")]
    TooManyAttributes,
    #[error("Message-Authenticator must be 18 octets long and appear at most once")]
    BadMessageAuthenticator,
    #[error("EAP-Message without Message-Authenticator, or together with a password")]
    BadEap,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("attribute {0} value is longer than 253 octets")]
    ValueTooLong(u8),
    #[error("packet would be {0} octets, more than 4096")]
    PacketTooLong(usize),
}

/// Why a packet's authenticators do not check out. Dropped silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("Request Authenticator does not match (wrong shared secret?)")]
    RequestAuthenticator,
    #[error("Response Authenticator does not match (wrong shared secret?)")]
    ResponseAuthenticator,
    #[error("Message-Authenticator does not match (wrong shared secret?)")]
    MessageAuthenticator,
}

/// One attribute as on the wire; Vendor-Specific stays type 26 with its raw value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Avp {
    pub typ: u8,
    pub value: Vec<u8>,
}

impl Avp {
    pub fn new(typ: u8, value: impl Into<Vec<u8>>) -> Avp {
        Avp { typ, value: value.into() }
    }
    pub fn text(typ: u8, s: &str) -> Avp {
        Avp::new(typ, s.as_bytes())
    }
    pub fn int(typ: u8, v: u32) -> Avp {
        Avp::new(typ, v.to_be_bytes())
    }
    pub fn ipv4(typ: u8, ip: Ipv4Addr) -> Avp {
        Avp::new(typ, ip.octets())
    }
    /// A Vendor-Specific attribute with one RFC-style sub-attribute.
    pub fn vsa(vendor: u32, vtype: u8, value: &[u8]) -> Avp {
        let mut v = Vec::with_capacity(6 + value.len());
        v.extend_from_slice(&vendor.to_be_bytes());
        v.push(vtype);
        v.push((value.len() + 2).min(255) as u8);
        v.extend_from_slice(value);
        Avp { typ: attr::VENDOR_SPECIFIC, value: v }
    }
    pub fn mikrotik_text(vtype: u8, s: &str) -> Avp {
        Avp::vsa(VENDOR_MIKROTIK, vtype, s.as_bytes())
    }

    /// The RFC-style sub-attributes of a Vendor-Specific attribute: (vendor, type, value).
    /// Several may share one attribute. Malformed contents yield nothing.
    pub fn vendor_parts(&self) -> Vec<(u32, u8, &[u8])> {
        let mut out = Vec::new();
        if self.typ != attr::VENDOR_SPECIFIC || self.value.len() < 4 {
            return out;
        }
        let vendor = u32::from_be_bytes([self.value[0], self.value[1], self.value[2], self.value[3]]);
        let mut rest = &self.value[4..];
        while rest.len() >= 2 {
            let len = rest[1] as usize;
            if len < 2 || len > rest.len() {
                return Vec::new();
            }
            out.push((vendor, rest[0], &rest[2..len]));
            rest = &rest[len..];
        }
        if !rest.is_empty() {
            return Vec::new();
        }
        out
    }
}

/// A decoded packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub code: Code,
    pub id: u8,
    pub authenticator: [u8; 16],
    pub attrs: Vec<Avp>,
}

impl Packet {
    /// Decodes and validates one datagram; octets beyond the Length field are padding.
    pub fn decode(buf: &[u8]) -> Result<Packet, DecodeError> {
        if buf.len() < MIN_PACKET {
            return Err(DecodeError::TooShort(buf.len()));
        }
        let len = u16::from_be_bytes([buf[2], buf[3]]) as usize;
        if !(MIN_PACKET..=MAX_PACKET).contains(&len) || len > buf.len() {
            return Err(DecodeError::BadLength { field: len, datagram: buf.len() });
        }
        let code = Code::from_u8(buf[0]).ok_or(DecodeError::UnknownCode(buf[0]))?;
        let mut authenticator = [0u8; 16];
        authenticator.copy_from_slice(&buf[4..20]);
        let mut attrs = Vec::new();
        let mut pos = MIN_PACKET;
        let (mut ma, mut eap, mut password) = (0, false, false);
        while pos < len {
            if len - pos < 2 {
                return Err(DecodeError::BadAttribute(pos));
            }
            let (typ, alen) = (buf[pos], buf[pos + 1] as usize);
            if typ == 0 || alen < 2 || pos + alen > len {
                return Err(DecodeError::BadAttribute(pos));
            }
            if attrs.len() == MAX_ATTRIBUTES {
                return Err(DecodeError::TooManyAttributes);
            }
            match typ {
                attr::MESSAGE_AUTHENTICATOR => {
                    ma += 1;
                    if alen != 18 || ma > 1 {
                        return Err(DecodeError::BadMessageAuthenticator);
                    }
                }
                attr::EAP_MESSAGE => eap = true,
                attr::USER_PASSWORD | attr::CHAP_PASSWORD => password = true,
                _ => {}
            }
            attrs.push(Avp { typ, value: buf[pos + 2..pos + alen].to_vec() });
            pos += alen;
        }
        if eap && (ma == 0 || password) {
            return Err(DecodeError::BadEap);
        }
        Ok(Packet { code, id: buf[1], authenticator, attrs })
    }

    pub fn get(&self, typ: u8) -> Option<&[u8]> {
        self.attrs.iter().find(|a| a.typ == typ).map(|a| a.value.as_slice())
    }

    pub fn get_all(&self, typ: u8) -> impl Iterator<Item = &[u8]> {
        self.attrs.iter().filter(move |a| a.typ == typ).map(|a| a.value.as_slice())
    }

    pub fn has(&self, typ: u8) -> bool {
        self.attrs.iter().any(|a| a.typ == typ)
    }

    /// Text attribute; invalid UTF-8 is replaced rather than refused (NASes send what they send).
    pub fn text(&self, typ: u8) -> Option<String> {
        self.get(typ).map(|v| String::from_utf8_lossy(v).into_owned())
    }

    pub fn int(&self, typ: u8) -> Option<u32> {
        self.get(typ).and_then(|v| <[u8; 4]>::try_from(v).ok()).map(u32::from_be_bytes)
    }

    pub fn ipv4(&self, typ: u8) -> Option<Ipv4Addr> {
        self.get(typ).and_then(|v| <[u8; 4]>::try_from(v).ok()).map(Ipv4Addr::from)
    }

    /// First value of a vendor sub-attribute.
    pub fn vsa(&self, vendor: u32, vtype: u8) -> Option<&[u8]> {
        self.attrs
            .iter()
            .filter(|a| a.typ == attr::VENDOR_SPECIFIC)
            .flat_map(|a| a.vendor_parts())
            .find(|(v, t, _)| *v == vendor && *t == vtype)
            .map(|(_, _, val)| val)
    }
}

fn md5_parts(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn hmac_md5(key: &[u8], data: &[u8]) -> [u8; 16] {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Md5> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn put_attrs(out: &mut Vec<u8>, attrs: &[Avp]) -> Result<(), EncodeError> {
    for a in attrs {
        if a.value.len() > MAX_VALUE {
            return Err(EncodeError::ValueTooLong(a.typ));
        }
        out.push(a.typ);
        out.push((a.value.len() + 2) as u8);
        out.extend_from_slice(&a.value);
    }
    Ok(())
}

/// Offset of the Message-Authenticator value in an encoded packet.
fn ma_offset(buf: &[u8]) -> Option<usize> {
    let len = u16::from_be_bytes([buf[2], buf[3]]) as usize;
    let mut pos = MIN_PACKET;
    while pos + 2 <= len.min(buf.len()) {
        let alen = buf[pos + 1] as usize;
        if alen < 2 {
            return None;
        }
        if buf[pos] == attr::MESSAGE_AUTHENTICATOR && alen == 18 {
            return Some(pos + 2);
        }
        pos += alen;
    }
    None
}

/// Builds the bytes of a packet. `ma` adds Message-Authenticator as the first attribute.
/// `header_auth` is what the Authenticator field holds while the MA is computed
/// (the request's own random authenticator, zeros, or the request being answered).
fn build(
    code: Code,
    id: u8,
    attrs: &[Avp],
    ma: bool,
    header_auth: &[u8; 16],
    secret: &[u8],
) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(64);
    out.push(code.as_u8());
    out.push(id);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(header_auth);
    if ma {
        out.push(attr::MESSAGE_AUTHENTICATOR);
        out.push(18);
        out.extend_from_slice(&[0u8; 16]);
    }
    let user_attrs: Vec<Avp> = attrs.iter().filter(|a| a.typ != attr::MESSAGE_AUTHENTICATOR).cloned().collect();
    put_attrs(&mut out, &user_attrs)?;
    if out.len() > MAX_PACKET {
        return Err(EncodeError::PacketTooLong(out.len()));
    }
    let len = out.len() as u16;
    out[2..4].copy_from_slice(&len.to_be_bytes());
    if ma {
        let mac = hmac_md5(secret, &out);
        out[22..38].copy_from_slice(&mac);
    }
    Ok(out)
}

/// Encodes a request. Access-Request and Status-Server use `random_authenticator`;
/// Accounting, CoA and Disconnect requests get the computed one (it is ignored).
pub fn encode_request(
    code: Code,
    id: u8,
    attrs: &[Avp],
    secret: &[u8],
    message_authenticator: bool,
    random_authenticator: [u8; 16],
) -> Result<Vec<u8>, EncodeError> {
    let computed = code.has_computed_request_authenticator();
    let header = if computed { [0u8; 16] } else { random_authenticator };
    let ma = message_authenticator || code == Code::StatusServer;
    let mut out = build(code, id, attrs, ma, &header, secret)?;
    if computed {
        let auth = md5_parts(&[&out, secret]);
        out[4..20].copy_from_slice(&auth);
    }
    Ok(out)
}

/// Encodes a reply to `request`, Message-Authenticator first when `ma` is set
/// (always, for replies to Access-Request: BlastRADIUS), Proxy-State echoed last.
pub fn encode_response(
    code: Code,
    request: &Packet,
    attrs: &[Avp],
    secret: &[u8],
    ma: bool,
) -> Result<Vec<u8>, EncodeError> {
    let mut all: Vec<Avp> = attrs.to_vec();
    all.extend(request.attrs.iter().filter(|a| a.typ == attr::PROXY_STATE).cloned());
    let mut out = build(code, request.id, &all, ma, &request.authenticator, secret)?;
    let auth = md5_parts(&[&out, secret]);
    out[4..20].copy_from_slice(&auth);
    Ok(out)
}

/// Checks a received request: the Request Authenticator of Accounting/CoA/Disconnect
/// requests, and the Message-Authenticator when present. Returns whether an MA was present.
pub fn verify_request(raw: &[u8], packet: &Packet, secret: &[u8]) -> Result<bool, VerifyError> {
    let len = u16::from_be_bytes([raw[2], raw[3]]) as usize;
    let raw = &raw[..len];
    let computed = packet.code.has_computed_request_authenticator();
    let ma_at = ma_offset(raw);
    if let Some(off) = ma_at {
        let mut copy = raw.to_vec();
        copy[off..off + 16].fill(0);
        if computed {
            copy[4..20].fill(0);
        }
        let mac = hmac_md5(secret, &copy);
        if !bool::from(mac.ct_eq(&raw[off..off + 16])) {
            return Err(VerifyError::MessageAuthenticator);
        }
    }
    if computed {
        let mut copy = raw.to_vec();
        copy[4..20].fill(0);
        let expect = md5_parts(&[&copy, secret]);
        if !bool::from(expect.ct_eq(&packet.authenticator)) {
            return Err(VerifyError::RequestAuthenticator);
        }
    }
    Ok(ma_at.is_some())
}

/// Checks a received reply against the request it answers (client side: CoA, tests).
pub fn verify_response(raw: &[u8], request_authenticator: &[u8; 16], secret: &[u8]) -> Result<bool, VerifyError> {
    let len = u16::from_be_bytes([raw[2], raw[3]]) as usize;
    let raw = &raw[..len];
    let mut copy = raw.to_vec();
    copy[4..20].copy_from_slice(request_authenticator);
    let ma_at = ma_offset(raw);
    if let Some(off) = ma_at {
        let mut c = copy.clone();
        c[off..off + 16].fill(0);
        let mac = hmac_md5(secret, &c);
        if !bool::from(mac.ct_eq(&raw[off..off + 16])) {
            return Err(VerifyError::MessageAuthenticator);
        }
    }
    let expect = md5_parts(&[&copy, secret]);
    if !bool::from(expect.ct_eq(&raw[4..20])) {
        return Err(VerifyError::ResponseAuthenticator);
    }
    Ok(ma_at.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    const SECRET: &[u8] = b"testing123";

    fn ra() -> [u8; 16] {
        std::array::from_fn(|i| i as u8)
    }

    #[test]
    fn accounting_request_vector() {
        let attrs = [
            Avp::int(attr::ACCT_STATUS_TYPE, 1),
            Avp::text(attr::USER_NAME, "alice"),
            Avp::text(attr::ACCT_SESSION_ID, "81a00001"),
            Avp::ipv4(attr::NAS_IP_ADDRESS, Ipv4Addr::new(127, 0, 0, 1)),
            Avp::ipv4(attr::FRAMED_IP_ADDRESS, Ipv4Addr::new(10, 0, 0, 2)),
        ];
        let raw = encode_request(Code::AccountingRequest, 0x2d, &attrs, SECRET, false, [0; 16]).unwrap();
        assert_eq!(
            raw,
            h(
                "042d0037b94ff56a4379cc053f815bb28c56adf02806000000010107616c6963652c0a383161303030303104067f00000108060a000002"
            )
        );
        let p = Packet::decode(&raw).unwrap();
        assert_eq!(verify_request(&raw, &p, SECRET), Ok(false));
        assert_eq!(verify_request(&raw, &p, b"wrong"), Err(VerifyError::RequestAuthenticator));
        // FreeRADIUS's answer verifies against our request.
        let resp = h("052d00144fe0a27af9422d635cfee3386911670d");
        assert_eq!(verify_response(&resp, &p.authenticator, SECRET), Ok(false));
        assert_eq!(encode_response(Code::AccountingResponse, &p, &[], SECRET, false).unwrap(), resp);
    }

    #[test]
    fn disconnect_vectors() {
        let attrs = [
            Avp::text(attr::USER_NAME, "alice"),
            Avp::text(attr::ACCT_SESSION_ID, "81a00001"),
            Avp::ipv4(attr::FRAMED_IP_ADDRESS, Ipv4Addr::new(10, 0, 0, 2)),
        ];
        let raw = encode_request(Code::DisconnectRequest, 0x2e, &attrs, SECRET, false, [9; 16]).unwrap();
        assert_eq!(raw, h("282e002b0fe356376b68fae3ccf3d314cf7c09070107616c6963652c0a383161303030303108060a000002"));
        let p = Packet::decode(&raw).unwrap();
        let ack = h("292e00146b62edc7dbfaf5097420e465c794383b");
        assert_eq!(verify_response(&ack, &p.authenticator, SECRET), Ok(false));

        let attrs = [Avp::text(attr::USER_NAME, "alice"), Avp::text(attr::ACCT_SESSION_ID, "81a00001")];
        let raw = encode_request(Code::DisconnectRequest, 0x2f, &attrs, SECRET, true, [0; 16]).unwrap();
        // Our MA goes first; the reference's packet has it last: both must verify.
        let reference = h(
            "282f0037aec28ee96e8198f7daccd7a589435511 0107616c696365 2c0a3831613030303031 50122ab834eeec59ced2e185a9fbbfdfc144",
        );
        let rp = Packet::decode(&reference).unwrap();
        assert_eq!(verify_request(&reference, &rp, SECRET), Ok(true));
        let p = Packet::decode(&raw).unwrap();
        assert_eq!(verify_request(&raw, &p, SECRET), Ok(true));
        assert_eq!(p.attrs[0].typ, attr::MESSAGE_AUTHENTICATOR);
    }

    #[test]
    fn access_request_with_message_authenticator_and_accept_vector() {
        let req = h(
            "012a0045000102030405060708090a0b0c0d0e0f0107616c6963650212fe8b65a61bfd7a1a104607240014828b04067f000001501266b4ce60bbaf723d7352971b0ea61769",
        );
        let p = Packet::decode(&req).unwrap();
        assert_eq!(verify_request(&req, &p, SECRET), Ok(true));
        assert_eq!(verify_request(&req, &p, b"testing124"), Err(VerifyError::MessageAuthenticator));
        assert_eq!(p.text(attr::USER_NAME).as_deref(), Some("alice"));

        let attrs = [Avp::mikrotik_text(8, "2M/4M"), Avp::int(attr::SESSION_TIMEOUT, 3600)];
        let accept = encode_response(Code::AccessAccept, &p, &attrs, SECRET, true).unwrap();
        assert_eq!(
            accept,
            h(
                "022a00394bcbf8165d6643aa548f176235120ff55012469777e58fdd25217df64cc50b5d61e41a0d00003a8c0807324d2f344d1b0600000e10"
            )
        );
        assert_eq!(verify_response(&accept, &p.authenticator, SECRET), Ok(true));
        // FreeRADIUS 3.2.1's reply (no MA) also verifies.
        let fr = h("022a002d8f6a49de01925a6cadf41c74c0222d6e1a0d00003a8c0807324d2f344d1b0600000e1055060000012c");
        assert_eq!(verify_response(&fr, &p.authenticator, SECRET), Ok(false));
        let fp = Packet::decode(&fr).unwrap();
        assert_eq!(fp.vsa(VENDOR_MIKROTIK, 8), Some(&b"2M/4M"[..]));
        assert_eq!(fp.int(attr::ACCT_INTERIM_INTERVAL), Some(300));
    }

    #[test]
    fn proxy_state_is_echoed_in_order() {
        let attrs = [
            Avp::new(attr::PROXY_STATE, *b"one"),
            Avp::text(attr::USER_NAME, "a"),
            Avp::new(attr::PROXY_STATE, *b"two"),
        ];
        let raw = encode_request(Code::AccessRequest, 1, &attrs, SECRET, true, ra()).unwrap();
        let p = Packet::decode(&raw).unwrap();
        let resp =
            encode_response(Code::AccessReject, &p, &[Avp::text(attr::REPLY_MESSAGE, "no")], SECRET, true).unwrap();
        let r = Packet::decode(&resp).unwrap();
        assert_eq!(r.attrs[0].typ, attr::MESSAGE_AUTHENTICATOR);
        assert_eq!(r.get_all(attr::PROXY_STATE).collect::<Vec<_>>(), [&b"one"[..], &b"two"[..]]);
    }

    #[test]
    fn malformed_packets_are_refused() {
        let good = encode_request(Code::AccessRequest, 1, &[Avp::text(1, "bob")], SECRET, true, ra()).unwrap();
        assert!(Packet::decode(&good).is_ok());
        assert_eq!(Packet::decode(&good[..19]), Err(DecodeError::TooShort(19)));
        let mut long = good.clone();
        long.extend_from_slice(&[0; 7]); // padding past Length is ignored
        assert_eq!(Packet::decode(&long).unwrap(), Packet::decode(&good).unwrap());
        let mut bad = good.clone();
        bad[3] += 1; // Length beyond the datagram
        assert!(matches!(Packet::decode(&bad), Err(DecodeError::BadLength { .. })));
        let mut bad = good.clone();
        bad[0] = 99;
        assert_eq!(Packet::decode(&bad), Err(DecodeError::UnknownCode(99)));
        let mut bad = good.clone();
        bad[39] = 0; // User-Name length 0
        assert!(matches!(Packet::decode(&bad), Err(DecodeError::BadAttribute(_))));
        let mut bad = good.clone();
        bad[39] = 200; // overruns
        assert!(matches!(Packet::decode(&bad), Err(DecodeError::BadAttribute(_))));
        // Two Message-Authenticators.
        let mut two = good.clone();
        two.extend_from_slice(&good[20..38]);
        let len = two.len() as u16;
        two[2..4].copy_from_slice(&len.to_be_bytes());
        assert_eq!(Packet::decode(&two), Err(DecodeError::BadMessageAuthenticator));
        // EAP without MA.
        let eap =
            encode_request(Code::AccessRequest, 1, &[Avp::new(attr::EAP_MESSAGE, [1, 2, 3, 4])], SECRET, false, ra())
                .unwrap();
        assert_eq!(Packet::decode(&eap), Err(DecodeError::BadEap));
        // Too many attributes.
        let many: Vec<Avp> = (0..201).map(|_| Avp::new(attr::CLASS, [1])).collect();
        let raw = encode_request(Code::AccessRequest, 1, &many, SECRET, false, ra()).unwrap();
        assert_eq!(Packet::decode(&raw), Err(DecodeError::TooManyAttributes));
        // Oversize values and packets are refused, never truncated.
        assert_eq!(
            encode_request(Code::AccessRequest, 1, &[Avp::new(1, vec![b'a'; 254])], SECRET, false, ra()),
            Err(EncodeError::ValueTooLong(1))
        );
        let huge: Vec<Avp> = (0..20).map(|_| Avp::new(attr::CLASS, vec![0; 253])).collect();
        assert!(matches!(
            encode_request(Code::AccessRequest, 1, &huge, SECRET, false, ra()),
            Err(EncodeError::PacketTooLong(_))
        ));
    }

    #[test]
    fn vendor_attributes_packed_together_are_read() {
        let mut v = VENDOR_MIKROTIK.to_be_bytes().to_vec();
        v.extend_from_slice(&[8, 7, b'2', b'M', b'/', b'4', b'M', 19, 4, b'x', b'y']);
        let raw =
            encode_request(Code::AccessRequest, 1, &[Avp::new(attr::VENDOR_SPECIFIC, v)], SECRET, false, ra()).unwrap();
        let p = Packet::decode(&raw).unwrap();
        assert_eq!(p.vsa(VENDOR_MIKROTIK, 8), Some(&b"2M/4M"[..]));
        assert_eq!(p.vsa(VENDOR_MIKROTIK, 19), Some(&b"xy"[..]));
        assert_eq!(Avp::mikrotik_text(8, "2M/4M").value, h("00003a8c0807324d2f344d"));
    }
}
