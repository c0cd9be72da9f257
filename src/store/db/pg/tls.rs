//! TLS to PostgreSQL: libpq's `sslmode` and `sslrootcert` URL parameters, and the connector
//! tokio-postgres speaks TLS through: tokio-rustls with the ring provider, the project's one
//! TLS provider.
//!
//! Why our own connector rather than `tokio-postgres-rustls`: that crate adds a second `sha2`
//! major and `x509-cert` for SCRAM channel binding, and verifies with whatever the caller's
//! `ClientConfig` does anyway. This one is ~100 lines over crates already in the graph; the
//! cost is no channel binding (`tls-server-end-point`), which tokio-postgres treats as
//! optional (`channel_binding=prefer`): SCRAM still authenticates, and the certificate check of
//! `verify-full` is what stops a man in the middle.
//!
//! `sslmode`, as libpq documents it (https://www.postgresql.org/docs/15/libpq-ssl.html, table
//! 34.1), default `prefer`:
//! - `disable`: no TLS.
//! - `prefer`: TLS when the server offers it, plain otherwise; the certificate is not checked.
//! - `require`: TLS or no connection; the certificate is not checked (encryption against a
//!   passive listener only).
//! - `verify-ca`: TLS, and the certificate must chain to a CA of `sslrootcert` (required here,
//!   as libpq requires its root file); the host name is not compared.
//! - `verify-full`: TLS, a chain to a trusted CA and the host name in the certificate. The CAs
//!   are those of `sslrootcert=<PEM file>` when given, else the operating system's trust store
//!   (rustls-platform-verifier, as the HTTP client does; `sslrootcert=system` says so
//!   explicitly, as in libpq 16). Use this against a managed PostgreSQL.
//!
//! `allow` (plain first, TLS only if the server insists) is refused: it is never what a
//! service that sends a password wants, and tokio-postgres cannot do it.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// libpq's `sslmode` values this client implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// The TLS parameters taken off the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TlsSettings {
    pub mode: SslMode,
    /// `sslrootcert`: a PEM file of trusted CAs; `None` for the system's trust store.
    pub root_cert: Option<PathBuf>,
}

/// `url` without `sslmode` and `sslrootcert` (tokio-postgres knows neither `verify-*` nor
/// `sslrootcert`), and those settings. Errors name the parameter, never the URL.
pub(super) fn split_url(url: &str) -> Result<(String, TlsSettings), String> {
    let mut settings = TlsSettings {
        mode: SslMode::Prefer,
        root_cert: None,
    };
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), settings));
    };
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => settings.mode = parse_mode(&percent_decode(value)?)?,
            "sslrootcert" => {
                let value = percent_decode(value)?;
                settings.root_cert = (value != "system").then(|| PathBuf::from(value));
            }
            _ => kept.push(pair),
        }
    }
    if settings.mode == SslMode::VerifyCa && settings.root_cert.is_none() {
        return Err(
            "sslmode=verify-ca needs sslrootcert=<PEM file of the CA>: without a CA \
                    of its own, use sslmode=verify-full (the system's trust store)"
                .to_owned(),
        );
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, settings))
}

fn parse_mode(value: &str) -> Result<SslMode, String> {
    Ok(match value {
        "disable" => SslMode::Disable,
        "prefer" => SslMode::Prefer,
        "require" => SslMode::Require,
        "verify-ca" => SslMode::VerifyCa,
        "verify-full" => SslMode::VerifyFull,
        "allow" => {
            return Err(
                "sslmode=allow is not supported: use prefer, require or verify-full".to_owned(),
            );
        }
        other => {
            return Err(format!(
                "sslmode={other:?} is not one of disable, prefer, require, verify-ca, verify-full"
            ));
        }
    })
}

fn percent_decode(value: &str) -> Result<String, String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(hex.ok_or("a TLS parameter of the URL has a bad %-escape")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "a TLS parameter of the URL is not UTF-8".to_owned())
}

/// What tokio-postgres is told (its own `sslmode`) and the connector for `settings`.
pub(super) fn connector(
    settings: &TlsSettings,
) -> Result<(postgres::config::SslMode, MakeRustls), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let algorithms = provider.signature_verification_algorithms;
    let verifier: Arc<dyn ServerCertVerifier> = match (settings.mode, &settings.root_cert) {
        (SslMode::Disable | SslMode::Prefer | SslMode::Require, _) => Arc::new(Lenient {
            chain: None,
            algorithms,
        }),
        (SslMode::VerifyCa, Some(file)) => Arc::new(Lenient {
            chain: Some(webpki(file, &provider)?),
            algorithms,
        }),
        (SslMode::VerifyFull, Some(file)) => webpki(file, &provider)?,
        (SslMode::VerifyFull | SslMode::VerifyCa, None) => Arc::new(
            rustls_platform_verifier::Verifier::new(provider.clone())
                .map_err(|e| format!("cannot load the system's trust store: {e}"))?,
        ),
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    let mode = match settings.mode {
        SslMode::Disable => postgres::config::SslMode::Disable,
        SslMode::Prefer => postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            postgres::config::SslMode::Require
        }
    };
    Ok((
        mode,
        MakeRustls {
            config: Arc::new(config),
        },
    ))
}

/// A verifier trusting only the CAs of `file`.
fn webpki(
    file: &std::path::Path,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, String> {
    use rustls::pki_types::pem::PemObject;
    let shown = file.display();
    let pem = std::fs::read(file).map_err(|e| format!("cannot read sslrootcert {shown}: {e}"))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| format!("sslrootcert {shown} is not valid PEM: {e:?}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("bad certificate in sslrootcert {shown}: {e}"))?;
    }
    if roots.is_empty() {
        return Err(format!(
            "sslrootcert {shown} holds no certificate (expected `-----BEGIN CERTIFICATE-----`)"
        ));
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("sslrootcert {shown}: {e}"))
}

/// The certificate check below `verify-full`. `chain: None` (`prefer`, `require`): any
/// certificate, as libpq does. `Some` (`verify-ca`): the chain must reach a trusted CA, and a
/// name mismatch alone is accepted. Either way the handshake's signatures are checked, so the
/// session keys belong to whoever holds the certificate's key.
#[derive(Debug)]
struct Lenient {
    chain: Option<Arc<WebPkiServerVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        use rustls::{CertificateError, Error};
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        // rustls checks the chain before the name, so a name error means the chain passed.
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
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

/// tokio-postgres' TLS factory: one handshake per connection, for the host it dials.
#[derive(Clone)]
pub(super) struct MakeRustls {
    config: Arc<ClientConfig>,
}

impl<S> MakeTlsConnect<S> for MakeRustls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> io::Result<RustlsConnect> {
        // tokio-postgres passes "" for a Unix socket, where it never starts TLS.
        let name = ServerName::try_from(domain.to_owned()).ok();
        Ok(RustlsConnect {
            config: self.config.clone(),
            name,
        })
    }
}

pub(super) struct RustlsConnect {
    config: Arc<ClientConfig>,
    name: Option<ServerName<'static>>,
}

type Handshake<S> = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Handshake<S>;

    fn connect(self, stream: S) -> Handshake<S> {
        Box::pin(async move {
            let name = self.name.ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "no host name to check the certificate against",
                )
            })?;
            let stream = tokio_rustls::TlsConnector::from(self.config)
                .connect(name, stream)
                .await?;
            Ok(RustlsStream(stream))
        })
    }
}

pub(super) struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        // See the module docs: SCRAM without channel binding.
        ChannelBinding::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_come_off_the_url() {
        let (url, s) =
            split_url("postgres://u:p@db:5432/x?sslmode=verify-full&application_name=a").unwrap();
        assert_eq!(url, "postgres://u:p@db:5432/x?application_name=a");
        assert_eq!((s.mode, s.root_cert), (SslMode::VerifyFull, None));

        let (url, s) =
            split_url("postgres://db/x?sslrootcert=%2Fetc%2Fca.pem&sslmode=verify-ca").unwrap();
        assert_eq!(url, "postgres://db/x");
        assert_eq!(s.root_cert, Some(PathBuf::from("/etc/ca.pem")));

        let (_, s) = split_url("postgres://db/x").unwrap();
        assert_eq!(s.mode, SslMode::Prefer, "libpq's default");
        let (_, s) = split_url("postgres://db/x?sslmode=verify-full&sslrootcert=system").unwrap();
        assert_eq!(s.root_cert, None);
    }

    #[test]
    fn bad_tls_parameters_are_named_without_the_url() {
        let secret = "postgres://u:hunter2@db/x";
        for (query, words) in [
            ("?sslmode=allow", "sslmode=allow is not supported"),
            ("?sslmode=verify", "not one of disable"),
            ("?sslmode=verify-ca", "needs sslrootcert"),
            ("?sslrootcert=%zz", "bad %-escape"),
        ] {
            let err = split_url(&format!("{secret}{query}")).unwrap_err();
            assert!(err.contains(words), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
        let missing = TlsSettings {
            mode: SslMode::VerifyFull,
            root_cert: Some(PathBuf::from("/nonexistent/ca.pem")),
        };
        let err = connector(&missing).err().unwrap();
        assert!(
            err.contains("cannot read sslrootcert /nonexistent/ca.pem"),
            "{err}"
        );
    }
}
