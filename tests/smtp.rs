//! The SMTP transport against a real SMTP server (aiosmtpd) on 127.0.0.1: plain delivery,
//! STARTTLS and implicit TLS with a test CA, AUTH, and the transient/permanent split for a
//! closed port, a silent server, 451 and 550 replies.

mod smtp_support;

use std::time::Duration;

use smtp_support::{PASSWORD, ServerOptions, SmtpServer, USER, free_port, pki, silent_server};
use upkeep::notify::email::{Attachment, Email, build_message};
use upkeep::notify::smtp::{SendError, SmtpSender, SmtpSettings, TlsMode};
use upkeep::secret::Secret;

fn settings(port: u16) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".to_owned(),
        port,
        tls: TlsMode::None,
        username: None,
        password: None,
        // A healthy relay on a busy machine may be slow; only the silent-server test needs a
        // short limit (its server never answers).
        timeout: Duration::from_secs(120),
        ca_file: None,
        hello_name: Some("upkeep.test".to_owned()),
    }
}

fn email() -> Email {
    Email {
        from: "upkeep <upkeep@example.com>".to_owned(),
        to: vec!["Weather Owners <weather-owners@example.com>".to_owned()],
        cc: vec!["cela@example.com".to_owned()],
        subject: "[upkeep] weather-mcp 1.4.2 -> 1.6.0: license change needs CELA review ✓"
            .to_owned(),
        text: "The upstream of weather-mcp released 1.6.0 with a changed license.\n".to_owned(),
        html: "<p>The upstream of <b>weather-mcp</b> released 1.6.0 with a changed license.</p>\n"
            .to_owned(),
        message_id: "license-9a0d44c1e2@upkeep".to_owned(),
        headers: vec![(
            "X-Upkeep-Key".to_owned(),
            "license/weather-mcp/9a0d44c1e2".to_owned(),
        )],
        attachments: vec![],
    }
}

fn header(parsed: &mailparse::ParsedMail<'_>, key: &str) -> Option<String> {
    parsed
        .headers
        .iter()
        .find(|h| h.get_key().eq_ignore_ascii_case(key))
        .map(|h| h.get_value())
}

fn sender(settings: &SmtpSettings) -> SmtpSender {
    SmtpSender::new(settings).unwrap()
}

#[tokio::test]
async fn plain_delivery_arrives_as_text_and_html() {
    let server = SmtpServer::start(ServerOptions::default());
    let smtp = sender(&settings(server.port));
    smtp.test_connection().await.unwrap();

    let mut email = email();
    email.attachments = vec![Attachment {
        filename: "LICENSE-1.6.0.txt".to_owned(),
        content_type: "text/plain; charset=utf-8".to_owned(),
        body: b"MIT License\n\n+ The Software may not be used to provide a hosted service".to_vec(),
    }];
    smtp.send(&build_message(&email).unwrap()).await.unwrap();

    let delivered = server.messages();
    assert_eq!(delivered.len(), 1);
    let mail = &delivered[0];
    assert_eq!(mail.mail_from, "upkeep@example.com");
    assert_eq!(
        mail.rcpt_tos,
        ["weather-owners@example.com", "cela@example.com"]
    );
    assert!(!mail.tls);

    let parsed = mailparse::parse_mail(&mail.raw).unwrap();
    assert_eq!(
        header(&parsed, "Subject").as_deref(),
        Some(email.subject.as_str())
    );
    assert_eq!(
        header(&parsed, "Message-ID").as_deref(),
        Some("<license-9a0d44c1e2@upkeep>")
    );
    assert_eq!(
        header(&parsed, "X-Upkeep-Key").as_deref(),
        Some("license/weather-mcp/9a0d44c1e2")
    );
    assert_eq!(parsed.ctype.mimetype, "multipart/mixed");
    let alternative = &parsed.subparts[0];
    assert_eq!(alternative.ctype.mimetype, "multipart/alternative");
    let text = &alternative.subparts[0];
    let html = &alternative.subparts[1];
    assert_eq!(text.ctype.mimetype, "text/plain");
    assert_eq!(text.get_body().unwrap().trim_end(), email.text.trim_end());
    assert_eq!(html.ctype.mimetype, "text/html");
    assert_eq!(html.get_body().unwrap().trim_end(), email.html.trim_end());
    assert_eq!(
        parsed.subparts[1].get_body_raw().unwrap(),
        email.attachments[0].body
    );
}

#[tokio::test]
async fn starttls_with_the_relay_ca_delivers_encrypted() {
    let server = SmtpServer::start(ServerOptions {
        starttls: true,
        ..Default::default()
    });
    let mut s = settings(server.port);
    s.tls = TlsMode::Starttls;
    s.ca_file = Some(pki().ca_pem.clone());
    let smtp = sender(&s);

    smtp.test_connection().await.unwrap();
    smtp.send(&build_message(&email()).unwrap()).await.unwrap();

    let delivered = server.messages();
    assert_eq!(delivered.len(), 1);
    assert!(delivered[0].tls, "the message must travel after STARTTLS");
}

#[tokio::test]
async fn starttls_without_the_ca_fails_with_a_clear_error() {
    let server = SmtpServer::start(ServerOptions {
        starttls: true,
        ..Default::default()
    });
    let mut s = settings(server.port);
    s.tls = TlsMode::Starttls;
    let smtp = sender(&s);

    for result in [
        smtp.test_connection().await,
        smtp.send(&build_message(&email()).unwrap()).await,
    ] {
        let Err(SendError::Transient(message)) = result else {
            panic!("expected a transient TLS error, got {result:?}");
        };
        assert!(message.contains("UnknownIssuer"), "{message}");
        assert!(message.contains("ca-file"), "{message}");
    }
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn plain_client_is_refused_by_a_starttls_only_server() {
    let server = SmtpServer::start(ServerOptions {
        starttls: true,
        ..Default::default()
    });
    let smtp = sender(&settings(server.port));
    let result = smtp.send(&build_message(&email()).unwrap()).await;
    let Err(SendError::Permanent(message)) = result else {
        panic!("expected 530 as permanent, got {result:?}");
    };
    assert!(message.contains("530"), "{message}");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn implicit_tls_with_the_relay_ca_delivers_encrypted() {
    let server = SmtpServer::start(ServerOptions {
        smtps: true,
        ..Default::default()
    });
    let mut s = settings(server.port);
    s.tls = TlsMode::Tls;
    s.ca_file = Some(pki().ca_pem.clone());
    let smtp = sender(&s);

    smtp.send(&build_message(&email()).unwrap()).await.unwrap();
    let delivered = server.messages();
    assert_eq!(delivered.len(), 1);
    assert!(delivered[0].tls);
}

#[tokio::test]
async fn auth_with_the_right_password_delivers() {
    let server = SmtpServer::start(ServerOptions {
        auth: true,
        ..Default::default()
    });
    let mut s = settings(server.port);
    s.username = Some(USER.to_owned());
    s.password = Some(Secret::new(PASSWORD));
    let smtp = sender(&s);

    smtp.test_connection().await.unwrap();
    smtp.send(&build_message(&email()).unwrap()).await.unwrap();
    let delivered = server.messages();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].login.as_deref(), Some(USER));
}

#[tokio::test]
async fn auth_with_a_wrong_password_is_permanent_and_not_logged() {
    let server = SmtpServer::start(ServerOptions {
        auth: true,
        ..Default::default()
    });
    let mut s = settings(server.port);
    s.username = Some(USER.to_owned());
    s.password = Some(Secret::new("wrong-password-123"));
    let smtp = sender(&s);

    for result in [
        smtp.test_connection().await,
        smtp.send(&build_message(&email()).unwrap()).await,
    ] {
        let Err(SendError::Permanent(message)) = result else {
            panic!("expected a permanent auth error, got {result:?}");
        };
        assert!(message.contains("535"), "{message}");
        assert!(!message.contains("wrong-password-123"), "{message}");
    }
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn server_down_is_transient() {
    let port = free_port();
    let smtp = sender(&settings(port));
    for result in [
        smtp.test_connection().await,
        smtp.send(&build_message(&email()).unwrap()).await,
    ] {
        let Err(SendError::Transient(message)) = result else {
            panic!("expected a transient connect error, got {result:?}");
        };
        assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    }
}

#[tokio::test]
async fn silent_server_times_out_as_transient() {
    let (_listener, port) = silent_server();
    let mut s = settings(port);
    s.timeout = Duration::from_millis(300);
    let smtp = sender(&s);

    // The server never answers: only our timeout can end the send, and its message says so.
    // The outer ceiling only stops a test whose timeout failed.
    let result = tokio::time::timeout(
        Duration::from_secs(180),
        smtp.send(&build_message(&email()).unwrap()),
    )
    .await
    .expect("the send was not ended by its 300 ms timeout");
    let Err(SendError::Transient(message)) = result else {
        panic!("expected a transient timeout, got {result:?}");
    };
    assert!(
        message.contains("no complete answer within 300ms"),
        "{message}"
    );
}

#[tokio::test]
async fn rcpt_451_then_success_on_retry_delivers_once() {
    let server = SmtpServer::start(ServerOptions {
        rcpt_fail: Some((451, 1)),
        ..Default::default()
    });
    let smtp = sender(&settings(server.port));
    let message = build_message(&email()).unwrap();

    let first = smtp.send(&message).await;
    let Err(SendError::Transient(text)) = first else {
        panic!("expected 451 as transient, got {first:?}");
    };
    assert!(text.contains("451"), "{text}");
    assert!(server.messages().is_empty());

    smtp.send(&message).await.unwrap();
    let delivered = server.messages();
    assert_eq!(delivered.len(), 1);
    let parsed = mailparse::parse_mail(&delivered[0].raw).unwrap();
    assert_eq!(
        header(&parsed, "Message-ID").as_deref(),
        Some("<license-9a0d44c1e2@upkeep>")
    );
}

#[tokio::test]
async fn data_451_is_transient() {
    let server = SmtpServer::start(ServerOptions {
        data_fail: Some((451, 1)),
        ..Default::default()
    });
    let smtp = sender(&settings(server.port));
    let message = build_message(&email()).unwrap();
    assert!(matches!(
        smtp.send(&message).await,
        Err(SendError::Transient(_))
    ));
    smtp.send(&message).await.unwrap();
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test]
async fn rcpt_550_is_permanent() {
    let server = SmtpServer::start(ServerOptions {
        rcpt_fail: Some((550, -1)),
        ..Default::default()
    });
    let smtp = sender(&settings(server.port));
    let result = smtp.send(&build_message(&email()).unwrap()).await;
    let Err(SendError::Permanent(text)) = result else {
        panic!("expected 550 as permanent, got {result:?}");
    };
    assert!(text.contains("550"), "{text}");
    assert!(server.messages().is_empty());
}
