//! Request authentication, pure: the `POST /sync` bearer token and the GitHub webhook
//! signature (`X-Hub-Signature-256`), both compared in constant time.

use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// Whether an `Authorization` header value carries exactly `token` as a bearer token.
///
/// Both sides are hashed first so the comparison takes the same time whatever the lengths.
pub fn bearer_matches(header: Option<&str>, token: &str) -> bool {
    let Some(given) = header.and_then(|h| {
        let (scheme, value) = h.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| value.trim())
    }) else {
        return false;
    };
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(token.as_bytes());
    bool::from(a.ct_eq(&b))
}

/// Whether `header` has the shape of a GitHub signature (`sha256=` and 64 hex digits): checked
/// before the body is read, so an unsigned request never makes the service read its body.
pub fn signature_well_formed(header: Option<&str>) -> bool {
    header
        .and_then(|h| h.trim().strip_prefix("sha256="))
        .is_some_and(|hex| hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Whether `header` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`.
pub fn signature_matches(secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(hex_sig) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(given) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&given).is_ok()
}

/// The `X-Hub-Signature-256` value GitHub would send for `body` (for tests and tools).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens() {
        assert!(bearer_matches(Some("Bearer s3cret"), "s3cret"));
        assert!(bearer_matches(Some("bearer  s3cret "), "s3cret"));
        assert!(!bearer_matches(Some("Bearer s3cre"), "s3cret"));
        assert!(!bearer_matches(Some("Bearer s3cretX"), "s3cret"));
        assert!(!bearer_matches(Some("Basic s3cret"), "s3cret"));
        assert!(!bearer_matches(Some("s3cret"), "s3cret"));
        assert!(!bearer_matches(None, "s3cret"));
    }

    #[test]
    fn github_signature_vector() {
        // The example from GitHub's "Validating webhook deliveries" documentation.
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(
            sign(b"It's a Secret to Everybody", b"Hello, World!"),
            header
        );
        assert!(signature_matches(
            b"It's a Secret to Everybody",
            b"Hello, World!",
            Some(header)
        ));
        assert!(!signature_matches(
            b"It's a Secret to Everybody",
            b"Hello, World?",
            Some(header)
        ));
        assert!(!signature_matches(b"other", b"Hello, World!", Some(header)));
        assert!(!signature_matches(b"k", b"x", None));
        assert!(signature_well_formed(Some(header)));
        for bad in [None, Some("sha1=abcd"), Some("sha256=zz"), Some("sha256=")] {
            assert!(!signature_well_formed(bad), "{bad:?}");
        }
        assert!(!signature_matches(b"k", b"x", Some("sha1=abcd")));
        assert!(!signature_matches(b"k", b"x", Some("sha256=zz")));
    }
}
