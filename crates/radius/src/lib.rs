//! RADIUS as BroadNet speaks it, with no I/O: packet decoding and encoding
//! (RFC 2865, 2866, 2869, 3579, 5176), the dictionary with the Microsoft and
//! MikroTik vendor attributes, Request/Response Authenticators,
//! Message-Authenticator, User-Password hiding, CHAP, MS-CHAP v1/v2 and the MPPE
//! keys (RFC 2548, 2759, 3079). The server and the CoA client build on this.

pub mod crypto;
pub mod dict;
pub mod mschap;
pub mod packet;

pub use packet::{
    Avp, Code, DecodeError, EncodeError, Packet, VerifyError, encode_request, encode_response, verify_request,
    verify_response,
};
