//! Email messages: turns an [`Email`] (plain data from the renderer and the outbox) into a
//! `lettre::Message` ready for a transport.
//!
//! Owns header safety. Subjects, tags and server names come from upstream repositories, so any
//! of them may be hostile: control characters are replaced before lettre sees a header value
//! (lettre then RFC 2047-encodes non-ASCII and folds long lines), addresses go through lettre's
//! `Mailbox` parser, and extra header names must match `X-Upkeep-*`. Pure: no I/O, no clock
//! beyond the `Date` header.

use std::sync::LazyLock;

use anyhow::{Context, bail};
use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use regex::Regex;

/// Longest subject we send, in characters. Longer ones are cut and end with `…`, so a hostile
/// 10 kB tag name cannot produce an unreadable (or over-long) header.
pub const MAX_SUBJECT_CHARS: usize = 200;
/// Longest value of an extra `X-Upkeep-*` header, in characters.
pub const MAX_HEADER_VALUE_CHARS: usize = 500;
/// Longest attachment file name, in characters.
pub const MAX_FILENAME_CHARS: usize = 100;

/// Extra header names we agree to set. A fixed prefix keeps callers from overriding
/// `From`, `Bcc`, `Content-Type` or any other header with meaning to mail software.
static EXTRA_HEADER_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^X-Upkeep-[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$").expect("static regex is valid")
});

/// A file attached to an email (e.g. the full old and new license texts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// File name shown to the reader; sanitised (no path separators, no control characters).
    pub filename: String,
    /// MIME type, e.g. `text/plain; charset=utf-8`.
    pub content_type: String,
    pub body: Vec<u8>,
}

/// One email, as the outbox stores it. Building the same `Email` twice gives the same
/// `Message-ID`, so a re-send can be recognised by receivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// Sender mailbox, e.g. `upkeep <upkeep@example.com>`.
    pub from: String,
    /// At least one recipient.
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    /// Plain-text body (always sent).
    pub text: String,
    /// HTML body; when empty, only the plain-text part is sent.
    pub html: String,
    /// Unique id without the angle brackets, e.g. `3f1c2e9a@upkeep` (brackets are tolerated).
    pub message_id: String,
    /// Extra headers; names must match `X-Upkeep-*`, e.g. `("X-Upkeep-Key", key)`.
    pub headers: Vec<(String, String)>,
    pub attachments: Vec<Attachment>,
}

/// Builds the MIME message: `multipart/alternative` (text + HTML), wrapped in
/// `multipart/mixed` when there are attachments; `Message-ID`, `Date` and
/// `Auto-Submitted: auto-generated` set.
///
/// Errors name the field at fault: a bad address, a bad message id, a header name outside
/// `X-Upkeep-*`, an unparsable attachment content type, or no recipient at all.
pub fn build_message(email: &Email) -> anyhow::Result<Message> {
    let mut builder = Message::builder()
        .from(parse_mailbox("from", &email.from)?)
        .subject(sanitize_subject(&email.subject))
        .message_id(Some(format!(
            "<{}>",
            validate_message_id(&email.message_id)?
        )))
        .date_now();

    if email.to.is_empty() {
        bail!("the email has no recipient in `to`");
    }
    for address in &email.to {
        builder = builder.to(parse_mailbox("to", address)?);
    }
    for address in &email.cc {
        builder = builder.cc(parse_mailbox("cc", address)?);
    }

    // RFC 3834: tells vacation responders and ticket systems not to answer a bot.
    builder = builder.raw_header(HeaderValue::new(
        HeaderName::new_from_ascii_str("Auto-Submitted"),
        "auto-generated".to_owned(),
    ));
    for (name, value) in &email.headers {
        builder = builder.raw_header(extra_header(name, value)?);
    }

    let text = SinglePart::plain(email.text.clone());
    let message = match (email.html.is_empty(), email.attachments.is_empty()) {
        (true, true) => builder.singlepart(text),
        (false, true) => builder.multipart(alternative(text, &email.html)),
        (html_empty, false) => {
            let mut mixed = if html_empty {
                MultiPart::mixed().singlepart(text)
            } else {
                MultiPart::mixed().multipart(alternative(text, &email.html))
            };
            for attachment in &email.attachments {
                mixed = mixed.singlepart(attachment_part(attachment)?);
            }
            builder.multipart(mixed)
        }
    };
    message.context("cannot assemble the email message")
}

fn alternative(text: SinglePart, html: &str) -> MultiPart {
    MultiPart::alternative()
        .singlepart(text)
        .singlepart(SinglePart::html(html.to_owned()))
}

/// Replaces every control or line-separator character with a space, collapses runs of
/// whitespace and trims, so a value can never end a header line early.
pub fn sanitize_header_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut pending_space = false;
    for c in value.chars() {
        if c.is_control() || c.is_whitespace() || matches!(c, '\u{2028}' | '\u{2029}') {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
    out
}

/// [`sanitize_header_text`] and cut to [`MAX_SUBJECT_CHARS`].
pub fn sanitize_subject(subject: &str) -> String {
    truncate_chars(&sanitize_header_text(subject), MAX_SUBJECT_CHARS)
}

fn truncate_chars(value: &str, max: usize) -> String {
    if value.chars().count() <= max {
        return value.to_owned();
    }
    let mut cut: String = value.chars().take(max.saturating_sub(1)).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

fn parse_mailbox(field: &str, address: &str) -> anyhow::Result<Mailbox> {
    // lettre's parser rejects most junk, but checking control characters first gives one
    // clear message for the injection case instead of a generic parse error.
    if address.chars().any(char::is_control) {
        bail!("invalid address in `{field}`: {address:?} contains control characters");
    }
    address
        .trim()
        .parse::<Mailbox>()
        .with_context(|| format!("invalid address in `{field}`: {address:?}"))
}

/// Checks a message id (`local@domain`, RFC 5322 `dot-atom` characters on both sides) and
/// returns it without angle brackets.
fn validate_message_id(id: &str) -> anyhow::Result<&str> {
    let bare = id
        .strip_prefix('<')
        .and_then(|rest| rest.strip_suffix('>'))
        .unwrap_or(id);
    let is_atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
    let valid = bare.len() <= 250
        && bare.split_once('@').is_some_and(|(left, right)| {
            !left.is_empty()
                && !right.is_empty()
                && left.chars().all(is_atext)
                && right.chars().all(is_atext)
        });
    if !valid {
        bail!(
            "invalid message id {id:?}: expected `local@domain` with no spaces or brackets inside"
        );
    }
    Ok(bare)
}

fn extra_header(name: &str, value: &str) -> anyhow::Result<HeaderValue> {
    if !EXTRA_HEADER_NAME.is_match(name) {
        bail!("header {name:?} is not allowed: extra headers must be named X-Upkeep-<word>");
    }
    let header_name = HeaderName::new_from_ascii(name.to_owned())
        .with_context(|| format!("invalid header name {name:?}"))?;
    let value = truncate_chars(&sanitize_header_text(value), MAX_HEADER_VALUE_CHARS);
    Ok(HeaderValue::new(header_name, value))
}

fn attachment_part(attachment: &Attachment) -> anyhow::Result<SinglePart> {
    let filename = sanitize_filename(&attachment.filename);
    if attachment.content_type.chars().any(char::is_control) {
        bail!("invalid content type for attachment {filename:?}: contains control characters");
    }
    let content_type = ContentType::parse(&attachment.content_type).with_context(|| {
        format!(
            "invalid content type {:?} for attachment {filename:?}",
            attachment.content_type
        )
    })?;
    Ok(lettre::message::Attachment::new(filename).body(attachment.body.clone(), content_type))
}

/// A file name a mail client can save safely: no control characters, no path separators,
/// not empty, at most [`MAX_FILENAME_CHARS`].
fn sanitize_filename(name: &str) -> String {
    let cleaned: String = sanitize_header_text(name)
        .chars()
        .map(|c| {
            if matches!(c, '/' | '\\' | '"') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.trim_matches(|c: char| c == '.' || c.is_whitespace());
    if cleaned.is_empty() {
        "attachment".to_owned()
    } else {
        truncate_chars(cleaned, MAX_FILENAME_CHARS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> Email {
        Email {
            from: "upkeep <upkeep@example.com>".to_owned(),
            to: vec!["weather-owners@example.com".to_owned()],
            cc: vec![],
            subject: "[upkeep] weather-mcp 1.4.2 -> 1.6.0: license change needs CELA review"
                .to_owned(),
            text: "The upstream of weather-mcp released 1.6.0.".to_owned(),
            html: "<p>The upstream of <b>weather-mcp</b> released 1.6.0.</p>".to_owned(),
            message_id: "3f1c2e9a7b@upkeep".to_owned(),
            headers: vec![("X-Upkeep-Key".to_owned(), "weather-mcp/abc123".to_owned())],
            attachments: vec![],
        }
    }

    fn formatted(email: &Email) -> String {
        String::from_utf8(build_message(email).unwrap().formatted()).unwrap()
    }

    /// The header block, split into logical headers (continuation lines unfolded).
    fn header_names(raw: &str) -> Vec<String> {
        let head = raw.split("\r\n\r\n").next().unwrap();
        head.split("\r\n")
            .filter(|line| !line.starts_with([' ', '\t']))
            .map(|line| line.split(':').next().unwrap().to_ascii_lowercase())
            .collect()
    }

    fn parse(raw: &str) -> mailparse::ParsedMail<'_> {
        mailparse::parse_mail(raw.as_bytes()).unwrap()
    }

    #[test]
    fn hostile_subject_injects_no_header() {
        let mut email = email();
        let long = "x".repeat(400);
        email.subject = format!(
            "v1\r\nBcc: attacker@evil.test\nX-Evil: 1\r\n\r\nbody\0{long} ünïcødé\u{2028}Cc: a@b.c"
        );
        let raw = formatted(&email);

        let names = header_names(&raw);
        for injected in ["bcc", "x-evil", "cc"] {
            assert!(
                !names.contains(&injected.to_owned()),
                "{injected} injected:\n{raw}"
            );
        }
        assert_eq!(names.iter().filter(|n| *n == "subject").count(), 1);
        let head = raw.split("\r\n\r\n").next().unwrap();
        assert!(!head.contains('\0'));
        assert!(
            !head.replace("\r\n", "").contains(['\r', '\n']),
            "bare CR or LF"
        );
        assert!(head.split("\r\n").all(|line| line.len() <= 998));

        let subject = parse(&raw)
            .headers
            .iter()
            .find(|h| h.get_key() == "Subject")
            .unwrap()
            .get_value();
        assert!(
            subject.starts_with("v1 Bcc: attacker@evil.test X-Evil: 1 body xxx"),
            "{subject}"
        );
        assert_eq!(subject.chars().count(), MAX_SUBJECT_CHARS);
        assert!(subject.ends_with('…'));
    }

    #[test]
    fn non_ascii_subject_round_trips() {
        let mut email = email();
        email.subject = "Lizenzänderung für wetter-mcp — 許可 ✓".to_owned();
        let raw = formatted(&email);
        assert!(
            raw.is_ascii(),
            "headers must be encoded, body transfer-encoded"
        );
        let parsed = parse(&raw);
        let subject = parsed
            .headers
            .iter()
            .find(|h| h.get_key() == "Subject")
            .unwrap();
        assert_eq!(subject.get_value(), email.subject);
    }

    #[test]
    fn message_is_alternative_text_and_html_with_id_and_date() {
        let raw = formatted(&email());
        let parsed = parse(&raw);
        assert_eq!(parsed.ctype.mimetype, "multipart/alternative");
        let types: Vec<_> = parsed
            .subparts
            .iter()
            .map(|p| p.ctype.mimetype.clone())
            .collect();
        assert_eq!(types, ["text/plain", "text/html"]);
        assert_eq!(parsed.subparts[1].get_body().unwrap().trim(), email().html);
        let get = |key: &str| {
            parsed
                .headers
                .iter()
                .find(|h| h.get_key().eq_ignore_ascii_case(key))
                .map(|h| h.get_value())
        };
        assert_eq!(get("Message-ID").as_deref(), Some("<3f1c2e9a7b@upkeep>"));
        assert_eq!(get("X-Upkeep-Key").as_deref(), Some("weather-mcp/abc123"));
        assert_eq!(get("Auto-Submitted").as_deref(), Some("auto-generated"));
        assert!(get("Date").is_some());
    }

    #[test]
    fn same_email_same_message_id() {
        let mut bracketed = email();
        bracketed.message_id = "<3f1c2e9a7b@upkeep>".to_owned();
        let a = build_message(&email()).unwrap();
        let b = build_message(&bracketed).unwrap();
        assert_eq!(
            a.headers().get_raw("Message-ID"),
            Some("<3f1c2e9a7b@upkeep>")
        );
        assert_eq!(
            a.headers().get_raw("Message-ID"),
            b.headers().get_raw("Message-ID")
        );
    }

    #[test]
    fn attachments_are_present_in_a_mixed_message() {
        let mut email = email();
        email.attachments = vec![
            Attachment {
                filename: "LICENSE-1.4.2.txt".to_owned(),
                content_type: "text/plain; charset=utf-8".to_owned(),
                body: b"MIT License\n\nPermission is hereby granted".to_vec(),
            },
            Attachment {
                filename: "../../etc/passwd\r\nX-Evil: 1".to_owned(),
                content_type: "application/octet-stream".to_owned(),
                body: vec![0, 1, 2, 255],
            },
        ];
        let raw = formatted(&email);
        let parsed = parse(&raw);
        assert_eq!(parsed.ctype.mimetype, "multipart/mixed");
        assert_eq!(parsed.subparts.len(), 3);
        assert_eq!(parsed.subparts[0].ctype.mimetype, "multipart/alternative");

        let license = &parsed.subparts[1];
        let disposition = license.get_content_disposition();
        assert_eq!(
            disposition.disposition,
            mailparse::DispositionType::Attachment
        );
        assert_eq!(
            disposition.params.get("filename").map(String::as_str),
            Some("LICENSE-1.4.2.txt")
        );
        assert_eq!(license.get_body_raw().unwrap(), email.attachments[0].body);

        let hostile = &parsed.subparts[2];
        let name = hostile
            .get_content_disposition()
            .params
            .get("filename")
            .cloned()
            .unwrap();
        assert!(!name.contains(['/', '\\', '\r', '\n']), "{name}");
        assert_eq!(hostile.get_body_raw().unwrap(), vec![0, 1, 2, 255]);
        assert!(!header_names(&raw).contains(&"x-evil".to_owned()));
    }

    #[test]
    fn text_only_when_html_is_empty() {
        let mut email = email();
        email.html.clear();
        let raw = formatted(&email);
        let parsed = parse(&raw);
        assert_eq!(parsed.ctype.mimetype, "text/plain");
        assert!(parsed.subparts.is_empty());
        assert_eq!(parsed.get_body().unwrap().trim(), email.text);
    }

    #[test]
    fn bad_inputs_are_rejected_with_the_field_named() {
        type Mutation = fn(&mut Email);
        let cases: Vec<(Mutation, &str)> = vec![
            (
                |e| e.to = vec!["not an address".to_owned()],
                "invalid address in `to`",
            ),
            (
                |e| e.cc = vec!["a@b.c\r\nBcc: x@y.z".to_owned()],
                "invalid address in `cc`",
            ),
            (|e| e.from = String::new(), "invalid address in `from`"),
            (|e| e.to.clear(), "no recipient"),
            (|e| e.message_id = "a b@c".to_owned(), "invalid message id"),
            (
                |e| e.message_id = "no-at-sign".to_owned(),
                "invalid message id",
            ),
            (
                |e| e.message_id = "x@y>\r\nBcc: z".to_owned(),
                "invalid message id",
            ),
            (
                |e| e.headers = vec![("Bcc".to_owned(), "x@y.z".to_owned())],
                "not allowed",
            ),
            (
                |e| e.headers = vec![("X-Upkeep-A:B".to_owned(), "v".to_owned())],
                "not allowed",
            ),
            (
                |e| {
                    e.attachments = vec![Attachment {
                        filename: "a".to_owned(),
                        content_type: "not a mime type".to_owned(),
                        body: vec![],
                    }]
                },
                "invalid content type",
            ),
        ];
        for (mutate, expected) in cases {
            let mut email = email();
            mutate(&mut email);
            let err = format!("{:#}", build_message(&email).unwrap_err());
            assert!(
                err.contains(expected),
                "{err:?} should contain {expected:?}"
            );
        }
    }

    #[test]
    fn extra_header_values_are_sanitised() {
        let mut email = email();
        email.headers = vec![(
            "X-Upkeep-Server".to_owned(),
            "evil\r\nBcc: x@y.z".to_owned(),
        )];
        let raw = formatted(&email);
        assert!(!header_names(&raw).contains(&"bcc".to_owned()));
        assert!(raw.contains("X-Upkeep-Server: evil Bcc: x@y.z\r\n"));
    }

    #[test]
    fn sanitize_header_text_table() {
        let cases = [
            ("plain", "plain"),
            ("  a\t\tb  ", "a b"),
            ("a\r\nb", "a b"),
            ("a\0b\u{7f}c\u{85}d", "a b c d"),
            ("a\u{2028}b", "a b"),
            ("ünï", "ünï"),
        ];
        for (input, expected) in cases {
            assert_eq!(sanitize_header_text(input), expected, "{input:?}");
        }
    }
}
