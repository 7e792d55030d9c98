//! The simulated router's API-SSL (8729) certificate and server configuration.
//! Test only: the private key is in this crate's source, so nothing real may trust it.

use std::sync::Arc;

use broadnet_routeros::tls::provider;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

/// The simulator's built-in self-signed certificate (DER), valid for `localhost`, `127.0.0.1`, `::1` and
/// `routeros-sim.invalid` until 2126. **Test only** — its private key is in this crate's source.
pub const SIM_CERT_DER: &[u8] = include_bytes!("sim-cert.der");
const SIM_KEY_PKCS8_DER: &[u8] = include_bytes!("sim-key.pk8.der");

/// Server configuration for the simulator's API-SSL listener.
pub(crate) fn server_config() -> Result<Arc<ServerConfig>, rustls::Error> {
    let cert = CertificateDer::from(SIM_CERT_DER.to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(SIM_KEY_PKCS8_DER.to_vec()));
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)?;
    Ok(Arc::new(config))
}
