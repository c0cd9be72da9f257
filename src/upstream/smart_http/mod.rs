//! The ref advertisement of an `http://` or `https://` upstream, read over git's smart-HTTP
//! protocol through one shared HTTP client.
//!
//! libgit2 opens a new connection (and TLS session) for every remote; over a real network that
//! handshake is most of what a quiet run costs. [`RefLister`] asks through a
//! `reqwest::blocking::Client` the caller shares, so connections are kept alive, reused across
//! upstreams on one host and multiplexed over HTTP/2 where the server offers it.
//!
//! What it speaks (git's Documentation/gitprotocol-http.adoc, gitprotocol-v2.adoc,
//! gitprotocol-pack.adoc, gitprotocol-common.adoc):
//! - `GET $GIT_URL/info/refs?service=git-upload-pack` with `Git-Protocol: version=2`; a v2
//!   server answers with its capabilities and the tags come from one `POST git-upload-pack`
//!   `command=ls-refs` (`peel`, `symrefs`, `ref-prefix HEAD`, `ref-prefix refs/tags/`); any other
//!   server answers with the v0 reference list, read as it streams (`^{}` peeled entries, the
//!   `symref=HEAD:` capability).
//! - Redirects as git follows them by default (`http.followRedirects = initial`, git's
//!   Documentation/config/http.adoc): on the initial GET only, with the redirected URL as the base
//!   of the POST; never from HTTPS to HTTP (libgit2's rule).
//! - Credentials from the URL's userinfo (`https://user:token@host/…`), sent as Basic after the
//!   server asks (401), as git and libgit2 do, then at once for later requests to that host; only
//!   ever to the scheme, host and port the URL names. They never reach a log or an error: URLs
//!   are shown redacted and server messages are scrubbed of them.
//! - Proxy and CA settings are the client's (the caller builds it).
//!
//! It only lists refs: fetching a pack stays with libgit2 (`super::Cache`), as do `ssh://`,
//! `git://` and local upstreams. It must run on a blocking thread, like every blocking client.

pub mod advert;
pub mod pkt_line;

use std::collections::HashSet;
use std::io::Read;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::header::{
    ACCEPT, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION, PRAGMA,
    RETRY_AFTER, USER_AGENT, WWW_AUTHENTICATE,
};
use reqwest::{Method, StatusCode, Url};

pub use advert::{AdvertisedHead, AdvertisedTag, Advertisement, Protocol};
use advert::{ParseError, V2Capabilities};
use pkt_line::{Capped, Pkt, PktError, PktReader};

use crate::secret::Secret;

/// git's limit on redirects followed (`CURLOPT_MAXREDIRS` in git's http.c).
const MAX_REDIRECTS: usize = 20;

/// How much of an error response is read for the server's message.
const MESSAGE_BYTES: u64 = 4096;

const SERVICE: &str = "git-upload-pack";

/// Servers that route on the user agent want one starting with `git/` before they speak the
/// smart protocol (Bitbucket did: mirage/ocaml-git#66); libgit2 sends `git/2.0 (libgit2 …)`.
const AGENT: &str = concat!("git/2.0 (upkeep ", env!("CARGO_PKG_VERSION"), ")");

/// The `agent` capability value sent to v2 servers that advertise theirs (no spaces allowed).
const V2_AGENT: &str = concat!("upkeep/", env!("CARGO_PKG_VERSION"));

/// Limits of one listing.
#[derive(Debug, Clone)]
pub struct ListOptions {
    /// The largest response body read; a larger one fails with [`ListError::TooLarge`] while it
    /// streams. 16 MiB holds ~250,000 v0 ref lines.
    pub max_response_bytes: u64,
    /// Total time for one request (connect, send, read the body).
    pub timeout: Duration,
    /// Ask for protocol v2 (`Git-Protocol: version=2`); when false, every server answers v0.
    pub protocol_v2: bool,
}

impl Default for ListOptions {
    fn default() -> Self {
        Self {
            max_response_bytes: 16 * 1024 * 1024,
            timeout: Duration::from_secs(60),
            protocol_v2: true,
        }
    }
}

/// Why an upstream's refs could not be listed. Every URL in a message is redacted.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("upstream URL {url} is not an http(s) URL git can use: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("{url}: repository not found (HTTP {status}){remote}")]
    NotFound {
        url: String,
        status: u16,
        remote: String,
    },
    /// 401 and nothing (more) to answer it with.
    #[error("{url}: the server requires authentication (HTTP 401{challenge}); {hint}")]
    AuthRequired {
        url: String,
        challenge: String,
        hint: String,
    },
    /// 401 again after the credentials of the URL were sent.
    #[error("{url}: the server refused the credentials in the upstream URL (HTTP 401){remote}")]
    AuthRejected { url: String, remote: String },
    #[error("{url}: access forbidden (HTTP 403){remote}")]
    Forbidden { url: String, remote: String },
    #[error("{url}: rate limited (HTTP 429{}){remote}", retry_after.map(|d| format!(", retry after {}s", d.as_secs())).unwrap_or_default())]
    RateLimited {
        url: String,
        retry_after: Option<Duration>,
        remote: String,
    },
    #[error("{url}: unexpected HTTP status {status}{remote}")]
    Status {
        url: String,
        status: u16,
        remote: String,
    },
    /// A dumb-HTTP server, or a page that is not git at all (a sign-in or proxy page).
    #[error("{url}: {detail}")]
    NotSmart { url: String, detail: String },
    #[error("{url}: redirect refused: {reason}")]
    Redirect { url: String, reason: String },
    #[error("{url}: the server's answer is larger than {limit} bytes; not read further")]
    TooLarge { url: String, limit: u64 },
    /// No answer: connection refused or reset, DNS, TLS, a timeout.
    #[error("{url}: {message}")]
    Network { url: String, message: String },
    /// The server answered with an `ERR` packet.
    #[error("{url}: the server reported an error: {message}")]
    Remote { url: String, message: String },
    #[error("{url}: invalid smart-HTTP answer: {message}")]
    Protocol { url: String, message: String },
    #[error("{url}: {message}")]
    Unsupported { url: String, message: String },
}

/// Lists the refs of `http(s)://` upstreams through one shared client.
#[derive(Debug)]
pub struct RefLister {
    client: reqwest::blocking::Client,
    options: ListOptions,
    /// Origins that asked for credentials once (a 401): later requests there carry them at once,
    /// as git does within one process, instead of paying a round trip to be asked again.
    challenged: Mutex<HashSet<String>>,
}

/// Whether `url` is one this module lists (`http://` or `https://`).
pub fn is_http_url(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

impl RefLister {
    /// `client` is the run's shared client (a clone shares its connection pool); its proxy,
    /// CA roots and redirect policy apply. Its own user agent is replaced by a `git/` one.
    pub fn new(client: reqwest::blocking::Client, options: ListOptions) -> Self {
        Self {
            client,
            options,
            challenged: Mutex::new(HashSet::new()),
        }
    }

    /// The tags and HEAD the upstream at `url` advertises now.
    pub fn list(&self, url: &str) -> Result<Advertisement, ListError> {
        let started = Instant::now();
        let ep = Endpoint::parse(url)?;
        let (base, response) = self.discover(&ep)?;
        let mut reader = PktReader::new(Capped::new(response, self.options.max_response_bytes));
        let ad = match read_preamble(&mut reader).map_err(|e| ep.parse_error(e, &self.options))? {
            Preamble::V0 => {
                let ad = advert::read_v0_refs(&mut reader)
                    .map_err(|e| ep.parse_error(e, &self.options))?;
                drain(&mut reader);
                ad
            }
            Preamble::V2 => {
                let caps = advert::read_v2_capabilities(&mut reader)
                    .map_err(|e| ep.parse_error(e, &self.options))?;
                drain(&mut reader);
                self.ls_refs(&ep, &base, &caps)?
            }
        };
        tracing::debug!(
            upstream = %ep.shown,
            protocol = ?ad.protocol,
            tags = ad.tags.len(),
            ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "listed refs over smart HTTP"
        );
        Ok(ad)
    }

    /// The initial `GET info/refs`, redirects followed: the base URL later requests go to, and
    /// the smart answer (checked: 200 and the advertisement content type).
    fn discover(&self, ep: &Endpoint) -> Result<(String, reqwest::blocking::Response), ListError> {
        let asked = ep.info_refs_url();
        let mut url = parse_url(&asked).map_err(|reason| ep.bad_url(reason))?;
        let mut hops = 0;
        let response = loop {
            let mut headers = HeaderMap::new();
            headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
            // "Clients MUST NOT reuse or revalidate a cached response" (gitprotocol-http).
            headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            if self.options.protocol_v2 {
                headers.insert("git-protocol", HeaderValue::from_static("version=2"));
            }
            let response = self.send(ep, Method::GET, &url, headers, None)?;
            ep.check_redirect(response.url())?;
            if !response.status().is_redirection() {
                break response;
            }
            // The client did not follow this redirect itself (its policy): follow it as git would.
            hops += 1;
            if hops > MAX_REDIRECTS {
                return Err(ep.redirect(format!("more than {MAX_REDIRECTS} redirects")));
            }
            let Some(location) = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
            else {
                return Err(ep.redirect("a redirect without a Location".into()));
            };
            let next = response
                .url()
                .join(location)
                .map_err(|e| ep.redirect(format!("bad Location ({e})")))?;
            ep.check_redirect(&next)?;
            url = next;
        };
        let base = ep.rebase(&asked, response.url())?;
        let response = ep.check_status(response)?;
        let content_type = media_type(response.headers());
        if content_type != "application/x-git-upload-pack-advertisement" {
            return Err(not_smart(ep, &content_type, response));
        }
        Ok((base, response))
    }

    /// v2 `ls-refs` for HEAD and the tags.
    fn ls_refs(
        &self,
        ep: &Endpoint,
        base: &str,
        caps: &V2Capabilities,
    ) -> Result<Advertisement, ListError> {
        let mut body = Vec::new();
        pkt_line::write_line(&mut body, "command=ls-refs");
        if caps.agent {
            pkt_line::write_line(&mut body, &format!("agent={V2_AGENT}"));
        }
        if caps.object_format.is_some() {
            pkt_line::write_line(&mut body, "object-format=sha1");
        }
        pkt_line::write_delim(&mut body);
        for arg in [
            "peel",
            "symrefs",
            "ref-prefix HEAD",
            "ref-prefix refs/tags/",
        ] {
            pkt_line::write_line(&mut body, arg);
        }
        pkt_line::write_flush(&mut body);

        let url = parse_url(&format!("{base}/{SERVICE}")).map_err(|r| ep.bad_url(r))?;
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-git-upload-pack-request"),
        );
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/x-git-upload-pack-result"),
        );
        headers.insert("git-protocol", HeaderValue::from_static("version=2"));
        let response = self.send(ep, Method::POST, &url, headers, Some(body))?;
        // git follows redirects on the initial request only (http.followRedirects = initial).
        if response.url() != &url || response.status().is_redirection() {
            return Err(ep.redirect(
                "the ls-refs request was redirected; git follows redirects only on the initial \
                 request (http.followRedirects = initial)"
                    .into(),
            ));
        }
        let response = ep.check_status(response)?;
        let content_type = media_type(response.headers());
        if content_type != "application/x-git-upload-pack-result" {
            return Err(ListError::Protocol {
                url: ep.shown.clone(),
                message: format!(
                    "the ls-refs answer has Content-Type {content_type:?}, not \
                     application/x-git-upload-pack-result"
                ),
            });
        }
        let mut reader = PktReader::new(Capped::new(response, self.options.max_response_bytes));
        let ad = advert::read_ls_refs(&mut reader).map_err(|e| ep.parse_error(e, &self.options))?;
        drain(&mut reader);
        Ok(ad)
    }

    /// Sends one request, answering a 401 with the URL's credentials once, and retrying once a
    /// request that got no answer (a kept-alive connection the server had closed).
    fn send(
        &self,
        ep: &Endpoint,
        method: Method,
        url: &Url,
        headers: HeaderMap,
        body: Option<Vec<u8>>,
    ) -> Result<reqwest::blocking::Response, ListError> {
        let same_origin = origin(url) == ep.origin;
        let mut with_auth =
            same_origin && ep.creds.is_some() && self.lock_challenged().contains(&ep.origin);
        let mut retried = false;
        loop {
            let mut request = self
                .client
                .request(method.clone(), url.clone())
                .timeout(self.options.timeout)
                .headers(headers.clone())
                .header(USER_AGENT, AGENT);
            if with_auth && let Some(creds) = &ep.creds {
                request = request.header(AUTHORIZATION, creds.header());
            }
            if let Some(body) = &body {
                request = request.body(body.clone());
            }
            let response = match request.send() {
                Ok(r) => r,
                // The client's own redirect policy gave up (a loop, or past its limit).
                Err(e) if e.is_redirect() => {
                    return Err(ep.redirect(ep.scrub(&error_chain(&e))));
                }
                Err(e) if !retried && !e.is_timeout() => {
                    tracing::debug!(upstream = %ep.shown, error = %error_chain(&e), "request got no answer; retrying once");
                    retried = true;
                    continue;
                }
                Err(e) => {
                    return Err(ListError::Network {
                        url: ep.shown.clone(),
                        message: ep.scrub(&error_chain(&e)),
                    });
                }
            };
            if response.status() != StatusCode::UNAUTHORIZED {
                return Ok(response);
            }
            // Credentials only ever go to the origin the URL names, not to one it redirected to.
            let answerable = origin(response.url()) == ep.origin && ep.creds.is_some();
            if !with_auth && answerable && offers_basic(response.headers()) {
                self.lock_challenged().insert(ep.origin.clone());
                with_auth = true;
                continue;
            }
            return Err(ep.unauthorized(with_auth, answerable, response));
        }
    }

    fn lock_challenged(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        // A panic while holding the lock leaves a set that is still fine to read.
        self.challenged
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

enum Preamble {
    V0,
    V2,
}

/// The opening of a smart answer: `# service=git-upload-pack` and its flush (then a v0 list, or
/// a `version 2` line from servers that send the header to v2 clients too), or `version 2`.
fn read_preamble<R: Read>(r: &mut PktReader<R>) -> Result<Preamble, ParseError> {
    let first = r.expect_pkt()?;
    let Pkt::Data(line) = first else {
        return Err(ParseError::Invalid(
            "the answer opens with a special packet instead of `# service=`".into(),
        ));
    };
    if line == b"version 2" {
        return Ok(Preamble::V2);
    }
    if let Some(message) = pkt_line::err_message(&line) {
        return Err(ParseError::Remote(message));
    }
    if line != format!("# service={SERVICE}").as_bytes() {
        return Err(ParseError::Invalid(format!(
            "the answer opens with {:?} instead of `# service={SERVICE}`",
            String::from_utf8_lossy(&line[..line.len().min(80)])
        )));
    }
    // Metadata lines may follow the service line up to a flush (git ignores them too).
    while r.expect_pkt()? != Pkt::Flush {}
    match r.expect_pkt()? {
        Pkt::Data(line) if line == b"version 2" => Ok(Preamble::V2),
        other => {
            r.push_back(other);
            Ok(Preamble::V0)
        }
    }
}

/// Reads what is left of a body (nothing, or a response-end packet) so the connection can go
/// back to the pool.
fn drain<R: Read>(reader: &mut PktReader<R>) {
    let _ = std::io::copy(reader.inner_mut(), &mut std::io::sink());
}

/// One upstream URL, split into what is sent and what is kept back.
struct Endpoint {
    /// The URL without userinfo, fragment or trailing `/`, as `Url` serialises it.
    base: String,
    creds: Option<Credentials>,
    /// `scheme://host:port` of the URL: the only place the credentials go.
    origin: String,
    /// The URL as messages show it (`redact_url`).
    shown: String,
}

struct Credentials {
    user: String,
    password: Secret,
}

impl Credentials {
    fn header(&self) -> HeaderValue {
        use base64::Engine as _;
        let pair = format!("{}:{}", self.user, self.password.expose());
        let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
        // Base64 is always a valid header value.
        let mut value = HeaderValue::from_str(&format!("Basic {encoded}"))
            .unwrap_or_else(|_| HeaderValue::from_static("Basic"));
        value.set_sensitive(true);
        value
    }
}

impl Endpoint {
    fn parse(raw: &str) -> Result<Endpoint, ListError> {
        let shown = super::redact_url(raw);
        let bad = |reason: String| ListError::BadUrl {
            url: shown.clone(),
            reason,
        };
        let mut url = parse_url(raw).map_err(bad)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("only http and https URLs are listed here".into()));
        }
        let creds = (!url.username().is_empty() || url.password().is_some()).then(|| Credentials {
            user: percent_decode(url.username()),
            password: Secret::new(percent_decode(url.password().unwrap_or(""))),
        });
        // Userinfo would make the client send Basic credentials before being asked.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.set_fragment(None);
        // "Clients MUST strip a trailing `/`" (gitprotocol-http).
        let base = url.as_str().trim_end_matches('/').to_string();
        Ok(Endpoint {
            origin: origin(&url),
            base,
            creds,
            shown,
        })
    }

    /// `$GIT_URL/info/refs?service=git-upload-pack`, with `&` when the URL has a query (as git
    /// builds it, for catch-all gateways).
    fn info_refs_url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}/info/refs{sep}service={SERVICE}", self.base)
    }

    /// The base URL after the initial request landed on `got`: git strips the part it appended
    /// (`/info/refs?service=…`) and refuses a redirect that did not keep it.
    fn rebase(&self, asked: &str, got: &Url) -> Result<String, ListError> {
        let tail = &asked[self.base.len()..];
        if got.as_str() == asked {
            return Ok(self.base.clone());
        }
        let Some(base) = got.as_str().strip_suffix(tail) else {
            return Err(self.redirect(format!(
                "it went to {} which does not end in {tail} (git refuses to update the URL base \
                 from such a redirect)",
                shown_url(got)
            )));
        };
        tracing::debug!(upstream = %self.shown, to = %shown_url(got), "upstream redirected");
        Ok(base.to_string())
    }

    /// libgit2's rules for a redirect target: http or https only, and never down from https.
    fn check_redirect(&self, to: &Url) -> Result<(), ListError> {
        let from_https = self.base.starts_with("https:");
        match to.scheme() {
            "https" => Ok(()),
            "http" if !from_https => Ok(()),
            other => Err(self.redirect(format!(
                "from {} to {other}: {} (libgit2 refuses it too)",
                if from_https { "https" } else { "http" },
                shown_url(to)
            ))),
        }
    }

    fn redirect(&self, reason: String) -> ListError {
        ListError::Redirect {
            url: self.shown.clone(),
            reason,
        }
    }

    fn bad_url(&self, reason: String) -> ListError {
        ListError::BadUrl {
            url: self.shown.clone(),
            reason,
        }
    }

    /// Turns a final non-200 answer into its error.
    fn check_status(
        &self,
        response: reqwest::blocking::Response,
    ) -> Result<reqwest::blocking::Response, ListError> {
        let status = response.status();
        if status == StatusCode::OK {
            return Ok(response);
        }
        let url = self.shown.clone();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let remote = self.remote_message(response);
        Err(match status.as_u16() {
            404 | 410 => ListError::NotFound {
                url,
                status: status.as_u16(),
                remote,
            },
            403 => ListError::Forbidden { url, remote },
            429 => ListError::RateLimited {
                url,
                retry_after,
                remote,
            },
            s => ListError::Status {
                url,
                status: s,
                remote,
            },
        })
    }

    fn unauthorized(
        &self,
        sent: bool,
        answerable: bool,
        response: reqwest::blocking::Response,
    ) -> ListError {
        let challenge = response
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| v.split([' ', ',']).next().unwrap_or(v).to_string())
            .collect::<Vec<_>>();
        let basic = challenge.iter().any(|s| s.eq_ignore_ascii_case("basic"));
        let to = shown_url(response.url());
        let remote = self.remote_message(response);
        if sent {
            return ListError::AuthRejected {
                url: self.shown.clone(),
                remote,
            };
        }
        let hint = if self.creds.is_none() {
            "the upstream URL carries no credentials".to_string()
        } else if !answerable {
            format!(
                "{to} is not where the upstream URL points, and its credentials are only sent there"
            )
        } else if !basic {
            "upkeep answers only Basic authentication here".to_string()
        } else {
            "no credentials to answer with".to_string()
        };
        let challenge = if challenge.is_empty() {
            String::new()
        } else {
            format!(", asks for {}", challenge.join(" or "))
        };
        ListError::AuthRequired {
            url: self.shown.clone(),
            challenge,
            hint: format!("{hint}{remote}"),
        }
    }

    /// What the server said in a text/plain error body, as git shows it (`remote: …`), short,
    /// printable and without the credentials.
    fn remote_message(&self, response: reqwest::blocking::Response) -> String {
        if media_type(response.headers()) != "text/plain" {
            return String::new();
        }
        let mut body = Vec::new();
        let _ = response.take(MESSAGE_BYTES).read_to_end(&mut body);
        let text: String = String::from_utf8_lossy(&body)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .filter(|c| !c.is_control())
            .take(300)
            .collect();
        if text.is_empty() {
            String::new()
        } else {
            format!("; remote: {}", self.scrub(&text))
        }
    }

    /// Removes the password (raw and as sent in the header) from text that came back.
    fn scrub(&self, text: &str) -> String {
        let Some(creds) = &self.creds else {
            return text.to_string();
        };
        let mut out = text.to_string();
        let header = creds.header();
        let sent = header.to_str().unwrap_or_default();
        for secret in [creds.password.expose(), sent.trim_start_matches("Basic ")] {
            if !secret.is_empty() {
                out = out.replace(secret, "<redacted>");
            }
        }
        out
    }

    fn parse_error(&self, e: ParseError, options: &ListOptions) -> ListError {
        let url = self.shown.clone();
        match e {
            ParseError::Pkt(PktError::Io(io)) if pkt_line::is_over_cap(&io) => {
                ListError::TooLarge {
                    url,
                    limit: options.max_response_bytes,
                }
            }
            ParseError::Pkt(PktError::Io(io)) => ListError::Network {
                url,
                message: format!("reading the answer: {}", self.scrub(&io.to_string())),
            },
            ParseError::Pkt(PktError::Malformed(message)) | ParseError::Invalid(message) => {
                ListError::Protocol { url, message }
            }
            ParseError::Remote(message) => ListError::Remote {
                url,
                message: self.scrub(&message),
            },
            ParseError::Unsupported(message) => ListError::Unsupported { url, message },
        }
    }
}

/// The error for a 200 answer that is not a smart advertisement: git would fall back to the
/// dumb protocol, which neither upkeep nor libgit2 reads.
fn not_smart(
    ep: &Endpoint,
    content_type: &str,
    response: reqwest::blocking::Response,
) -> ListError {
    let mut head = Vec::new();
    let _ = response.take(64).read_to_end(&mut head);
    // A dumb server's info/refs: "<40 hex>\t<refname>\n" lines (gitprotocol-http).
    let dumb = head.len() > 41 && head[..40].iter().all(u8::is_ascii_hexdigit) && head[40] == b'\t';
    let detail = if dumb {
        format!(
            "a dumb HTTP server (info/refs as a plain file, Content-Type {content_type:?}); upkeep \
             and libgit2 need git's smart HTTP protocol (git http-backend or a forge)"
        )
    } else {
        format!(
            "the answer is not git's smart HTTP (Content-Type {content_type:?}, expected \
             application/x-git-upload-pack-advertisement): is this a git repository URL, or a \
             sign-in or proxy page?"
        )
    };
    ListError::NotSmart {
        url: ep.shown.clone(),
        detail,
    }
}

/// Whether a 401 offers Basic, the one scheme answered here.
fn offers_basic(headers: &HeaderMap) -> bool {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',').any(|part| {
                part.trim()
                    .split(' ')
                    .next()
                    .is_some_and(|s| s.eq_ignore_ascii_case("basic"))
            })
        })
}

/// The media type of a response, lower-cased, without parameters.
fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_ascii_lowercase())
        .unwrap_or_default()
}

fn parse_url(raw: &str) -> Result<Url, String> {
    Url::parse(raw).map_err(|e| e.to_string())
}

fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// A URL for a message: no userinfo, no query.
fn shown_url(url: &Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.to_string()
}

/// Decodes `%XX` escapes of URL userinfo (a token with `@` or `:` in it is written escaped).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_credentials_and_trailing_slash() {
        let ep = Endpoint::parse("https://bot:s%40cr%3At@git.example.com/org/repo.git/").unwrap();
        assert_eq!(ep.base, "https://git.example.com/org/repo.git");
        assert_eq!(ep.origin, "https://git.example.com");
        assert_eq!(ep.shown, "https://git.example.com/org/repo.git/");
        let creds = ep.creds.as_ref().unwrap();
        assert_eq!(creds.user, "bot");
        assert_eq!(creds.password.expose(), "s@cr:t");
        assert_eq!(
            ep.info_refs_url(),
            "https://git.example.com/org/repo.git/info/refs?service=git-upload-pack"
        );
        // A token alone is the user name with an empty password, as libgit2 sends it.
        let token = Endpoint::parse("https://tok123@h.example/r").unwrap();
        assert_eq!(token.creds.as_ref().unwrap().user, "tok123");
        assert_eq!(token.creds.as_ref().unwrap().password.expose(), "");
    }

    #[test]
    fn a_gateway_url_with_a_query_gets_the_service_appended() {
        let ep = Endpoint::parse("http://example.com/daemon.cgi?svc=git&q=").unwrap();
        assert_eq!(
            ep.info_refs_url(),
            "http://example.com/daemon.cgi?svc=git&q=/info/refs&service=git-upload-pack"
        );
    }

    #[test]
    fn non_http_urls_are_refused() {
        for url in [
            "git://h/r.git",
            "ssh://git@h/r.git",
            "/srv/r.git",
            "file:///srv/r.git",
        ] {
            assert!(!is_http_url(url), "{url}");
            assert!(
                matches!(Endpoint::parse(url), Err(ListError::BadUrl { .. })),
                "{url}"
            );
        }
        assert!(is_http_url("HTTPS://h/r.git"));
    }

    #[test]
    fn redirects_keep_the_tail_and_never_go_down_to_http() {
        let ep = Endpoint::parse("https://old.example/r.git").unwrap();
        let asked = ep.info_refs_url();
        let moved =
            Url::parse("https://new.example/x/r.git/info/refs?service=git-upload-pack").unwrap();
        assert_eq!(
            ep.rebase(&asked, &moved).unwrap(),
            "https://new.example/x/r.git"
        );
        let elsewhere = Url::parse("https://new.example/login").unwrap();
        assert!(matches!(
            ep.rebase(&asked, &elsewhere),
            Err(ListError::Redirect { reason, .. }) if reason.contains("does not end in")
        ));
        let down =
            Url::parse("http://old.example/r.git/info/refs?service=git-upload-pack").unwrap();
        assert!(matches!(
            ep.check_redirect(&down),
            Err(ListError::Redirect { reason, .. }) if reason.contains("from https to http")
        ));
        let plain = Endpoint::parse("http://old.example/r.git").unwrap();
        assert!(plain.check_redirect(&moved).is_ok());
        assert!(
            plain
                .check_redirect(&Url::parse("ftp://x/r.git").unwrap())
                .is_err()
        );
    }

    #[test]
    fn basic_challenges_are_recognised_among_others() {
        let mut h = HeaderMap::new();
        h.append(WWW_AUTHENTICATE, HeaderValue::from_static("Negotiate"));
        assert!(!offers_basic(&h));
        h.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"git\", charset=\"UTF-8\""),
        );
        assert!(offers_basic(&h));
        let mut one = HeaderMap::new();
        one.insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"x\", basic realm=\"y\""),
        );
        assert!(offers_basic(&one));
    }

    fn preamble(lines: &[&str]) -> Result<(bool, Option<Pkt>), String> {
        let mut bytes = Vec::new();
        for l in lines {
            match *l {
                "0000" => pkt_line::write_flush(&mut bytes),
                l => pkt_line::write_line(&mut bytes, l),
            }
        }
        let mut r = PktReader::new(&bytes[..]);
        match read_preamble(&mut r) {
            Ok(p) => Ok((matches!(p, Preamble::V2), r.next_pkt().unwrap())),
            Err(ParseError::Invalid(m) | ParseError::Remote(m)) => Err(m),
            Err(e) => Err(format!("{e:?}")),
        }
    }

    #[test]
    fn the_answer_opens_with_the_service_line_or_version_2() {
        let sha = "1111111111111111111111111111111111111111";
        let first = format!("{sha} HEAD\0ofs-delta");
        // v0: the header, its flush, then the refs (the first one is read again).
        let (v2, next) = preamble(&["# service=git-upload-pack", "0000", &first]).unwrap();
        assert!(!v2);
        assert_eq!(next, Some(Pkt::Data(first.as_bytes().to_vec())));
        // v2 straight away (git http-backend), or after the header (some servers send both).
        assert!(preamble(&["version 2", "ls-refs"]).unwrap().0);
        let after_header = preamble(&["# service=git-upload-pack", "0000", "version 2"]);
        assert!(after_header.unwrap().0);
        assert_eq!(
            preamble(&["ERR no such repository"]).unwrap_err(),
            "no such repository"
        );
        assert!(
            preamble(&["# service=git-receive-pack", "0000"])
                .unwrap_err()
                .contains("instead of `# service=git-upload-pack`")
        );
    }

    #[test]
    fn echoed_credentials_are_scrubbed() {
        let ep = Endpoint::parse("https://u:hunter2@h.example/r.git").unwrap();
        let header = ep.creds.as_ref().unwrap().header();
        assert!(header.is_sensitive());
        let sent = header.to_str().unwrap().to_string();
        let text = format!("bad password hunter2 in {sent}");
        let scrubbed = ep.scrub(&text);
        assert!(!scrubbed.contains("hunter2"), "{scrubbed}");
        assert!(
            !scrubbed.contains(sent.trim_start_matches("Basic ")),
            "{scrubbed}"
        );
    }
}
