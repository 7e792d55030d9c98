//! The simulator's in-memory configuration: menus, entries and the add/set/remove/print semantics.
//!
//! Everything here is synchronous and I/O-free so the API server and a future `.rsc` interpreter share it
//! through [`super::RouterSim::apply`].

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::time::Instant;

use super::SimConfig;

/// One entry's properties (`.id` included for list menus).
pub type Attrs = BTreeMap<String, String>;

/// A refusal from the simulated router: what it sends as `!trap`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimTrap {
    /// `=category=`, when the router would send one.
    pub category: Option<u32>,
    /// `=message=`.
    pub message: String,
}

impl SimTrap {
    /// A trap with an optional category.
    pub fn new(category: Option<u32>, message: impl Into<String>) -> Self {
        SimTrap { category, message: message.into() }
    }

    fn no_such_item() -> Self {
        SimTrap::new(Some(0), "no such item")
    }

    fn no_such_command(command: &str) -> Self {
        SimTrap::new(Some(0), format!("no such command or directory ({command})"))
    }

    pub(crate) fn no_such_prefix() -> Self {
        SimTrap::new(Some(0), "no such command prefix")
    }
}

impl fmt::Display for SimTrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SimTrap {}

/// How a menu behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Ordinary list: add / set / remove / print.
    List,
    /// Built-in list: set / print only (`/interface/ethernet`, `/ip/service`).
    Fixed,
    /// Runtime sessions: print / remove only (`/ppp/active`, `/ip/hotspot/active`).
    Active,
    /// One settings object: set without `.id` / print returns one row without `.id`.
    Settings,
    /// Read-only settings object (`/system/resource`).
    ReadOnly,
}

/// Where names referenced by an attribute must exist.
const INTERFACE_MENUS: &[&str] =
    &["/interface/ethernet", "/interface/bridge", "/interface/vlan", "/interface/list", "/interface/pppoe-client"];

struct Spec {
    path: &'static str,
    kind: Kind,
    /// Attributes `add` insists on.
    required: &'static [&'static str],
    /// Property that must be unique (`name`), if any.
    unique: Option<&'static str>,
    /// Prefix for a generated `name` when `add` gives none.
    auto_name: Option<&'static str>,
    defaults: &'static [(&'static str, &'static str)],
    /// `(attribute, menus whose names it may reference, extra accepted values)`.
    refs: &'static [(&'static str, &'static [&'static str], &'static [&'static str])],
}

const fn list(path: &'static str) -> Spec {
    Spec { path, kind: Kind::List, required: &[], unique: None, auto_name: None, defaults: &[], refs: &[] }
}

const FW_DEFAULTS: &[(&str, &str)] =
    &[("action", "accept"), ("disabled", "false"), ("dynamic", "false"), ("invalid", "false")];

const SPECS: &[Spec] = &[
    Spec {
        kind: Kind::Fixed,
        unique: Some("name"),
        defaults: &[("mtu", "1500"), ("disabled", "false")],
        ..list("/interface/ethernet")
    },
    Spec {
        unique: Some("name"),
        auto_name: Some("bridge"),
        defaults: &[("mtu", "auto"), ("protocol-mode", "rstp"), ("arp", "enabled"), ("disabled", "false")],
        ..list("/interface/bridge")
    },
    Spec {
        required: &["bridge", "interface"],
        defaults: &[("pvid", "1"), ("disabled", "false"), ("dynamic", "false"), ("inactive", "false")],
        refs: &[("bridge", &["/interface/bridge"], &[]), ("interface", INTERFACE_MENUS, &[])],
        ..list("/interface/bridge/port")
    },
    Spec {
        required: &["name", "vlan-id", "interface"],
        unique: Some("name"),
        defaults: &[("mtu", "1500"), ("disabled", "false")],
        refs: &[("interface", INTERFACE_MENUS, &[])],
        ..list("/interface/vlan")
    },
    Spec { required: &["name"], unique: Some("name"), ..list("/interface/list") },
    Spec {
        required: &["list", "interface"],
        defaults: &[("disabled", "false"), ("dynamic", "false")],
        refs: &[("list", &["/interface/list"], &[]), ("interface", INTERFACE_MENUS, &[])],
        ..list("/interface/list/member")
    },
    Spec {
        required: &["address", "interface"],
        defaults: &[("disabled", "false"), ("dynamic", "false"), ("invalid", "false")],
        refs: &[("interface", INTERFACE_MENUS, &[])],
        ..list("/ip/address")
    },
    Spec {
        required: &["name", "ranges"],
        unique: Some("name"),
        defaults: &[("next-pool", "none")],
        ..list("/ip/pool")
    },
    Spec {
        required: &["interface"],
        unique: Some("name"),
        auto_name: Some("dhcp"),
        defaults: &[("address-pool", "static-only"), ("lease-time", "30m"), ("authoritative", "yes")],
        refs: &[("interface", INTERFACE_MENUS, &[]), ("address-pool", &["/ip/pool"], &["static-only"])],
        ..list("/ip/dhcp-server")
    },
    Spec {
        required: &["address"],
        defaults: &[("dns-server", ""), ("gateway", "")],
        ..list("/ip/dhcp-server/network")
    },
    Spec {
        required: &["address"],
        defaults: &[("disabled", "false"), ("dynamic", "false")],
        ..list("/ip/dhcp-server/lease")
    },
    Spec {
        kind: Kind::Settings,
        defaults: &[("servers", ""), ("allow-remote-requests", "false"), ("cache-size", "2048KiB")],
        ..list("/ip/dns")
    },
    Spec { defaults: &[("disabled", "false"), ("ttl", "1d")], ..list("/ip/dns/static") },
    Spec { required: &["gateway"], defaults: &[("distance", "1"), ("disabled", "false")], ..list("/ip/route") },
    Spec {
        defaults: &[
            ("address", "0.0.0.0"),
            ("secret", ""),
            ("service", ""),
            ("authentication-port", "1812"),
            ("accounting-port", "1813"),
            ("timeout", "300ms"),
            ("src-address", "0.0.0.0"),
            ("accounting-backup", "false"),
            ("protocol", "udp"),
            ("disabled", "false"),
        ],
        ..list("/radius")
    },
    Spec {
        kind: Kind::Settings,
        defaults: &[("accept", "false"), ("port", "3799"), ("vrf", "main")],
        ..list("/radius/incoming")
    },
    Spec {
        required: &["name"],
        unique: Some("name"),
        defaults: &[
            ("only-one", "default"),
            ("change-tcp-mss", "default"),
            ("use-encryption", "default"),
            ("use-compression", "default"),
            ("default", "false"),
        ],
        ..list("/ppp/profile")
    },
    Spec {
        kind: Kind::Settings,
        defaults: &[
            ("use-radius", "false"),
            ("accounting", "true"),
            ("interim-update", "0s"),
            ("use-circuit-id-in-nas-port-id", "false"),
        ],
        ..list("/ppp/aaa")
    },
    Spec {
        required: &["name"],
        unique: Some("name"),
        defaults: &[("service", "any"), ("profile", "default"), ("disabled", "false")],
        refs: &[("profile", &["/ppp/profile"], &[])],
        ..list("/ppp/secret")
    },
    Spec { kind: Kind::Active, ..list("/ppp/active") },
    Spec {
        required: &["interface"],
        unique: Some("service-name"),
        defaults: &[
            ("service-name", "service1"),
            ("default-profile", "default"),
            ("authentication", "pap,chap,mschap1,mschap2"),
            ("keepalive-timeout", "10"),
            ("one-session-per-host", "false"),
            ("max-mtu", "auto"),
            ("max-mru", "auto"),
            ("max-sessions", "unlimited"),
            ("disabled", "true"),
        ],
        refs: &[("interface", INTERFACE_MENUS, &[]), ("default-profile", &["/ppp/profile"], &[])],
        ..list("/interface/pppoe-server/server")
    },
    Spec {
        required: &["name"],
        unique: Some("name"),
        defaults: HOTSPOT_PROFILE_DEFAULTS,
        ..list("/ip/hotspot/profile")
    },
    Spec {
        required: &["interface"],
        unique: Some("name"),
        auto_name: Some("hotspot"),
        defaults: &[
            ("profile", "default"),
            ("address-pool", "none"),
            ("idle-timeout", "5m"),
            ("keepalive-timeout", "none"),
            ("login-timeout", "none"),
            ("addresses-per-mac", "2"),
            ("disabled", "false"),
            ("invalid", "false"),
        ],
        refs: &[
            ("interface", INTERFACE_MENUS, &[]),
            ("address-pool", &["/ip/pool"], &["none"]),
            ("profile", &["/ip/hotspot/profile"], &[]),
        ],
        ..list("/ip/hotspot")
    },
    Spec {
        required: &["name"],
        unique: Some("name"),
        defaults: &[
            ("shared-users", "1"),
            ("add-mac-cookie", "true"),
            ("mac-cookie-timeout", "3d"),
            ("keepalive-timeout", "2m"),
            ("idle-timeout", "none"),
            ("status-autorefresh", "1m"),
            ("open-status-page", "always"),
            ("default", "false"),
        ],
        ..list("/ip/hotspot/user/profile")
    },
    Spec {
        required: &["name"],
        unique: Some("name"),
        defaults: &[("profile", "default"), ("server", "all"), ("disabled", "false")],
        refs: &[("profile", &["/ip/hotspot/user/profile"], &[])],
        ..list("/ip/hotspot/user")
    },
    Spec {
        defaults: &[("action", "allow"), ("disabled", "false"), ("dynamic", "false")],
        ..list("/ip/hotspot/walled-garden")
    },
    Spec {
        defaults: &[("action", "accept"), ("disabled", "false"), ("dynamic", "false")],
        ..list("/ip/hotspot/walled-garden/ip")
    },
    Spec { defaults: &[("type", "regular"), ("disabled", "false")], ..list("/ip/hotspot/ip-binding") },
    Spec { kind: Kind::Active, ..list("/ip/hotspot/active") },
    Spec { kind: Kind::Active, ..list("/ip/hotspot/host") },
    Spec { kind: Kind::Active, ..list("/ip/hotspot/cookie") },
    Spec { required: &["chain"], defaults: FW_DEFAULTS, ..list("/ip/firewall/nat") },
    Spec { required: &["chain"], defaults: FW_DEFAULTS, ..list("/ip/firewall/filter") },
    Spec {
        required: &["chain"],
        defaults: &[
            ("action", "accept"),
            ("passthrough", "true"),
            ("disabled", "false"),
            ("dynamic", "false"),
            ("invalid", "false"),
        ],
        ..list("/ip/firewall/mangle")
    },
    Spec {
        required: &["list", "address"],
        defaults: &[("disabled", "false"), ("dynamic", "false")],
        ..list("/ip/firewall/address-list")
    },
    Spec { required: &["name"], defaults: &[("disabled", "false"), ("dynamic", "false")], ..list("/queue/simple") },
    Spec {
        required: &["name", "group"],
        unique: Some("name"),
        defaults: &[("address", ""), ("disabled", "false")],
        refs: &[("group", &["/user/group"], &[])],
        ..list("/user")
    },
    Spec { required: &["name"], unique: Some("name"), defaults: &[("skin", "default")], ..list("/user/group") },
    Spec { kind: Kind::Active, ..list("/user/active") },
    Spec { kind: Kind::Fixed, unique: Some("name"), ..list("/ip/service") },
    Spec { kind: Kind::Settings, ..list("/system/identity") },
    Spec { kind: Kind::ReadOnly, ..list("/system/resource") },
    Spec { kind: Kind::ReadOnly, ..list("/system/routerboard") },
    Spec {
        required: &["name"],
        unique: Some("name"),
        defaults: &[("start-time", "startup"), ("interval", "0s"), ("on-event", ""), ("disabled", "false")],
        ..list("/system/scheduler")
    },
    Spec { required: &["name"], unique: Some("name"), defaults: &[("source", "")], ..list("/system/script") },
    Spec { required: &["name"], unique: Some("name"), ..list("/certificate") },
    Spec { required: &["name"], unique: Some("name"), ..list("/file") },
];

const HOTSPOT_PROFILE_DEFAULTS: &[(&str, &str)] = &[
    ("hotspot-address", "0.0.0.0"),
    ("dns-name", ""),
    ("html-directory", "hotspot"),
    ("html-directory-override", ""),
    ("login-by", "cookie,http-chap"),
    ("use-radius", "false"),
    ("radius-accounting", "true"),
    ("radius-interim-update", "received"),
    ("nas-port-type", "wireless-802.11"),
    ("radius-mac-format", "XX:XX:XX:XX:XX:XX"),
    ("mac-auth-mode", "mac-as-username"),
    ("http-cookie-lifetime", "3d"),
    ("default", "false"),
];

/// Properties RouterOS prints as `true`/`false` whatever the input spelling (`yes`/`no`).
const BOOLEAN_KEYS: &[&str] = &[
    "disabled",
    "use-radius",
    "accounting",
    "accept",
    "radius-accounting",
    "one-session-per-host",
    "allow-remote-requests",
    "passthrough",
    "add-mac-cookie",
    "use-circuit-id-in-nas-port-id",
    "accounting-backup",
];

/// Properties never printed (still visible through [`Model::entries`]).
const HIDDEN_KEYS: &[&str] = &["password"];

/// Properties the router computes; `add`/`set` ignore them.
const READ_ONLY_KEYS: &[&str] =
    &[".id", "numbers", "dynamic", "invalid", "running", "default-name", "builtin", "inactive"];

fn spec(path: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.path == path)
}

/// How the menu at `path` behaves, if it is one.
pub(crate) fn menu_kind(path: &str) -> Option<Kind> {
    spec(path).map(|s| s.kind)
}

/// Is `path` a strict prefix of some menu (`/ip`, `/interface`)? The root (`""` or `/`) is.
pub(crate) fn is_menu_prefix(path: &str) -> bool {
    let path = path.trim_end_matches('/');
    let prefix = format!("{path}/");
    path.is_empty() || SPECS.iter().any(|s| s.path.starts_with(&prefix))
}

fn normalise(key: &str, value: &str) -> String {
    if BOOLEAN_KEYS.contains(&key) {
        match value {
            "yes" | "true" => return "true".into(),
            "no" | "false" => return "false".into(),
            _ => {}
        }
    }
    value.to_owned()
}

#[derive(Debug, Clone)]
struct Entry {
    id: String,
    attrs: Attrs,
    /// When a runtime session began (its `uptime` is computed from it).
    started: Option<Instant>,
}

#[derive(Debug, Default)]
struct Menu {
    entries: Vec<Entry>,
    next_id: u32,
}

/// The configuration model.
#[derive(Debug)]
pub(crate) struct Model {
    menus: BTreeMap<&'static str, Menu>,
    version: (u32, u32, u32),
    started: Instant,
}

/// `"7.16.2 (stable)"` → `(7, 16, 2)`.
pub(crate) fn parse_version(version: &str) -> (u32, u32, u32) {
    let mut parts =
        version.split(|c: char| !c.is_ascii_digit()).filter(|p| !p.is_empty()).map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

impl Model {
    pub(crate) fn new(config: &SimConfig) -> Model {
        let mut model = Model {
            menus: SPECS.iter().map(|s| (s.path, Menu { entries: Vec::new(), next_id: 1 })).collect(),
            version: parse_version(&config.version),
            started: Instant::now(),
        };
        model.populate(config);
        model
    }

    fn populate(&mut self, config: &SimConfig) {
        for n in 1..=5u8 {
            let name = format!("ether{n}");
            self.seed(
                "/interface/ethernet",
                &[
                    ("name", name.as_str()),
                    ("default-name", name.as_str()),
                    ("mac-address", &format!("48:8F:5A:00:00:{n:02X}")),
                    ("running", if n == 1 { "true" } else { "false" }),
                ],
            );
        }
        for name in ["all", "none", "dynamic", "static"] {
            self.seed("/interface/list", &[("name", name), ("builtin", "true")]);
        }
        self.seed_with_id(
            "/ppp/profile",
            "*0",
            &[("name", "default"), ("use-encryption", "default"), ("change-tcp-mss", "yes"), ("default", "true")],
        );
        self.seed_with_id(
            "/ppp/profile",
            "*FFFFFFFE",
            &[
                ("name", "default-encryption"),
                ("use-encryption", "yes"),
                ("change-tcp-mss", "yes"),
                ("default", "true"),
            ],
        );
        self.seed("/ip/hotspot/profile", &[("name", "default"), ("default", "true")]);
        self.seed_with_id("/ip/hotspot/user/profile", "*0", &[("name", "default"), ("default", "true")]);
        for (name, policy) in [
            (
                "read",
                "local,telnet,ssh,reboot,read,test,winbox,password,web,sniff,sensitive,api,romon,rest-api,!ftp,!write,!policy",
            ),
            (
                "write",
                "local,telnet,ssh,reboot,read,write,test,winbox,password,web,sniff,sensitive,api,romon,rest-api,!ftp,!policy",
            ),
            (
                "full",
                "local,telnet,ssh,ftp,reboot,read,write,policy,test,winbox,password,web,sniff,sensitive,api,romon,rest-api",
            ),
        ] {
            self.seed("/user/group", &[("name", name), ("policy", policy)]);
        }
        for (name, password, group) in &config.users {
            self.seed("/user", &[("name", name), ("password", password), ("group", group)]);
        }
        for (name, port, disabled) in [
            ("telnet", "23", "false"),
            ("ftp", "21", "false"),
            ("www", "80", "false"),
            ("ssh", "22", "false"),
            ("www-ssl", "443", "true"),
            ("api", "8728", "false"),
            ("winbox", "8291", "false"),
            ("api-ssl", "8729", "false"),
        ] {
            let mut attrs = vec![("name", name), ("port", port), ("address", ""), ("disabled", disabled)];
            if name.ends_with("-ssl") {
                attrs.push(("certificate", "none"));
            }
            self.seed("/ip/service", &attrs);
        }
        self.seed_settings("/system/identity", &[("name", &config.identity)]);
        let version =
            if config.version.contains('(') { config.version.clone() } else { format!("{} (stable)", config.version) };
        self.seed_settings(
            "/system/resource",
            &[
                ("version", &version),
                ("build-time", "2024-10-29 10:15:00"),
                ("factory-software", "6.44.6"),
                ("free-memory", "201326592"),
                ("total-memory", "268435456"),
                ("cpu", "MIPS 1004Kc V2.15"),
                ("cpu-count", "4"),
                ("cpu-frequency", "880"),
                ("cpu-load", "3"),
                ("free-hdd-space", "4063232"),
                ("total-hdd-space", "16777216"),
                ("architecture-name", "mmips"),
                ("board-name", &config.board),
                ("platform", "MikroTik"),
            ],
        );
        let firmware = format!("{}.{}.{}", self.version.0, self.version.1, self.version.2);
        if config.board.eq_ignore_ascii_case("CHR") || config.board.contains("x86") {
            self.seed_settings("/system/routerboard", &[("routerboard", "false")]);
        } else {
            self.seed_settings(
                "/system/routerboard",
                &[
                    ("routerboard", "true"),
                    ("board-name", &config.board),
                    ("model", &config.board),
                    ("serial-number", "HD08SIM0001"),
                    ("firmware-type", "mt7621L"),
                    ("factory-firmware", "6.44.6"),
                    ("current-firmware", &firmware),
                    ("upgrade-firmware", &firmware),
                ],
            );
        }
        for path in ["/ip/dns", "/radius/incoming", "/ppp/aaa"] {
            self.seed_settings(path, &[]);
        }
        self.seed("/file", &[("name", "hotspot"), ("type", "directory"), ("size", "0"), ("contents", "")]);
        for (name, contents) in super::hotspot::BUILT_IN {
            let name = format!("hotspot/{name}");
            let size = contents.len().to_string();
            self.seed("/file", &[("name", &name), ("type", file_type(&name)), ("size", &size), ("contents", contents)]);
        }
    }

    fn seed(&mut self, path: &'static str, attrs: &[(&str, &str)]) {
        let Some(menu) = self.menus.get_mut(path) else { return };
        let id = format!("*{:X}", menu.next_id);
        menu.next_id += 1;
        self.seed_with_id(path, &id, attrs);
    }

    fn seed_with_id(&mut self, path: &'static str, id: &str, attrs: &[(&str, &str)]) {
        let defaults = spec(path).map(|s| s.defaults).unwrap_or(&[]);
        let Some(menu) = self.menus.get_mut(path) else { return };
        let mut map: Attrs = defaults.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        for (k, v) in attrs {
            map.insert((*k).to_owned(), normalise(k, v));
        }
        menu.entries.push(Entry { id: id.to_owned(), attrs: map, started: None });
    }

    fn seed_settings(&mut self, path: &'static str, attrs: &[(&str, &str)]) {
        self.seed_with_id(path, "", attrs);
    }

    pub(crate) fn version(&self) -> (u32, u32, u32) {
        self.version
    }

    /// Is `path` a menu?
    pub(crate) fn has_menu(&self, path: &str) -> bool {
        spec(path).is_some()
    }

    /// Is `path` a strict prefix of some menu (`/ip`, `/interface`)?
    pub(crate) fn is_menu_prefix(&self, path: &str) -> bool {
        is_menu_prefix(path)
    }

    /// Every known menu path.
    pub(crate) fn menu_paths() -> Vec<&'static str> {
        SPECS.iter().map(|s| s.path).collect()
    }

    /// Raw entries of a menu (hidden properties included; `.id` for list menus).
    pub(crate) fn entries(&self, path: &str) -> Vec<Attrs> {
        let Some(menu) = self.menus.get(path) else { return Vec::new() };
        menu.entries.iter().map(|e| self.row(path, e, true)).collect()
    }

    fn row(&self, path: &str, entry: &Entry, include_hidden: bool) -> Attrs {
        let mut row = entry.attrs.clone();
        if !include_hidden {
            row.retain(|k, _| !HIDDEN_KEYS.contains(&k.as_str()));
        }
        if !entry.id.is_empty() {
            row.insert(".id".into(), entry.id.clone());
        }
        if path == "/system/resource" {
            row.insert("uptime".into(), format_uptime(self.started.elapsed().as_secs()));
        }
        if let Some(started) = entry.started {
            row.insert("uptime".into(), format_uptime(started.elapsed().as_secs()));
        }
        row
    }

    /// Add a runtime session row (`/ppp/active`, `/ip/hotspot/active`) whose `uptime` counts from now;
    /// returns its `.id` (`*8000000N`, like RouterOS's dynamic entries).
    pub(crate) fn add_active(&mut self, path: &str, attrs: Attrs) -> Option<String> {
        let menu = self.menus.get_mut(path)?;
        let id = format!("*{:X}", 0x8000_0000u32.wrapping_add(menu.next_id));
        menu.next_id += 1;
        menu.entries.push(Entry { id: id.clone(), attrs, started: Some(Instant::now()) });
        Some(id)
    }

    /// Change properties of the entry `id` of `path`; false when it is gone.
    pub(crate) fn update_row(&mut self, path: &str, id: &str, changes: &[(&str, String)]) -> bool {
        let Some(entry) = self.menus.get_mut(path).and_then(|m| m.entries.iter_mut().find(|e| e.id == id)) else {
            return false;
        };
        for (k, v) in changes {
            entry.attrs.insert((*k).to_owned(), v.clone());
        }
        true
    }

    /// Remove the entry `id` of `path`; false when it was not there.
    pub(crate) fn remove_row(&mut self, path: &str, id: &str) -> bool {
        let Some(menu) = self.menus.get_mut(path) else { return false };
        let before = menu.entries.len();
        menu.entries.retain(|e| e.id != id);
        menu.entries.len() < before
    }

    /// Ids of every entry of `path`.
    pub(crate) fn ids(&self, path: &str) -> Vec<String> {
        self.menus.get(path).map(|m| m.entries.iter().map(|e| e.id.clone()).collect()).unwrap_or_default()
    }

    /// Replace a runtime table (`/ppp/active`, `/ip/hotspot/active`, …). Rows without `.id` get one.
    pub(crate) fn set_rows(&mut self, path: &str, rows: Vec<Attrs>) -> bool {
        let Some(menu) = self.menus.get_mut(path) else { return false };
        menu.entries.clear();
        for mut attrs in rows {
            let id = match attrs.remove(".id") {
                Some(id) => id,
                None => {
                    let id = format!("*{:X}", 0x8000_0000u32.wrapping_add(menu.next_id));
                    menu.next_id += 1;
                    id
                }
            };
            menu.entries.push(Entry { id, attrs, started: None });
        }
        true
    }

    /// Overwrite one property of a settings object or every entry of a menu with one row (tests).
    pub(crate) fn poke(&mut self, path: &str, key: &str, value: &str) -> bool {
        let Some(menu) = self.menus.get_mut(path) else { return false };
        for entry in &mut menu.entries {
            entry.attrs.insert(key.to_owned(), value.to_owned());
        }
        true
    }

    /// Does a user with this name and password exist (and is it enabled)?
    pub(crate) fn check_login(&self, name: &str, password: &str) -> bool {
        self.user_password(name).is_some_and(|p| p == password)
    }

    /// The password of an enabled user.
    pub(crate) fn user_password(&self, name: &str) -> Option<String> {
        let menu = self.menus.get("/user")?;
        let entry = menu.entries.iter().find(|e| e.attrs.get("name").is_some_and(|n| n == name))?;
        if entry.attrs.get("disabled").is_some_and(|d| d == "true") {
            return None;
        }
        Some(entry.attrs.get("password").cloned().unwrap_or_default())
    }

    /// `print` / `getall`: rows after queries, with `.proplist` applied. `count-only` is handled by the caller.
    pub(crate) fn print(
        &self,
        path: &str,
        attrs: &[(String, String)],
        queries: &[String],
    ) -> Result<Vec<Attrs>, SimTrap> {
        let Some(menu) = self.menus.get(path) else { return Err(SimTrap::no_such_prefix()) };
        let proplist: Option<Vec<&str>> = attrs
            .iter()
            .find(|(k, _)| k == ".proplist")
            .map(|(_, v)| v.split(',').map(str::trim).filter(|p| !p.is_empty()).collect());
        let mut rows = Vec::new();
        for entry in &menu.entries {
            let row = self.row(path, entry, false);
            if !query_matches(queries, &row)? {
                continue;
            }
            let row = match &proplist {
                Some(props) => row.into_iter().filter(|(k, _)| props.contains(&k.as_str())).collect(),
                None => row,
            };
            rows.push(row);
        }
        Ok(rows)
    }

    /// Apply `add`, `set`, `unset`, `remove`, `enable` or `disable` to a menu.
    ///
    /// `add` returns the new `.id`. Item selectors (`.id` / `numbers`) accept ids (`*1A`) or names, comma
    /// separated.
    pub(crate) fn apply(
        &mut self,
        path: &str,
        command: &str,
        attrs: &[(String, String)],
    ) -> Result<Option<String>, SimTrap> {
        let Some(spec) = spec(path) else {
            return Err(SimTrap::no_such_prefix());
        };
        match (command, spec.kind) {
            ("add", Kind::List) => self.add(spec, attrs).map(Some),
            ("set", Kind::Settings) => {
                self.set_settings(spec, attrs);
                Ok(None)
            }
            ("set", Kind::List | Kind::Fixed) => self.set(spec, attrs).map(|()| None),
            ("unset", Kind::List | Kind::Fixed) => self.unset(spec, attrs).map(|()| None),
            ("enable" | "disable", Kind::List | Kind::Fixed) => {
                let value = if command == "disable" { "true" } else { "false" };
                let mut with_flag: Vec<(String, String)> =
                    attrs.iter().filter(|(k, _)| k == ".id" || k == "numbers").cloned().collect();
                with_flag.push(("disabled".into(), value.into()));
                self.set(spec, &with_flag).map(|()| None)
            }
            ("remove", Kind::List | Kind::Active) => self.remove(spec, attrs).map(|()| None),
            ("remove", Kind::Fixed) => Err(SimTrap::new(None, "failure: can not remove a built-in item")),
            _ => Err(SimTrap::no_such_command(command)),
        }
    }

    fn names_in(&self, menus: &[&str]) -> Vec<&str> {
        let mut names = Vec::new();
        for path in menus {
            if let Some(menu) = self.menus.get(*path) {
                names.extend(menu.entries.iter().filter_map(|e| e.attrs.get("name").map(String::as_str)));
            }
        }
        names
    }

    fn check_refs(&self, spec: &Spec, attrs: &Attrs) -> Result<(), SimTrap> {
        for (key, menus, extra) in spec.refs {
            let Some(value) = attrs.get(*key) else { continue };
            if extra.contains(&value.as_str()) {
                continue;
            }
            if !self.names_in(menus).contains(&value.as_str()) {
                return Err(SimTrap::new(Some(1), format!("input does not match any value of {key}")));
            }
        }
        Ok(())
    }

    fn check_unique(&self, spec: &Spec, attrs: &Attrs, except_id: Option<&str>) -> Result<(), SimTrap> {
        let Some(menu) = self.menus.get(spec.path) else { return Ok(()) };
        if let Some(key) = spec.unique
            && let Some(value) = attrs.get(key)
            && menu.entries.iter().any(|e| Some(e.id.as_str()) != except_id && e.attrs.get(key) == Some(value))
        {
            let message = if spec.path.starts_with("/interface/") && key == "name" {
                "failure: already have interface with such name".to_owned()
            } else {
                format!("failure: already have such {}", if key == "name" { "entry" } else { key })
            };
            return Err(SimTrap::new(None, message));
        }
        if spec.path == "/ip/address"
            && menu.entries.iter().any(|e| {
                Some(e.id.as_str()) != except_id
                    && e.attrs.get("address") == attrs.get("address")
                    && e.attrs.get("interface") == attrs.get("interface")
            })
        {
            return Err(SimTrap::new(None, "failure: already have such address"));
        }
        Ok(())
    }

    fn add(&mut self, spec: &'static Spec, attrs: &[(String, String)]) -> Result<String, SimTrap> {
        let mut map: Attrs = spec.defaults.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        if spec.path == "/ip/dhcp-server" && self.version.0 < 7 {
            map.insert("disabled".into(), "true".into());
        } else if spec.path == "/ip/dhcp-server" {
            map.insert("disabled".into(), "false".into());
        }
        if spec.path == "/radius" && self.version >= (7, 15, 0) {
            map.insert("require-message-auth".into(), "yes-for-request-resp".into());
        }
        for (key, value) in attrs {
            if READ_ONLY_KEYS.contains(&key.as_str()) || key == "place-before" || key == "copy-from" {
                continue;
            }
            map.insert(key.clone(), normalise(key, value));
        }
        for key in spec.required {
            if map.get(*key).is_none_or(|v| v.is_empty()) {
                return Err(SimTrap::new(Some(1), format!("failure: missing {key}")));
            }
        }
        if let Some(prefix) = spec.auto_name
            && !map.contains_key("name")
        {
            let taken = self.names_in(&[spec.path]).into_iter().map(str::to_owned).collect::<Vec<_>>();
            let name = (1..).map(|n| format!("{prefix}{n}")).find(|n| !taken.contains(n)).unwrap_or_default();
            map.insert("name".into(), name);
        }
        derive(spec.path, &mut map)?;
        self.check_unique(spec, &map, None)?;
        self.check_refs(spec, &map)?;
        let Some(menu) = self.menus.get_mut(spec.path) else { return Err(SimTrap::no_such_prefix()) };
        let id = format!("*{:X}", menu.next_id);
        menu.next_id += 1;
        menu.entries.push(Entry { id: id.clone(), attrs: map, started: None });
        Ok(id)
    }

    /// Resolve `.id` / `numbers` to entry indexes.
    fn select(&self, spec: &Spec, attrs: &[(String, String)]) -> Result<Vec<usize>, SimTrap> {
        let selector = attrs.iter().find(|(k, _)| k == ".id" || k == "numbers").map(|(_, v)| v.as_str());
        let Some(selector) = selector else {
            return Err(SimTrap::new(Some(1), "missing =.id= (item to act on)"));
        };
        let Some(menu) = self.menus.get(spec.path) else { return Err(SimTrap::no_such_prefix()) };
        let mut found = Vec::new();
        for token in selector.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let index = menu.entries.iter().position(|e| {
                if token.starts_with('*') {
                    e.id.eq_ignore_ascii_case(token)
                } else {
                    e.attrs.get("name").is_some_and(|n| n == token)
                }
            });
            match index {
                Some(i) if !found.contains(&i) => found.push(i),
                Some(_) => {}
                None => return Err(SimTrap::no_such_item()),
            }
        }
        if found.is_empty() {
            return Err(SimTrap::no_such_item());
        }
        Ok(found)
    }

    fn set(&mut self, spec: &'static Spec, attrs: &[(String, String)]) -> Result<(), SimTrap> {
        let indexes = self.select(spec, attrs)?;
        let changes: Vec<(String, String)> = attrs
            .iter()
            .filter(|(k, _)| !READ_ONLY_KEYS.contains(&k.as_str()) && k != "place-before")
            .map(|(k, v)| (k.clone(), normalise(k, v)))
            .collect();
        let mut updated = Vec::new();
        for &i in &indexes {
            let Some(entry) = self.menus.get(spec.path).and_then(|m| m.entries.get(i)) else { continue };
            let mut map = entry.attrs.clone();
            for (k, v) in &changes {
                map.insert(k.clone(), v.clone());
            }
            derive(spec.path, &mut map)?;
            self.check_unique(spec, &map, Some(&entry.id))?;
            self.check_refs(spec, &map)?;
            updated.push((i, map));
        }
        if let Some(menu) = self.menus.get_mut(spec.path) {
            for (i, map) in updated {
                if let Some(entry) = menu.entries.get_mut(i) {
                    entry.attrs = map;
                }
            }
        }
        Ok(())
    }

    fn unset(&mut self, spec: &'static Spec, attrs: &[(String, String)]) -> Result<(), SimTrap> {
        let indexes = self.select(spec, attrs)?;
        let Some((_, names)) = attrs.iter().find(|(k, _)| k == "value-name") else {
            return Err(SimTrap::new(Some(1), "failure: missing value-name"));
        };
        let names: Vec<&str> = names.split(',').collect();
        if let Some(menu) = self.menus.get_mut(spec.path) {
            for i in indexes {
                if let Some(entry) = menu.entries.get_mut(i) {
                    entry.attrs.retain(|k, _| !names.contains(&k.as_str()));
                }
            }
        }
        Ok(())
    }

    fn set_settings(&mut self, spec: &'static Spec, attrs: &[(String, String)]) {
        let Some(menu) = self.menus.get_mut(spec.path) else { return };
        if menu.entries.is_empty() {
            menu.entries.push(Entry { id: String::new(), attrs: Attrs::new(), started: None });
        }
        for entry in &mut menu.entries {
            for (k, v) in attrs {
                if k != ".id" && k != "numbers" {
                    entry.attrs.insert(k.clone(), normalise(k, v));
                }
            }
        }
    }

    fn remove(&mut self, spec: &'static Spec, attrs: &[(String, String)]) -> Result<(), SimTrap> {
        let mut indexes = self.select(spec, attrs)?;
        indexes.sort_unstable();
        if let Some(menu) = self.menus.get_mut(spec.path) {
            for i in indexes.into_iter().rev() {
                menu.entries.remove(i);
            }
        }
        Ok(())
    }

    /// Exact-match lookup used by scripts (`[find name=x]`): ids of the entries whose properties equal all
    /// of `filter`.
    pub(crate) fn find(&self, path: &str, filter: &[(String, String)]) -> Vec<String> {
        let Some(menu) = self.menus.get(path) else { return Vec::new() };
        menu.entries
            .iter()
            .filter(|e| filter.iter().all(|(k, v)| e.attrs.get(k).is_some_and(|a| *a == normalise(k, v))))
            .map(|e| e.id.clone())
            .collect()
    }
}

fn file_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("rsc") => "script",
        Some("html") => ".html file",
        Some("js") => ".js file",
        Some("txt") => ".txt file",
        _ => "file",
    }
}

/// Properties RouterOS computes from others; validation of the cheap kind.
fn derive(path: &str, map: &mut Attrs) -> Result<(), SimTrap> {
    match path {
        "/ip/address" => {
            let Some(address) = map.get("address") else { return Ok(()) };
            let (ip, prefix) = match address.split_once('/') {
                Some((ip, len)) => (ip, len.parse::<u8>().ok().filter(|l| *l <= 32)),
                None => (address.as_str(), Some(32)),
            };
            let (Ok(ip), Some(prefix)) = (ip.parse::<Ipv4Addr>(), prefix) else {
                return Err(SimTrap::new(Some(1), "invalid value for argument address"));
            };
            let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
            let network = Ipv4Addr::from(u32::from(ip) & mask);
            map.insert("network".into(), network.to_string());
            if let Some(interface) = map.get("interface").cloned() {
                map.insert("actual-interface".into(), interface);
            }
        }
        "/file" => {
            let name = map.get("name").cloned().unwrap_or_default();
            let size = map.get("contents").map_or(0, String::len);
            map.entry("type".into()).or_insert_with(|| file_type(&name).to_owned());
            map.insert("size".into(), size.to_string());
        }
        _ => {}
    }
    Ok(())
}

/// RouterOS 7 style uptime: `1w2d3h4m5s`, largest non-zero unit first.
pub(crate) fn format_uptime(mut secs: u64) -> String {
    let mut out = String::new();
    for (unit, size) in [("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)] {
        if secs >= size || !out.is_empty() {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out.push_str(&format!("{secs}s"));
    out
}

fn compare(actual: &str, wanted: &str) -> std::cmp::Ordering {
    match (actual.parse::<i128>(), wanted.parse::<i128>()) {
        (Ok(a), Ok(b)) => a.cmp(&b),
        _ => actual.cmp(wanted),
    }
}

/// Evaluate API query words (without their `?`) against a row, using RouterOS's stack rules: each word
/// pushes a boolean, `#` words combine them (`!` not, `&` and, `|` or, `.` duplicate top, digits copy the
/// value at that depth from the top), an empty stack reads as `true`, and the row matches when no `false`
/// is left.
pub(crate) fn query_matches(queries: &[String], row: &Attrs) -> Result<bool, SimTrap> {
    let mut stack: Vec<bool> = Vec::new();
    let bad = |q: &str| SimTrap::new(Some(5), format!("unknown query operation in ?{q}"));
    for query in queries {
        if let Some(ops) = query.strip_prefix('#') {
            let mut chars = ops.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '!' => {
                        let v = stack.pop().unwrap_or(true);
                        stack.push(!v);
                    }
                    '&' | '|' => {
                        let a = stack.pop().unwrap_or(true);
                        let b = stack.pop().unwrap_or(true);
                        stack.push(if c == '&' { a && b } else { a || b });
                    }
                    '.' => {
                        let v = stack.last().copied().unwrap_or(true);
                        stack.push(v);
                    }
                    d if d.is_ascii_digit() => {
                        let mut n = d.to_digit(10).unwrap_or(0) as usize;
                        while let Some(next) = chars.peek().and_then(|c| c.to_digit(10)) {
                            n = n.saturating_mul(10).saturating_add(next as usize);
                            chars.next();
                        }
                        let v = stack.len().checked_sub(n + 1).and_then(|i| stack.get(i)).copied().unwrap_or(true);
                        stack.push(v);
                    }
                    _ => return Err(bad(query)),
                }
            }
        } else if let Some(name) = query.strip_prefix('-') {
            stack.push(!row.contains_key(name));
        } else if let Some(rest) = query.strip_prefix('<').or_else(|| query.strip_prefix('>')) {
            let Some((name, value)) = rest.split_once('=') else { return Err(bad(query)) };
            let wanted = if query.starts_with('<') { std::cmp::Ordering::Less } else { std::cmp::Ordering::Greater };
            stack.push(row.get(name).is_some_and(|a| compare(a, value) == wanted));
        } else {
            let body = query.strip_prefix('=').unwrap_or(query);
            match body.split_once('=') {
                Some((name, value)) => {
                    let value = normalise(name, value);
                    stack.push(row.get(name).is_some_and(|a| *a == value));
                }
                None => stack.push(row.contains_key(body)),
            }
        }
    }
    Ok(stack.iter().all(|v| *v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, &str)]) -> Attrs {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn q(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn query_stack_rules() {
        let ether = row(&[("type", "ether"), ("name", "ether1"), ("mtu", "1500")]);
        let vlan = row(&[("type", "vlan"), ("name", "v10"), ("comment", "x")]);
        let either = q(&["type=ether", "type=vlan", "#|"]);
        assert!(query_matches(&either, &ether).unwrap());
        assert!(query_matches(&either, &vlan).unwrap());
        assert!(!query_matches(&q(&["type=ether", "type=vlan"]), &ether).unwrap());
        assert!(query_matches(&q(&["=name=ether1"]), &ether).unwrap());
        assert!(query_matches(&q(&["comment"]), &vlan).unwrap());
        assert!(!query_matches(&q(&["comment"]), &ether).unwrap());
        assert!(query_matches(&q(&["-comment"]), &ether).unwrap());
        assert!(query_matches(&q(&[">comment="]), &vlan).unwrap());
        assert!(query_matches(&q(&["<mtu=1501"]), &ether).unwrap());
        assert!(!query_matches(&q(&[">mtu=1500"]), &ether).unwrap());
        assert!(query_matches(&q(&["name=ether1", "#!", "#!"]), &ether).unwrap());
        assert!(!query_matches(&q(&["name=ether1", "#!"]), &ether).unwrap());
        assert!(query_matches(&q(&[]), &ether).unwrap());
        assert!(query_matches(&q(&["#&|!"]), &ether).is_ok());
        assert!(query_matches(&q(&["#x"]), &ether).is_err());
    }

    #[test]
    fn uptime_format() {
        assert_eq!(format_uptime(5), "5s");
        assert_eq!(format_uptime(3725), "1h2m5s");
        assert_eq!(format_uptime(694_861), "1w1d1h1m1s");
        assert_eq!(format_uptime(86_400), "1d0h0m0s");
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("7.16.2"), (7, 16, 2));
        assert_eq!(parse_version("7.18 (stable)"), (7, 18, 0));
        assert_eq!(parse_version("6.49.17"), (6, 49, 17));
    }
}
