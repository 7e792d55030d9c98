#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Third-party proof: Python's `librouteros` (a widely used RouterOS API client) against the simulator.
//!
//! Needs `python3` with `librouteros` (`python3 -m pip install librouteros`). Missing it is a failure, not
//! a skip.

use std::process::Command;

use broadnet_sim::routeros::{RouterSim, SimConfig};

const SCRIPT: &str = r#"
import sys
import librouteros
from librouteros import connect
from librouteros.login import plain, token
from librouteros.exceptions import TrapError, FatalError
from librouteros.query import Key

port, port_empty, port_legacy = (int(p) for p in sys.argv[1:4])
HOST = "127.0.0.1"

# plain (6.43+) login, the librouteros default
api = connect(HOST, "admin", "s3cret", port=port, login_method=plain, timeout=5)
identity = tuple(api.path("system", "identity"))
assert identity == ({"name": "sim-gw"},), identity
print("identity", identity[0]["name"])

resource = tuple(api.path("system", "resource"))[0]
assert resource["board-name"] == "hEX", resource
assert str(resource["version"]).startswith("7.16.2"), resource

# add, query with .proplist and ?=, set, print
addresses = api.path("ip", "address")
new_id = addresses.add(address="10.5.50.1/24", interface="ether2")
assert new_id.startswith("*"), new_id
rows = tuple(addresses.select(Key(".id"), Key("address"), Key("interface")).where(Key("interface") == "ether2"))
assert rows == ({".id": new_id, "address": "10.5.50.1/24", "interface": "ether2"},), rows
addresses.update(**{".id": new_id, "comment": "from-librouteros"})
assert [r["comment"] for r in addresses if r[".id"] == new_id] == ["from-librouteros"]
assert [r["disabled"] for r in addresses] == [False]
print("added", new_id)

# traps: unknown command path, unknown item, validation failure
try:
    tuple(api("/nonexistent/command"))
    raise SystemExit("expected TrapError for an unknown command")
except TrapError as e:
    assert e.message == "no such command prefix", e.message
    assert e.category == 0, e.category
    print("trap", e.message)
try:
    addresses.update(**{".id": "*999", "comment": "x"})
    raise SystemExit("expected TrapError for an unknown id")
except TrapError as e:
    assert e.message == "no such item", e.message
try:
    addresses.add(interface="ether2")
    raise SystemExit("expected TrapError for a missing address")
except TrapError as e:
    assert e.message == "failure: missing address", e.message

# empty results on a 7.16 router (bare !done)
assert tuple(api.path("ip", "hotspot", "active")) == ()

# remove
addresses.remove(new_id)
assert tuple(addresses) == ()
api.close()

# a 7.18+ router answers empty prints with !empty before !done
api = connect(HOST, "admin", "s3cret", port=port_empty, login_method=plain, timeout=5)
assert tuple(api.path("ip", "firewall", "nat")) == ()
assert tuple(api.path("ppp", "active")) == ()
assert len(tuple(api.path("interface", "ethernet"))) == 5
print("empty ok")
try:
    tuple(api("/quit"))
    raise SystemExit("expected FatalError")
except FatalError as e:
    assert "session terminated on request" in str(e), e

# wrong password
try:
    connect(HOST, "admin", "wrong", port=port, login_method=plain, timeout=5)
    raise SystemExit("expected TrapError for a wrong password")
except TrapError as e:
    assert "invalid user name or password" in e.message, e.message

# pre-6.43 challenge login
api = connect(HOST, "admin", "s3cret", port=port_legacy, login_method=token, timeout=5)
assert tuple(api.path("system", "identity"))[0]["name"] == "old-gw"
try:
    connect(HOST, "admin", "wrong", port=port_legacy, login_method=token, timeout=5)
    raise SystemExit("expected TrapError for a wrong legacy password")
except TrapError as e:
    assert e.message == "cannot log in", e.message
print("legacy ok")
print("LIBROUTEROS OK")
"#;

fn require_librouteros() {
    let probe = Command::new("python3").args(["-c", "import librouteros"]).output();
    match probe {
        Err(err) => {
            panic!("python3 is not available ({err}); install Python 3, then run `python3 -m pip install librouteros`")
        }
        Ok(out) if !out.status.success() => panic!(
            "the Python package librouteros is not installed: run `python3 -m pip install librouteros`\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Ok(_) => {}
    }
}

fn config(identity: &str, version: &str) -> SimConfig {
    SimConfig {
        identity: identity.into(),
        version: version.into(),
        board: "hEX".into(),
        users: vec![("admin".into(), "s3cret".into(), "full".into())],
        legacy_login: false,
        ..SimConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librouteros_works_against_the_simulator() {
    require_librouteros();

    let sim = RouterSim::new(config("sim-gw", "7.16.2"));
    let port = sim.spawn("127.0.0.1:0").await.unwrap().port();
    let sim_empty = RouterSim::new(config("new-gw", "7.19.4"));
    let port_empty = sim_empty.spawn("127.0.0.1:0").await.unwrap().port();
    let sim_legacy = RouterSim::new(SimConfig { legacy_login: true, ..config("old-gw", "6.40.9") });
    let port_legacy = sim_legacy.spawn("127.0.0.1:0").await.unwrap().port();

    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg("-c")
            .arg(SCRIPT)
            .args([port.to_string(), port_empty.to_string(), port_legacy.to_string()])
            .output()
    })
    .await
    .unwrap()
    .expect("running python3");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "librouteros script failed ({}):\n{stdout}\n{stderr}", output.status);
    for line in ["identity sim-gw", "trap no such command prefix", "empty ok", "legacy ok", "LIBROUTEROS OK"] {
        assert!(stdout.lines().any(|l| l == line), "missing {line:?} in:\n{stdout}");
    }

    // what librouteros sent, as the simulator saw it
    let log = sim.command_log();
    let add = log.iter().find(|w| w[0] == "/ip/address/add").unwrap();
    assert!(add.contains(&"=address=10.5.50.1/24".to_owned()) && add.contains(&"=interface=ether2".to_owned()));
    assert!(log.iter().any(|w| w.contains(&"?=interface=ether2".to_owned())), "librouteros queries with ?=");
    assert!(sim.entries("/ip/address").is_empty(), "the script removed its address again");
    assert!(sim_legacy.command_log().iter().any(|w| w.iter().any(|x| x.starts_with("=response=00"))));
}
