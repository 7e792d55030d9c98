//! The dictionary: standard attributes (RFC 2865/2866/2869/3162/5176), the
//! Microsoft (311, RFC 2548) and MikroTik (14988) vendor attributes, and the
//! enumerated values an ISP server reads and writes.

/// How an attribute's value is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Octets,
    Ipv4,
    Ipv6,
    Integer,
    Date,
    Vsa,
}

/// Standard attribute numbers.
pub mod attr {
    pub const USER_NAME: u8 = 1;
    pub const USER_PASSWORD: u8 = 2;
    pub const CHAP_PASSWORD: u8 = 3;
    pub const NAS_IP_ADDRESS: u8 = 4;
    pub const NAS_PORT: u8 = 5;
    pub const SERVICE_TYPE: u8 = 6;
    pub const FRAMED_PROTOCOL: u8 = 7;
    pub const FRAMED_IP_ADDRESS: u8 = 8;
    pub const FRAMED_IP_NETMASK: u8 = 9;
    pub const FILTER_ID: u8 = 11;
    pub const REPLY_MESSAGE: u8 = 18;
    pub const FRAMED_ROUTE: u8 = 22;
    pub const STATE: u8 = 24;
    pub const CLASS: u8 = 25;
    pub const VENDOR_SPECIFIC: u8 = 26;
    pub const SESSION_TIMEOUT: u8 = 27;
    pub const IDLE_TIMEOUT: u8 = 28;
    pub const TERMINATION_ACTION: u8 = 29;
    pub const CALLED_STATION_ID: u8 = 30;
    pub const CALLING_STATION_ID: u8 = 31;
    pub const NAS_IDENTIFIER: u8 = 32;
    pub const PROXY_STATE: u8 = 33;
    pub const ACCT_STATUS_TYPE: u8 = 40;
    pub const ACCT_DELAY_TIME: u8 = 41;
    pub const ACCT_INPUT_OCTETS: u8 = 42;
    pub const ACCT_OUTPUT_OCTETS: u8 = 43;
    pub const ACCT_SESSION_ID: u8 = 44;
    pub const ACCT_AUTHENTIC: u8 = 45;
    pub const ACCT_SESSION_TIME: u8 = 46;
    pub const ACCT_INPUT_PACKETS: u8 = 47;
    pub const ACCT_OUTPUT_PACKETS: u8 = 48;
    pub const ACCT_TERMINATE_CAUSE: u8 = 49;
    pub const ACCT_MULTI_SESSION_ID: u8 = 50;
    pub const ACCT_LINK_COUNT: u8 = 51;
    pub const ACCT_INPUT_GIGAWORDS: u8 = 52;
    pub const ACCT_OUTPUT_GIGAWORDS: u8 = 53;
    pub const EVENT_TIMESTAMP: u8 = 55;
    pub const CHAP_CHALLENGE: u8 = 60;
    pub const NAS_PORT_TYPE: u8 = 61;
    pub const PORT_LIMIT: u8 = 62;
    pub const CONNECT_INFO: u8 = 77;
    pub const EAP_MESSAGE: u8 = 79;
    pub const MESSAGE_AUTHENTICATOR: u8 = 80;
    pub const ACCT_INTERIM_INTERVAL: u8 = 85;
    pub const NAS_PORT_ID: u8 = 87;
    pub const FRAMED_POOL: u8 = 88;
    pub const NAS_IPV6_ADDRESS: u8 = 95;
    pub const FRAMED_IPV6_PREFIX: u8 = 97;
    pub const FRAMED_IPV6_POOL: u8 = 100;
    pub const ERROR_CAUSE: u8 = 101;
    pub const DELEGATED_IPV6_PREFIX: u8 = 123;
}

pub const VENDOR_MICROSOFT: u32 = 311;
pub const VENDOR_MIKROTIK: u32 = 14988;

/// Microsoft vendor attributes (RFC 2548).
pub mod ms {
    pub const CHAP_RESPONSE: u8 = 1;
    pub const CHAP_ERROR: u8 = 2;
    pub const MPPE_ENCRYPTION_POLICY: u8 = 7;
    pub const MPPE_ENCRYPTION_TYPES: u8 = 8;
    pub const CHAP_DOMAIN: u8 = 10;
    pub const CHAP_CHALLENGE: u8 = 11;
    pub const CHAP_MPPE_KEYS: u8 = 12;
    pub const MPPE_SEND_KEY: u8 = 16;
    pub const MPPE_RECV_KEY: u8 = 17;
    pub const CHAP2_RESPONSE: u8 = 25;
    pub const CHAP2_SUCCESS: u8 = 26;
}

/// MikroTik vendor attributes.
pub mod mikrotik {
    pub const RECV_LIMIT: u8 = 1;
    pub const XMIT_LIMIT: u8 = 2;
    pub const GROUP: u8 = 3;
    pub const RATE_LIMIT: u8 = 8;
    pub const REALM: u8 = 9;
    pub const HOST_IP: u8 = 10;
    pub const MARK_ID: u8 = 11;
    pub const RECV_LIMIT_GIGAWORDS: u8 = 14;
    pub const XMIT_LIMIT_GIGAWORDS: u8 = 15;
    pub const TOTAL_LIMIT: u8 = 17;
    pub const TOTAL_LIMIT_GIGAWORDS: u8 = 18;
    pub const ADDRESS_LIST: u8 = 19;
    pub const DELEGATED_IPV6_POOL: u8 = 22;
}

/// Acct-Status-Type values.
pub mod acct_status {
    pub const START: u32 = 1;
    pub const STOP: u32 = 2;
    pub const INTERIM_UPDATE: u32 = 3;
    pub const ACCOUNTING_ON: u32 = 7;
    pub const ACCOUNTING_OFF: u32 = 8;
    pub const FAILED: u32 = 15;
}

/// Service-Type values.
pub mod service_type {
    pub const LOGIN_USER: u32 = 1;
    pub const FRAMED_USER: u32 = 2;
    pub const AUTHORIZE_ONLY: u32 = 17;
}

/// NAS-Port-Type values.
pub mod nas_port_type {
    pub const ASYNC: u32 = 0;
    pub const VIRTUAL: u32 = 5;
    pub const ETHERNET: u32 = 15;
    pub const WIRELESS_OTHER: u32 = 18;
    pub const WIRELESS_802_11: u32 = 19;
}

/// Error-Cause values (RFC 5176).
pub fn error_cause_name(v: u32) -> &'static str {
    match v {
        201 => "Residual-Session-Context-Removed",
        202 => "Invalid-EAP-Packet",
        401 => "Unsupported-Attribute",
        402 => "Missing-Attribute",
        403 => "NAS-Identification-Mismatch",
        404 => "Invalid-Request",
        405 => "Unsupported-Service",
        406 => "Unsupported-Extension",
        407 => "Invalid-Attribute-Value",
        501 => "Administratively-Prohibited",
        502 => "Request-Not-Routable",
        503 => "Session-Context-Not-Found",
        504 => "Session-Context-Not-Removable",
        505 => "Other-Proxy-Processing-Error",
        506 => "Resources-Unavailable",
        507 => "Request-Initiated",
        508 => "Multiple-Session-Selection-Unsupported",
        _ => "Unknown",
    }
}

/// Acct-Terminate-Cause names (RFC 2866 and later), as FreeRADIUS writes them to `radacct`.
pub fn terminate_cause_name(v: u32) -> Option<&'static str> {
    Some(match v {
        1 => "User-Request",
        2 => "Lost-Carrier",
        3 => "Lost-Service",
        4 => "Idle-Timeout",
        5 => "Session-Timeout",
        6 => "Admin-Reset",
        7 => "Admin-Reboot",
        8 => "Port-Error",
        9 => "NAS-Error",
        10 => "NAS-Request",
        11 => "NAS-Reboot",
        12 => "Port-Unneeded",
        13 => "Port-Preempted",
        14 => "Port-Suspended",
        15 => "Service-Unavailable",
        16 => "Callback",
        17 => "User-Error",
        18 => "Host-Request",
        _ => return None,
    })
}

/// A named attribute, for logs, `radclient`-style text and the FreeRADIUS tables.
#[derive(Debug, Clone, Copy)]
pub struct Def {
    pub name: &'static str,
    /// 0 for standard attributes.
    pub vendor: u32,
    pub number: u8,
    pub kind: Kind,
}

const fn std_attr(name: &'static str, number: u8, kind: Kind) -> Def {
    Def { name, vendor: 0, number, kind }
}

const fn ms_attr(name: &'static str, number: u8, kind: Kind) -> Def {
    Def { name, vendor: VENDOR_MICROSOFT, number, kind }
}

const fn mt_attr(name: &'static str, number: u8, kind: Kind) -> Def {
    Def { name, vendor: VENDOR_MIKROTIK, number, kind }
}

use Kind::*;

pub const DICTIONARY: &[Def] = &[
    std_attr("User-Name", 1, Text),
    std_attr("User-Password", 2, Octets),
    std_attr("CHAP-Password", 3, Octets),
    std_attr("NAS-IP-Address", 4, Ipv4),
    std_attr("NAS-Port", 5, Integer),
    std_attr("Service-Type", 6, Integer),
    std_attr("Framed-Protocol", 7, Integer),
    std_attr("Framed-IP-Address", 8, Ipv4),
    std_attr("Framed-IP-Netmask", 9, Ipv4),
    std_attr("Framed-Routing", 10, Integer),
    std_attr("Filter-Id", 11, Text),
    std_attr("Framed-MTU", 12, Integer),
    std_attr("Framed-Compression", 13, Integer),
    std_attr("Login-IP-Host", 14, Ipv4),
    std_attr("Reply-Message", 18, Text),
    std_attr("Callback-Number", 19, Text),
    std_attr("Framed-Route", 22, Text),
    std_attr("State", 24, Octets),
    std_attr("Class", 25, Octets),
    std_attr("Vendor-Specific", 26, Vsa),
    std_attr("Session-Timeout", 27, Integer),
    std_attr("Idle-Timeout", 28, Integer),
    std_attr("Termination-Action", 29, Integer),
    std_attr("Called-Station-Id", 30, Text),
    std_attr("Calling-Station-Id", 31, Text),
    std_attr("NAS-Identifier", 32, Text),
    std_attr("Proxy-State", 33, Octets),
    std_attr("Acct-Status-Type", 40, Integer),
    std_attr("Acct-Delay-Time", 41, Integer),
    std_attr("Acct-Input-Octets", 42, Integer),
    std_attr("Acct-Output-Octets", 43, Integer),
    std_attr("Acct-Session-Id", 44, Text),
    std_attr("Acct-Authentic", 45, Integer),
    std_attr("Acct-Session-Time", 46, Integer),
    std_attr("Acct-Input-Packets", 47, Integer),
    std_attr("Acct-Output-Packets", 48, Integer),
    std_attr("Acct-Terminate-Cause", 49, Integer),
    std_attr("Acct-Multi-Session-Id", 50, Text),
    std_attr("Acct-Link-Count", 51, Integer),
    std_attr("Acct-Input-Gigawords", 52, Integer),
    std_attr("Acct-Output-Gigawords", 53, Integer),
    std_attr("Event-Timestamp", 55, Date),
    std_attr("CHAP-Challenge", 60, Octets),
    std_attr("NAS-Port-Type", 61, Integer),
    std_attr("Port-Limit", 62, Integer),
    std_attr("Connect-Info", 77, Text),
    std_attr("EAP-Message", 79, Octets),
    std_attr("Message-Authenticator", 80, Octets),
    std_attr("Acct-Interim-Interval", 85, Integer),
    std_attr("NAS-Port-Id", 87, Text),
    std_attr("Framed-Pool", 88, Text),
    std_attr("NAS-IPv6-Address", 95, Ipv6),
    std_attr("Framed-Interface-Id", 96, Octets),
    std_attr("Framed-IPv6-Prefix", 97, Octets),
    std_attr("Framed-IPv6-Pool", 100, Text),
    std_attr("Error-Cause", 101, Integer),
    std_attr("Delegated-IPv6-Prefix", 123, Octets),
    ms_attr("MS-CHAP-Response", 1, Octets),
    ms_attr("MS-CHAP-Error", 2, Octets),
    ms_attr("MS-MPPE-Encryption-Policy", 7, Integer),
    ms_attr("MS-MPPE-Encryption-Types", 8, Integer),
    ms_attr("MS-CHAP-Domain", 10, Octets),
    ms_attr("MS-CHAP-Challenge", 11, Octets),
    ms_attr("MS-CHAP-MPPE-Keys", 12, Octets),
    ms_attr("MS-MPPE-Send-Key", 16, Octets),
    ms_attr("MS-MPPE-Recv-Key", 17, Octets),
    ms_attr("MS-CHAP2-Response", 25, Octets),
    ms_attr("MS-CHAP2-Success", 26, Octets),
    mt_attr("Mikrotik-Recv-Limit", 1, Integer),
    mt_attr("Mikrotik-Xmit-Limit", 2, Integer),
    mt_attr("Mikrotik-Group", 3, Text),
    mt_attr("Mikrotik-Wireless-Forward", 4, Integer),
    mt_attr("Mikrotik-Wireless-Skip-Dot1x", 5, Integer),
    mt_attr("Mikrotik-Wireless-Enc-Algo", 6, Integer),
    mt_attr("Mikrotik-Wireless-Enc-Key", 7, Text),
    mt_attr("Mikrotik-Rate-Limit", 8, Text),
    mt_attr("Mikrotik-Realm", 9, Text),
    mt_attr("Mikrotik-Host-IP", 10, Ipv4),
    mt_attr("Mikrotik-Mark-Id", 11, Text),
    mt_attr("Mikrotik-Advertise-URL", 12, Text),
    mt_attr("Mikrotik-Advertise-Interval", 13, Integer),
    mt_attr("Mikrotik-Recv-Limit-Gigawords", 14, Integer),
    mt_attr("Mikrotik-Xmit-Limit-Gigawords", 15, Integer),
    mt_attr("Mikrotik-Wireless-PSK", 16, Text),
    mt_attr("Mikrotik-Total-Limit", 17, Integer),
    mt_attr("Mikrotik-Total-Limit-Gigawords", 18, Integer),
    mt_attr("Mikrotik-Address-List", 19, Text),
    mt_attr("Mikrotik-Wireless-MPKey", 20, Text),
    mt_attr("Mikrotik-Wireless-Comment", 21, Text),
    mt_attr("Mikrotik-Delegated-IPv6-Pool", 22, Text),
    mt_attr("Mikrotik-DHCP-Option-Set", 23, Text),
    mt_attr("Mikrotik-DHCP-Option-Param-STR1", 24, Text),
    mt_attr("Mikrotik-DHCP-Option-Param-STR2", 25, Text),
    mt_attr("Mikrotik-Wireless-VLANID", 26, Integer),
    mt_attr("Mikrotik-Wireless-VLANID-Type", 27, Integer),
    mt_attr("Mikrotik-Wireless-Minsignal", 28, Text),
    mt_attr("Mikrotik-Wireless-Maxsignal", 29, Text),
    mt_attr("Mikrotik-Switching-Filter", 30, Text),
];

/// Looks an attribute up by name (case-insensitive, as FreeRADIUS does).
pub fn by_name(name: &str) -> Option<&'static Def> {
    DICTIONARY.iter().find(|d| d.name.eq_ignore_ascii_case(name))
}

/// Looks an attribute up by vendor (0 = standard) and number.
pub fn by_number(vendor: u32, number: u8) -> Option<&'static Def> {
    DICTIONARY.iter().find(|d| d.vendor == vendor && d.number == number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_are_unique() {
        for (i, a) in DICTIONARY.iter().enumerate() {
            for b in &DICTIONARY[i + 1..] {
                assert!(!(a.vendor == b.vendor && a.number == b.number), "{} and {}", a.name, b.name);
                assert!(!a.name.eq_ignore_ascii_case(b.name), "{}", a.name);
            }
        }
        assert_eq!(by_name("mikrotik-rate-limit").map(|d| (d.vendor, d.number)), Some((14988, 8)));
        assert_eq!(by_number(311, 26).map(|d| d.name), Some("MS-CHAP2-Success"));
    }
}
