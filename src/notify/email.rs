//! Email messages (temporary minimal version; the full one is being written).

pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub body: Vec<u8>,
}

pub struct Email {
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub message_id: String,
    pub headers: Vec<(String, String)>,
    pub attachments: Vec<Attachment>,
}

pub fn build_message(email: &Email) -> anyhow::Result<lettre::Message> {
    use lettre::message::{MultiPart, header};
    let mut b = lettre::Message::builder()
        .from(email.from.parse()?)
        .subject(email.subject.replace(['\r', '\n'], " "))
        .message_id(Some(format!("<{}>", email.message_id)));
    for t in &email.to {
        b = b.to(t.parse()?);
    }
    for c in &email.cc {
        b = b.cc(c.parse()?);
    }
    let _ = header::ContentType::TEXT_PLAIN;
    Ok(b.multipart(MultiPart::alternative_plain_html(
        email.text.clone(),
        email.html.clone(),
    ))?)
}
