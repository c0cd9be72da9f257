//! SMTP transport: sends a built `lettre::Message` through a relay, over lettre on tokio with
//! rustls (ring provider only), and sorts failures into retry-later and give-up.
//!
//! Owns the connection settings (TLS mode, custom CA file, credentials, EHLO name), the
//! classification of SMTP errors into [`SendError`], and the outbox backoff curve
//! ([`retry_delay`]). Does not own the outbox itself or the message contents.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// Plain text (a relay on localhost or inside a trusted network only).
    None,
    /// Plain connect, then `STARTTLS`, required: a server that does not offer it is an error,
    /// never a silent downgrade.
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

/// Everything needed to reach the relay.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: Option<String>,
    /// Redacted in `Debug`; only handed to lettre's `Credentials`.
    pub password: Option<crate::secret::Secret>,
    /// Bound on one whole exchange (connect, TLS, login, one message). lettre's own timeout
    /// covers only the TCP connect, so a relay that accepts and then stalls would otherwise
    /// hold a send forever.
    pub timeout: Duration,
    /// PEM file with extra root certificates (an internal relay's CA), added to the web PKI roots.
    pub ca_file: Option<PathBuf>,
    /// EHLO name; the machine's host name when `None`.
    pub hello_name: Option<String>,
}

/// Why a send failed, as the outbox needs to know it.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Connect error, timeout, I/O or TLS failure, 4xx reply: retry later.
    #[error("transient: {0}")]
    Transient(String),
    /// 5xx reply (rejected recipient, failed login, ...) or a message this server cannot take:
    /// record it, do not retry.
    #[error("permanent: {0}")]
    Permanent(String),
}

/// Installs rustls' ring provider as the process default (idempotent). lettre falls back to
/// ring on its own, but other rustls users in the process (reqwest is built with
/// `rustls-no-provider`) need a process default, and this makes it ring for all of them.
pub fn ensure_crypto_provider() {
    // Err means a provider is already installed (by us or by another component): fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A configured SMTP client, built once and reused for every message.
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    /// `host:port`, to say where a failure happened.
    endpoint: String,
    tls: TlsMode,
    timeout: Duration,
}

impl fmt::Debug for SmtpSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSender")
            .field("endpoint", &self.endpoint)
            .field("tls", &self.tls)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SmtpSender {
    /// Builds the transport. Reads `ca_file` here, so a missing or empty CA file is reported at
    /// startup (and by `check`), not at the first license email.
    pub fn new(settings: &SmtpSettings) -> anyhow::Result<Self> {
        ensure_crypto_provider();
        let host = settings.host.trim();
        if host.is_empty() {
            bail!("smtp host is empty");
        }
        if settings.port == 0 {
            bail!("smtp port 0 is not a valid port");
        }
        if settings.timeout.is_zero() {
            bail!("smtp timeout must be greater than zero");
        }

        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(settings.port)
            .timeout(Some(settings.timeout));

        builder = match settings.tls {
            TlsMode::None => {
                if let Some(ca_file) = &settings.ca_file {
                    bail!(
                        "smtp ca-file {} is set but tls is `none`: set tls to `starttls` or `tls`, or remove ca-file",
                        ca_file.display()
                    );
                }
                builder.tls(Tls::None)
            }
            TlsMode::Starttls => builder.tls(Tls::Required(tls_parameters(host, settings)?)),
            TlsMode::Tls => builder.tls(Tls::Wrapper(tls_parameters(host, settings)?)),
        };

        match (&settings.username, &settings.password) {
            (Some(user), Some(password)) => {
                if settings.tls == TlsMode::None {
                    tracing::warn!(
                        smtp.host = host,
                        "smtp credentials are sent without TLS (tls = none)"
                    );
                }
                builder = builder
                    .credentials(Credentials::new(user.clone(), password.expose().to_owned()));
            }
            (None, None) => {}
            (Some(_), None) => bail!("smtp username is set but the password is missing"),
            (None, Some(_)) => bail!("smtp password is set but the username is missing"),
        }

        if let Some(name) = &settings.hello_name {
            builder = builder.hello_name(ClientId::Domain(validate_hello_name(name)?.to_owned()));
        }

        Ok(Self {
            transport: builder.build(),
            endpoint: format!("{host}:{}", settings.port),
            tls: settings.tls,
            timeout: settings.timeout,
        })
    }

    /// Sends one message to the recipients of its envelope (To and Cc).
    pub async fn send(&self, message: &Message) -> Result<(), SendError> {
        let formatted = message.formatted();
        let sending = self.transport.send_raw(message.envelope(), &formatted);
        match self.within_timeout(sending).await? {
            Ok(_response) => Ok(()),
            Err(err) => Err(classify(&err, &self.endpoint)),
        }
    }

    /// Connects, negotiates TLS, logs in when credentials are set, sends `NOOP` and quits:
    /// proves the settings work without sending mail (`check --online`).
    pub async fn test_connection(&self) -> Result<(), SendError> {
        match self
            .within_timeout(self.transport.test_connection())
            .await?
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(SendError::Transient(format!(
                "{}: the server did not answer NOOP",
                self.endpoint
            ))),
            Err(err) => Err(classify(&err, &self.endpoint)),
        }
    }

    async fn within_timeout<T>(&self, work: impl Future<Output = T>) -> Result<T, SendError> {
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_elapsed| {
                SendError::Transient(format!(
                    "{}: no complete answer within {:?}",
                    self.endpoint, self.timeout
                ))
            })
    }
}

fn tls_parameters(host: &str, settings: &SmtpSettings) -> anyhow::Result<TlsParameters> {
    let mut params = TlsParameters::builder(host.to_owned());
    if let Some(ca_file) = &settings.ca_file {
        for cert in read_ca_file(ca_file)? {
            params = params.add_root_certificate(cert);
        }
    }
    params
        .build_rustls()
        .with_context(|| format!("cannot set up TLS for smtp host {host}"))
}

/// Every certificate of a PEM file; an error when the file holds none, because lettre would
/// otherwise accept it silently and the relay would fail later with an unknown issuer.
fn read_ca_file(path: &Path) -> anyhow::Result<Vec<Certificate>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    let pem = std::fs::read(path)
        .with_context(|| format!("cannot read smtp ca-file {}", path.display()))?;
    let ders = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| anyhow::anyhow!("{err:?}"))
        .with_context(|| format!("smtp ca-file {} is not valid PEM", path.display()))?;
    if ders.is_empty() {
        bail!(
            "smtp ca-file {} contains no certificate (expected PEM blocks `-----BEGIN CERTIFICATE-----`)",
            path.display()
        );
    }
    ders.into_iter()
        .map(|der| {
            Certificate::from_der(der.to_vec())
                .with_context(|| format!("bad certificate in smtp ca-file {}", path.display()))
        })
        .collect()
}

/// The EHLO name goes verbatim into an SMTP command line: only a host name or an address
/// literal, so a configured value can never smuggle in a second command.
fn validate_hello_name(name: &str) -> anyhow::Result<&str> {
    let is_literal = name.starts_with('[')
        && name.ends_with(']')
        && name.len() > 2
        && name[1..name.len() - 1]
            .chars()
            .all(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':'));
    let is_hostname = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if is_literal || is_hostname {
        Ok(name)
    } else {
        bail!("smtp hello-name {name:?} is not a host name or an address literal like [10.0.0.1]")
    }
}

/// Sorts a lettre error into retry-later or give-up. 5xx replies and client-side refusals
/// (this server cannot take this message as configured) repeat identically on a retry, so
/// they are permanent; everything on the way to a reply (connect, DNS, TLS, I/O, timeout,
/// a garbled response) and 4xx replies can heal, so they are transient.
fn classify(err: &lettre::transport::smtp::Error, endpoint: &str) -> SendError {
    let text = format!("{endpoint}: {}", describe(err));
    if err.is_permanent() || err.is_client() {
        SendError::Permanent(text)
    } else if err.is_tls() || caused_by_tls(err) {
        SendError::Transient(format!(
            "{text} (TLS failed: is the relay's CA in ca-file, and does its certificate name the host?)"
        ))
    } else {
        SendError::Transient(text)
    }
}

/// lettre reports a failed STARTTLS handshake as a connection error; the rustls error sits
/// inside an `io::Error` further down (and `io::Error::source` skips it, hence `get_ref`).
fn caused_by_tls(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(current) = cause {
        let inner = current
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .map(|inner| inner as &(dyn std::error::Error + 'static));
        if current.is::<rustls::Error>() || inner.is_some_and(|e| e.is::<rustls::Error>()) {
            return true;
        }
        cause = current.source();
    }
    false
}

/// The error and every cause below it on one line; lettre's `Display` shows only the first
/// cause, and the useful part (e.g. `UnknownIssuer`) is often deeper.
fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Backoff for the outbox: exponential with full jitter, capped.
///
/// `attempt` starts at 1 (0 is treated as 1). The ceiling is `base * 2^(attempt-1)`, at most
/// `cap`; the delay is `jitter_unit` (0..=1, drawn by the caller; clamped, NaN counts as 1)
/// times that ceiling, so retries of many messages spread out instead of arriving together.
pub fn retry_delay(attempt: u32, base: Duration, cap: Duration, jitter_unit: f64) -> Duration {
    let exponent = attempt.max(1) - 1;
    let ceiling = 2u32
        .checked_pow(exponent)
        .and_then(|factor| base.checked_mul(factor))
        .map_or(cap, |delay| delay.min(cap));
    let unit = if jitter_unit.is_nan() {
        1.0
    } else {
        jitter_unit.clamp(0.0, 1.0)
    };
    ceiling.mul_f64(unit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn settings() -> SmtpSettings {
        SmtpSettings {
            host: "127.0.0.1".to_owned(),
            port: 2525,
            tls: TlsMode::None,
            username: None,
            password: None,
            timeout: Duration::from_secs(5),
            ca_file: None,
            hello_name: None,
        }
    }

    fn new_err(settings: &SmtpSettings) -> String {
        format!("{:#}", SmtpSender::new(settings).unwrap_err())
    }

    #[test]
    fn retry_delay_grows_exponentially_up_to_the_cap() {
        let base = Duration::from_secs(30);
        let cap = Duration::from_secs(3600);
        let full: Vec<u64> = (1..=9)
            .map(|a| retry_delay(a, base, cap, 1.0).as_secs())
            .collect();
        assert_eq!(full, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(retry_delay(0, base, cap, 1.0), base);
        assert_eq!(retry_delay(u32::MAX, base, cap, 1.0), cap);
        assert_eq!(retry_delay(40, Duration::MAX, cap, 1.0), cap);
    }

    #[test]
    fn retry_delay_full_jitter_scales_the_ceiling() {
        let base = Duration::from_secs(10);
        let cap = Duration::from_secs(1000);
        assert_eq!(retry_delay(3, base, cap, 0.0), Duration::ZERO);
        assert_eq!(retry_delay(3, base, cap, 0.5), Duration::from_secs(20));
        assert_eq!(retry_delay(3, base, cap, 0.25), Duration::from_secs(10));
        // Out-of-range units are clamped rather than panicking in `mul_f64`.
        assert_eq!(retry_delay(3, base, cap, -3.0), Duration::ZERO);
        assert_eq!(retry_delay(3, base, cap, 7.0), Duration::from_secs(40));
        assert_eq!(retry_delay(3, base, cap, f64::NAN), Duration::from_secs(40));
    }

    #[test]
    fn tls_mode_uses_kebab_case() {
        #[derive(serde::Deserialize)]
        struct Wrapper {
            tls: TlsMode,
        }
        for (text, mode) in [
            ("none", TlsMode::None),
            ("starttls", TlsMode::Starttls),
            ("tls", TlsMode::Tls),
        ] {
            let parsed: Wrapper = toml::from_str(&format!("tls = \"{text}\"")).unwrap();
            assert_eq!(parsed.tls, mode);
        }
        assert!(toml::from_str::<Wrapper>("tls = \"ssl\"").is_err());
    }

    #[test]
    fn ca_file_errors_are_clear() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings();
        s.tls = TlsMode::Starttls;

        let missing = dir.path().join("missing.pem");
        s.ca_file = Some(missing.clone());
        let err = new_err(&s);
        assert!(
            err.contains("cannot read smtp ca-file") && err.contains("missing.pem"),
            "{err}"
        );

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "just some text\n").unwrap();
        s.ca_file = Some(empty);
        let err = new_err(&s);
        assert!(err.contains("contains no certificate"), "{err}");

        let broken = dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        s.ca_file = Some(broken);
        let err = new_err(&s);
        assert!(err.contains("broken.pem"), "{err}");

        s.tls = TlsMode::None;
        s.ca_file = Some(dir.path().join("any.pem"));
        assert!(new_err(&s).contains("tls is `none`"));
    }

    #[test]
    fn credentials_must_come_in_pairs_and_never_print() {
        let mut s = settings();
        s.username = Some("bot".to_owned());
        assert!(new_err(&s).contains("password is missing"));
        s.username = None;
        s.password = Some(Secret::new("hunter2"));
        assert!(new_err(&s).contains("username is missing"));
        s.username = Some("bot".to_owned());
        let sender = SmtpSender::new(&s).unwrap();
        assert!(!format!("{s:?} {sender:?}").contains("hunter2"));
    }

    #[test]
    fn hello_name_cannot_inject_a_command() {
        let mut s = settings();
        for bad in [
            "relay\r\nRSET",
            "has space",
            "",
            "-bad.example",
            "a..b",
            "[]",
        ] {
            s.hello_name = Some(bad.to_owned());
            assert!(new_err(&s).contains("hello-name"), "{bad:?} accepted");
        }
        for good in ["upkeep.example.com", "localhost", "[127.0.0.1]", "[::1]"] {
            s.hello_name = Some(good.to_owned());
            assert!(SmtpSender::new(&s).is_ok(), "{good:?} rejected");
        }
    }

    #[test]
    fn empty_host_and_port_zero_are_rejected() {
        let mut s = settings();
        s.host = "  ".to_owned();
        assert!(new_err(&s).contains("host is empty"));
        s.host = "127.0.0.1".to_owned();
        s.port = 0;
        assert!(new_err(&s).contains("port 0"));
    }

    #[test]
    fn zero_timeout_is_rejected() {
        let mut s = settings();
        s.timeout = Duration::ZERO;
        assert!(new_err(&s).contains("timeout"));
    }

    #[test]
    fn rustls_errors_are_found_inside_io_errors() {
        let tls = std::io::Error::other(rustls::Error::General("bad".to_owned()));
        assert!(caused_by_tls(&tls));
        let wrapped = anyhow::Error::new(tls).context("connect");
        assert!(caused_by_tls(wrapped.as_ref()));
        assert!(!caused_by_tls(&std::io::Error::other("refused")));
    }

    #[test]
    fn describe_walks_the_whole_chain() {
        let inner = std::io::Error::other("UnknownIssuer");
        let outer = anyhow::Error::new(inner).context("tls handshake");
        let text = describe(outer.as_ref());
        assert_eq!(text, "tls handshake: UnknownIssuer");
    }
}
