//! pkt-line framing (gitprotocol-common(5), "pkt-line Format"; gitprotocol-v2(5) for the
//! delimiter and response-end packets): reading a stream of packets and writing requests.
//!
//! Pure framing: no HTTP, no meaning of the payloads beyond the `ERR` packet every git service may
//! send instead of its answer (gitprotocol-pack(5)).

use std::io::{self, Read};

/// The largest pkt-line on the wire: 65516 bytes of payload plus the 4-byte length.
pub const MAX_PKT_LEN: usize = 65520;

/// One packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pkt {
    /// A data packet, its trailing LF removed (receivers must treat text lines the same with or
    /// without it).
    Data(Vec<u8>),
    /// `0000`: the end of a message.
    Flush,
    /// `0001` (v2): separates the sections of a message.
    Delim,
    /// `0002` (v2): the end of a response on a stateless connection.
    ResponseEnd,
}

/// Why a stream of packets could not be read.
#[derive(Debug)]
pub enum PktError {
    /// The underlying reader failed (the connection broke, or the size cap was hit).
    Io(io::Error),
    /// The bytes are not pkt-lines; the text says what was wrong.
    Malformed(String),
}

impl From<io::Error> for PktError {
    fn from(e: io::Error) -> Self {
        PktError::Io(e)
    }
}

/// Reads packets one at a time from a byte stream.
pub struct PktReader<R> {
    inner: R,
    pushed_back: Option<Pkt>,
}

impl<R: Read> PktReader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            pushed_back: None,
        }
    }

    /// Makes `pkt` the next packet read again (one packet of look-ahead).
    pub fn push_back(&mut self, pkt: Pkt) {
        self.pushed_back = Some(pkt);
    }

    /// The reader underneath, e.g. to drain what follows the last packet.
    pub fn inner_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The next packet; `None` at a clean end of the stream (before any byte of a packet).
    pub fn next_pkt(&mut self) -> Result<Option<Pkt>, PktError> {
        if let Some(pkt) = self.pushed_back.take() {
            return Ok(Some(pkt));
        }
        let mut len = [0u8; 4];
        let got = read_full(&mut self.inner, &mut len)?;
        if got == 0 {
            return Ok(None);
        }
        if got < 4 {
            return Err(PktError::Malformed(
                "the stream ends inside a packet length".into(),
            ));
        }
        let text = std::str::from_utf8(&len).ok();
        let Some(n) = text.and_then(|t| usize::from_str_radix(t, 16).ok()) else {
            return Err(PktError::Malformed(format!(
                "bad packet length {:?}",
                String::from_utf8_lossy(&len)
            )));
        };
        match n {
            0 => return Ok(Some(Pkt::Flush)),
            1 => return Ok(Some(Pkt::Delim)),
            2 => return Ok(Some(Pkt::ResponseEnd)),
            3 => return Err(PktError::Malformed("packet length 0003 is reserved".into())),
            n if n > MAX_PKT_LEN => {
                return Err(PktError::Malformed(format!(
                    "packet length {n} is over the maximum {MAX_PKT_LEN}"
                )));
            }
            _ => {}
        }
        let mut data = vec![0u8; n - 4];
        if read_full(&mut self.inner, &mut data)? < data.len() {
            return Err(PktError::Malformed(
                "the stream ends inside a packet".into(),
            ));
        }
        if data.last() == Some(&b'\n') {
            data.pop();
        }
        Ok(Some(Pkt::Data(data)))
    }

    /// Like [`Self::next_pkt`], but the end of the stream is an error: every message this
    /// client reads ends with a flush.
    pub fn expect_pkt(&mut self) -> Result<Pkt, PktError> {
        self.next_pkt()?.ok_or_else(|| {
            PktError::Malformed("the response ends before its closing flush packet".into())
        })
    }
}

/// Fills `buf` as far as the stream allows; returns how many bytes were read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The message of an `ERR <message>` packet, which a server sends instead of its answer.
pub fn err_message(data: &[u8]) -> Option<String> {
    data.strip_prefix(b"ERR ")
        .map(|m| String::from_utf8_lossy(m).into_owned())
}

/// Appends one data packet holding `line` and an LF.
pub fn write_line(out: &mut Vec<u8>, line: &str) {
    let len = line.len() + 1 + 4;
    debug_assert!(len <= MAX_PKT_LEN, "request lines are short");
    out.extend_from_slice(format!("{len:04x}").as_bytes());
    out.extend_from_slice(line.as_bytes());
    out.push(b'\n');
}

pub fn write_delim(out: &mut Vec<u8>) {
    out.extend_from_slice(b"0001");
}

pub fn write_flush(out: &mut Vec<u8>) {
    out.extend_from_slice(b"0000");
}

/// A reader that fails once more than `limit` bytes have been read through it, so a response
/// is capped while it streams rather than after it was buffered.
pub struct Capped<R> {
    inner: R,
    left: u64,
    limit: u64,
}

/// The error [`Capped`] fails with; recognise it with [`is_over_cap`].
#[derive(Debug)]
struct OverCap(u64);

impl std::fmt::Display for OverCap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the response is larger than {} bytes", self.0)
    }
}

impl std::error::Error for OverCap {}

impl<R> Capped<R> {
    pub fn new(inner: R, limit: u64) -> Self {
        Self {
            inner,
            left: limit,
            limit,
        }
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // One byte more tells a body of exactly `limit` bytes from a longer one.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::other(OverCap(self.limit))),
            };
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Whether an I/O error is [`Capped`]'s "over the limit".
pub fn is_over_cap(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<OverCap>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8]) -> Result<Vec<Pkt>, String> {
        let mut r = PktReader::new(bytes);
        let mut out = Vec::new();
        loop {
            match r.next_pkt() {
                Ok(Some(p)) => out.push(p),
                Ok(None) => return Ok(out),
                Err(PktError::Malformed(m)) => return Err(m),
                Err(PktError::Io(e)) => return Err(e.to_string()),
            }
        }
    }

    #[test]
    fn packets_are_read_as_the_documentation_shows_them() {
        // The examples of gitprotocol-common(5): "0006a\n", "0005a", "000bfoobar\n", "0004".
        assert_eq!(
            read_all(b"0006a\n0005a000bfoobar\n00040000000100020000").unwrap(),
            vec![
                Pkt::Data(b"a".to_vec()),
                Pkt::Data(b"a".to_vec()),
                Pkt::Data(b"foobar".to_vec()),
                Pkt::Data(Vec::new()),
                Pkt::Flush,
                Pkt::Delim,
                Pkt::ResponseEnd,
                Pkt::Flush,
            ]
        );
        // 8-bit clean: a NUL and high bytes survive.
        assert_eq!(
            read_all(b"0008a\0\xff\n").unwrap(),
            vec![Pkt::Data(b"a\0\xff".to_vec())]
        );
    }

    #[test]
    fn broken_framing_is_an_error_never_a_panic() {
        for (bytes, says) in [
            (&b"00"[..], "inside a packet length"),
            (b"zzzz", "bad packet length"),
            (b"0003", "reserved"),
            (b"fff1abc", "over the maximum"),
            (b"000aabc", "ends inside a packet"),
        ] {
            let err = read_all(bytes).unwrap_err();
            assert!(err.contains(says), "{bytes:?}: {err}");
        }
    }

    #[test]
    fn requests_are_framed_with_their_length() {
        let mut out = Vec::new();
        write_line(&mut out, "command=ls-refs");
        write_delim(&mut out);
        write_line(&mut out, "peel");
        write_flush(&mut out);
        assert_eq!(out, b"0014command=ls-refs\n00010009peel\n0000");
        assert_eq!(
            read_all(&out).unwrap(),
            vec![
                Pkt::Data(b"command=ls-refs".to_vec()),
                Pkt::Delim,
                Pkt::Data(b"peel".to_vec()),
                Pkt::Flush
            ]
        );
    }

    #[test]
    fn the_cap_allows_exactly_the_limit_and_fails_beyond_it() {
        let mut exact = Vec::new();
        Capped::new(&b"12345"[..], 5)
            .read_to_end(&mut exact)
            .unwrap();
        assert_eq!(exact, b"12345");
        let err = Capped::new(&b"123456"[..], 5)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(is_over_cap(&err), "{err}");
        assert!(!is_over_cap(&io::Error::other("other")));
    }

    #[test]
    fn err_packets_carry_the_servers_message() {
        assert_eq!(
            err_message(b"ERR access denied").as_deref(),
            Some("access denied")
        );
        assert_eq!(err_message(b"0000abcd refs/tags/ERR"), None);
    }
}
