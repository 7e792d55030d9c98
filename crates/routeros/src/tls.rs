//! TLS for API-SSL (port 8729): rustls with the *ring* provider.
//!
//! Routers usually present a self-signed certificate (or none at all — then RouterOS offers only anonymous
//! DH, which rustls refuses; install a certificate on the `api-ssl` service). A router configured with
//! `accept_invalid` is checked with [`AcceptAnyCertificate`]: the handshake signature is still verified
//! against the presented certificate, but the certificate itself (issuer, name, dates) is not.

use std::sync::{Arc, OnceLock};

use tokio_rustls::rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use tokio_rustls::rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{self, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::RosError;

/// The *ring* crypto provider of every RouterOS TLS connection (client here, server in the simulator).
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider())).clone()
}

/// Accepts any server certificate (for routers with self-signed certificates, when the admin opted in).
#[derive(Debug)]
pub struct AcceptAnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl AcceptAnyCertificate {
    /// A verifier using the *ring* provider's signature algorithms.
    pub fn new() -> Self {
        AcceptAnyCertificate { provider: provider() }
    }
}

impl Default for AcceptAnyCertificate {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

fn build_client_config(accept_invalid: bool) -> Result<Arc<ClientConfig>, RosError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| RosError::Io(format!("TLS setup failed: {e}")))?;
    let config = if accept_invalid {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate::new()))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// The client configuration: verifying against the webpki (Mozilla) roots, or accepting any certificate.
pub fn client_config(accept_invalid: bool) -> Result<Arc<ClientConfig>, RosError> {
    static STRICT: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    static LAX: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    let cell = if accept_invalid { &LAX } else { &STRICT };
    if let Some(config) = cell.get() {
        return Ok(config.clone());
    }
    let config = build_client_config(accept_invalid)?;
    Ok(cell.get_or_init(|| config).clone())
}
