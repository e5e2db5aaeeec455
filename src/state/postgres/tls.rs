//! TLS for the PostgreSQL state, on rustls, as the URL's `sslmode` says (libpq's meanings):
//!
//! | sslmode | TLS | the server's certificate |
//! | --- | --- | --- |
//! | `disable` | never | — |
//! | `prefer` (default) | when the server offers it | not verified |
//! | `require` | always | not verified, unless `sslrootcert` names a CA: then as `verify-ca` |
//! | `verify-ca` | always | chains to a trusted CA |
//! | `verify-full` | always | chains to a trusted CA and names the host |
//!
//! Trusted CAs are the Mozilla roots (webpki-roots, as for the Heroku API) plus the PEM file
//! `sslrootcert` names. Unverified modes still check the handshake's signatures: they give
//! privacy on the wire against a passive listener, as libpq's do, not against an active one.

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::state::{DatabaseUrl, SslMode, StateError};

/// The connector for `url`'s connections.
pub(super) fn connector(url: &DatabaseUrl) -> Result<MakeRustlsConnect, StateError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let root_cert = url.root_cert();
    let check = match (url.ssl_mode(), root_cert) {
        (SslMode::VerifyFull, _) => Check::ChainAndName,
        (SslMode::VerifyCa, _) | (SslMode::Require, Some(_)) => Check::Chain,
        (SslMode::Disable | SslMode::Prefer | SslMode::Require, _) => Check::Nothing,
    };
    let chain = match check {
        Check::Nothing => None,
        Check::Chain | Check::ChainAndName => {
            let mut roots = RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            if let Some(path) = root_cert {
                add_pem(&mut roots, path)?;
            }
            let verifier =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .expect("the Mozilla roots are never empty");
            Some(verifier)
        }
    };
    let verifier = Arc::new(Verifier {
        chain,
        check_name: check == Check::ChainAndName,
        algorithms: provider.signature_verification_algorithms,
    });
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// What of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Nothing,
    Chain,
    ChainAndName,
}

/// Adds the certificates of the PEM file at `path` to `roots`.
fn add_pem(roots: &mut RootCertStore, path: &Path) -> Result<(), StateError> {
    let fail = |source| StateError::RootCert {
        path: path.to_owned(),
        source,
    };
    let mut added = 0;
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| fail(pem_io(e)))? {
        let cert = cert.map_err(|e| fail(pem_io(e)))?;
        roots
            .add(cert)
            .map_err(|e| fail(std::io::Error::other(e)))?;
        added += 1;
    }
    if added == 0 {
        return Err(fail(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "no PEM certificate in it",
        )));
    }
    Ok(())
}

fn pem_io(err: rustls::pki_types::pem::Error) -> std::io::Error {
    match err {
        rustls::pki_types::pem::Error::Io(io) => io,
        other => std::io::Error::new(std::io::ErrorKind::InvalidData, other.to_string()),
    }
}

/// Checks the server's certificate as far as the mode asks: not at all (`chain` None), its
/// chain to a trusted CA, or that and the name; the handshake's signatures always.
#[derive(Debug)]
struct Verifier {
    chain: Option<Arc<WebPkiServerVerifier>>,
    check_name: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
