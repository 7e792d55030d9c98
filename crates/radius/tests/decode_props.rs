//! The decoder never panics, and what the encoder writes decodes to the same thing.

use broadnet_radius::{Avp, Code, Packet, encode_request, encode_response, verify_request, verify_response};
use proptest::prelude::*;

fn code() -> impl Strategy<Value = Code> {
    prop::sample::select(vec![
        Code::AccessRequest,
        Code::AccountingRequest,
        Code::StatusServer,
        Code::CoaRequest,
        Code::DisconnectRequest,
    ])
}

fn avp() -> impl Strategy<Value = Avp> {
    // Not 80 (added by the encoder) nor 79 (needs MA rules) nor 0.
    (1u8..=255)
        .prop_filter("reserved", |t| *t != 80 && *t != 79)
        .prop_flat_map(|t| prop::collection::vec(any::<u8>(), 0..=253).prop_map(move |v| Avp::new(t, v)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..5000)) {
        if let Ok(p) = Packet::decode(&bytes) {
            let _ = verify_request(&bytes, &p, b"secret");
            let _ = verify_response(&bytes, &[0; 16], b"secret");
            for a in &p.attrs { let _ = a.vendor_parts(); }
        }
    }

    #[test]
    fn mutated_valid_packets_never_panic(
        attrs in prop::collection::vec(avp(), 0..12),
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8),
    ) {
        if let Ok(mut raw) = encode_request(Code::AccessRequest, 7, &attrs, b"s3cret", true, [3; 16]) {
            for (pos, val) in flips {
                let i = pos % raw.len();
                raw[i] = val;
            }
            if let Ok(p) = Packet::decode(&raw) {
                let _ = verify_request(&raw, &p, b"s3cret");
            }
        }
    }

    #[test]
    fn encode_decode_round_trip(c in code(), id in any::<u8>(), attrs in prop::collection::vec(avp(), 0..12), ma in any::<bool>(), ra in any::<[u8; 16]>()) {
        let Ok(raw) = encode_request(c, id, &attrs, b"s3cret", ma, ra) else { return Ok(()); };
        let p = Packet::decode(&raw).unwrap();
        prop_assert_eq!(p.code, c);
        prop_assert_eq!(p.id, id);
        let body: Vec<Avp> = p.attrs.iter().filter(|a| a.typ != 80).cloned().collect();
        prop_assert_eq!(body, attrs.clone());
        prop_assert!(verify_request(&raw, &p, b"s3cret").is_ok());
        if c.has_computed_request_authenticator() || p.has(80) {
            prop_assert!(verify_request(&raw, &p, b"other").is_err());
        }
        let reply = encode_response(Code::AccessAccept, &p, &[], b"s3cret", true).unwrap();
        prop_assert!(verify_response(&reply, &p.authenticator, b"s3cret").is_ok());
        prop_assert!(verify_response(&reply, &p.authenticator, b"other").is_err());
    }
}
