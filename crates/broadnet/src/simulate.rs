//! `broadnet simulate mpesa|airtel|sms`: a provider simulator as its own server.

use broadnet_app::gateway::{SIM_AIRTEL, SIM_MPESA, SIM_SMS};
use broadnet_providers::sim;
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
        other => anyhow::bail!("unknown simulator {other:?}: use mpesa, airtel or sms"),
    };
    tracing::info!(%url, provider, "simulator running; Ctrl-C stops it");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
