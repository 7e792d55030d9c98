//! `broadnet simulate mpesa|airtel|sms`: a provider simulator as its own server.

use broadnet_app::gateway::{SIM_AIRTEL, SIM_MPESA, SIM_SMS};
use broadnet_sim as sim;
use std::net::SocketAddr;

pub async fn run(provider: &str, listen: SocketAddr, callback_url: Option<String>) -> anyhow::Result<()> {
    let url = match provider {
        "mpesa" => {
            let s = sim::mpesa::MpesaSim::new(
                SIM_MPESA.consumer_key,
                SIM_MPESA.consumer_secret,
                SIM_MPESA.shortcode,
                SIM_MPESA.passkey,
            );
            let url = s.spawn(listen).await?;
            println!("M-Pesa Daraja simulator at {url}");
            println!("  consumer key {}, secret {}", SIM_MPESA.consumer_key, SIM_MPESA.consumer_secret);
            println!("  shortcode {}, passkey {}", SIM_MPESA.shortcode, SIM_MPESA.passkey);
            println!("  outcome: POST {url}/simulator/behaviour, a C2B payment: POST {url}/simulator/c2b");
            url
        }
        "airtel" => {
            let s = sim::airtel::AirtelSim::new(SIM_AIRTEL.client_id, SIM_AIRTEL.client_secret, callback_url, None);
            let url = s.spawn(listen).await?;
            println!("Airtel Money simulator at {url}");
            println!("  client id {}, secret {}", SIM_AIRTEL.client_id, SIM_AIRTEL.client_secret);
            println!("  callback URL: POST {url}/simulator/callback-url, outcome: POST {url}/simulator/behaviour");
            url
        }
        "sms" => {
            let s = sim::sms::SmsSim::new(SIM_SMS.username, SIM_SMS.api_key);
            let url = s.spawn(listen).await?;
            println!("Africa's Talking SMS simulator at {url}");
            println!("  username {}, API key {}", SIM_SMS.username, SIM_SMS.api_key);
            url
        }
        "mikrotik" => {
            use broadnet_sim::routeros::{RouterSim, SimConfig};
            let s = RouterSim::new(SimConfig {
                identity: "BroadNet-Sim".into(),
                users: vec![("admin".into(), String::new(), "full".into())],
                ..Default::default()
            });
            let addr = s.spawn(listen).await?;
            println!("RouterOS simulator: API on {addr} (user admin, empty password)");
            println!("  Paste the wizard's command into its terminal (lines on standard input);");
            println!("  point the router's API port at {} in the wizard.", addr.port());
            let sim = s.clone();
            let handle = tokio::runtime::Handle::current();
            std::thread::spawn(move || {
                let prompt = || {
                    print!("[admin@BroadNet-Sim] > ");
                    let _ = std::io::Write::flush(&mut std::io::stdout());
                };
                prompt();
                for line in std::io::stdin().lines().map_while(Result::ok) {
                    match handle.block_on(sim.terminal(&line)) {
                        Ok(out) => print!("{out}"),
                        Err(e) => println!("{e}"),
                    }
                    prompt();
                }
            });
            format!("tcp://{addr}")
        }
        other => anyhow::bail!("unknown simulator {other:?}: use mpesa, airtel, sms or mikrotik"),
    };
    tracing::info!(%url, provider, "simulator running; Ctrl-C stops it");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
