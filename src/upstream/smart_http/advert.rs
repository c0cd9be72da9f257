//! What an upstream's ref advertisement says, read from its pkt-lines: the v0 reference list of
//! `info/refs` (gitprotocol-pack(5) "Reference Discovery", gitprotocol-http(5) "Smart Server
//! Response"), the v2 capability advertisement and the v2 `ls-refs` answer (gitprotocol-v2(5)).
//!
//! Pure: it reads packets from any byte stream and keeps only what upkeep decides from, the tags
//! (each with its peeled object) and HEAD (its branch and commit). Branches and other refs are
//! read past, so a server that lists thousands of pull-request refs costs no memory.

use std::collections::BTreeMap;
use std::io::Read;

use serde::Serialize;

use super::pkt_line::{Pkt, PktError, PktReader, err_message};

/// Which protocol the server answered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// The original reference advertisement of `info/refs` (also sent as "version 1").
    V0,
    /// Protocol version 2: a capability advertisement, then the `ls-refs` command.
    V2,
}

/// One tag as the upstream advertises it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdvertisedTag {
    /// The tag name without `refs/tags/`.
    pub name: String,
    /// The object the ref points at (the tag object of an annotated tag).
    pub oid: String,
    /// The object an annotated tag peels to, fully (through tags of tags); `None` for a
    /// lightweight tag.
    pub peeled: Option<String>,
}

impl AdvertisedTag {
    /// The object the tag finally names: what libgit2's `peel` reaches, and for a release tag
    /// the commit the quiet key hashes.
    pub fn target(&self) -> &str {
        self.peeled.as_deref().unwrap_or(&self.oid)
    }
}

/// The upstream's HEAD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdvertisedHead {
    /// The commit HEAD resolves to.
    pub oid: String,
    /// The branch HEAD points at (`refs/heads/main`), when the server said (the `symref`
    /// capability in v0, `symref-target` in v2).
    pub target: Option<String>,
}

/// An upstream's tags and HEAD, as one ref advertisement listed them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Advertisement {
    pub protocol: Protocol,
    /// Every tag, sorted by name (byte order, as `list_tags`).
    pub tags: Vec<AdvertisedTag>,
    /// `None` when HEAD is unborn, detached without being advertised, or not advertised.
    pub head: Option<AdvertisedHead>,
    /// Tags left out because their names are not valid git ref names or not UTF-8: libgit2
    /// could not store them in the cache either.
    pub skipped_tags: usize,
}

impl Advertisement {
    /// `(tag name, object it peels to)` for every tag, sorted by name: what the cache's
    /// `list_tags` holds after a fetch, except that a tag peeling to a tree or blob is still
    /// here (the cache skips it when it peels to a commit).
    pub fn tag_targets(&self) -> Vec<(String, String)> {
        self.tags
            .iter()
            .map(|t| (t.name.clone(), t.target().to_string()))
            .collect()
    }

    /// The default branch's short name and commit, as `Fetched::default_branch` has them.
    pub fn default_branch(&self) -> Option<(String, String)> {
        let head = self.head.as_ref()?;
        let short = head.target.as_deref()?.strip_prefix("refs/heads/")?;
        Some((short.to_string(), head.oid.clone()))
    }
}

/// Why an advertisement could not be read.
#[derive(Debug)]
pub enum ParseError {
    Pkt(PktError),
    /// The packets are framed right but do not say what the protocol says they must.
    Invalid(String),
    /// The server answered with an `ERR` packet.
    Remote(String),
    /// Something this client does not speak (another object format).
    Unsupported(String),
}

impl From<PktError> for ParseError {
    fn from(e: PktError) -> Self {
        ParseError::Pkt(e)
    }
}

/// What a v2 server said it can do (only what this client uses).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct V2Capabilities {
    pub ls_refs: bool,
    /// Whether the server advertised `agent` (a client may only send its own then).
    pub agent: bool,
    /// The `object-format` value, when advertised.
    pub object_format: Option<String>,
}

/// Reads a v2 capability advertisement after its `version 2` line, up to its flush.
pub fn read_v2_capabilities<R: Read>(r: &mut PktReader<R>) -> Result<V2Capabilities, ParseError> {
    let mut caps = V2Capabilities::default();
    loop {
        match r.expect_pkt()? {
            Pkt::Flush => break,
            Pkt::Data(d) => {
                let line = text(&d)?;
                let (key, value) = line.split_once('=').unwrap_or((line, ""));
                match key {
                    "ls-refs" => caps.ls_refs = true,
                    "agent" => caps.agent = true,
                    "object-format" => caps.object_format = Some(value.to_string()),
                    _ => {}
                }
            }
            other => return Err(unexpected(&other, "the capability advertisement")),
        }
    }
    check_object_format(caps.object_format.as_deref())?;
    if !caps.ls_refs {
        return Err(ParseError::Invalid(
            "the server speaks protocol v2 but does not offer ls-refs".into(),
        ));
    }
    Ok(caps)
}

/// Reads a v0 reference list (after the `# service=` header and its flush), up to its flush.
pub fn read_v0_refs<R: Read>(r: &mut PktReader<R>) -> Result<Advertisement, ParseError> {
    let mut refs = Collector::default();
    let mut symref_head = None;
    let mut first = true;
    while let Some(data) = next_line(r, "the reference list")? {
        // The capabilities ride behind a NUL on the first ref (or on `capabilities^{}`).
        let (line, caps) = match data.iter().position(|&b| b == 0) {
            Some(nul) => (&data[..nul], Some(&data[nul + 1..])),
            None => (&data[..], None),
        };
        if let Some(caps) = caps {
            let caps = text(caps)?;
            for cap in caps.split(' ') {
                if let Some(v) = cap.strip_prefix("object-format=") {
                    check_object_format(Some(v))?;
                }
                if let Some(target) = cap.strip_prefix("symref=HEAD:") {
                    symref_head = Some(target.to_string());
                }
            }
        }
        if first && line == b"version 1" {
            continue;
        }
        first = false;
        if line.starts_with(b"shallow ") {
            continue;
        }
        let (oid, name) = split_ref(line)?;
        if name == b"capabilities^{}" {
            continue; // An empty repository: no refs, only capabilities.
        }
        match name.strip_suffix(b"^{}") {
            Some(base) => refs.peeled(base, oid),
            None => refs.add(name, oid)?,
        }
    }
    Ok(refs.finish(Protocol::V0, symref_head))
}

/// Reads the answer to `ls-refs`, up to its flush.
pub fn read_ls_refs<R: Read>(r: &mut PktReader<R>) -> Result<Advertisement, ParseError> {
    let mut refs = Collector::default();
    let mut symref_head = None;
    while let Some(data) = next_line(r, "the ls-refs answer")? {
        let mut parts = data.split(|&b| b == b' ');
        let oid = parts.next().unwrap_or_default();
        let Some(name) = parts.next() else {
            return Err(ParseError::Invalid(format!(
                "ls-refs line without a ref name: {:?}",
                lossy(&data)
            )));
        };
        let mut peeled = None;
        for attr in parts {
            if let Some(p) = attr.strip_prefix(b"peeled:") {
                peeled = Some(object_id(p)?);
            } else if let Some(t) = attr.strip_prefix(b"symref-target:")
                && name == b"HEAD"
            {
                symref_head = Some(text(t)?.to_string());
            }
        }
        if oid == b"unborn" {
            continue; // Only sent when asked for with `unborn`, which this client never does.
        }
        refs.add(name, object_id(oid)?)?;
        if let Some(p) = peeled {
            refs.peeled(name, p);
        }
    }
    Ok(refs.finish(Protocol::V2, symref_head))
}

/// The next line of a ref list in `place`; `None` at its closing flush. An `ERR` line is the
/// server's error.
fn next_line<R: Read>(r: &mut PktReader<R>, place: &str) -> Result<Option<Vec<u8>>, ParseError> {
    match r.expect_pkt()? {
        Pkt::Flush => Ok(None),
        Pkt::Data(d) => match err_message(&d) {
            Some(message) => Err(ParseError::Remote(message)),
            None => Ok(Some(d)),
        },
        other => Err(unexpected(&other, place)),
    }
}

/// Gathers refs as they stream past, keeping only tags and HEAD.
#[derive(Default)]
struct Collector {
    tags: BTreeMap<String, AdvertisedTag>,
    head: Option<String>,
    skipped: usize,
}

impl Collector {
    fn add(&mut self, name: &[u8], oid: String) -> Result<(), ParseError> {
        if name == b"HEAD" {
            self.head = Some(oid);
            return Ok(());
        }
        let Some(short) = name.strip_prefix(b"refs/tags/") else {
            return Ok(()); // Branches, pull-request refs, notes: not what upkeep decides from.
        };
        let full = std::str::from_utf8(name).ok();
        let Some(short) = std::str::from_utf8(short)
            .ok()
            .filter(|_| full.is_some_and(git2::Reference::is_valid_name))
        else {
            tracing::debug!(tag = %lossy(short), "skipping an advertised tag whose name is not a valid ref name");
            self.skipped += 1;
            return Ok(());
        };
        let tag = AdvertisedTag {
            name: short.to_string(),
            oid,
            peeled: None,
        };
        if self.tags.insert(short.to_string(), tag).is_some() {
            return Err(ParseError::Invalid(format!(
                "the tag {short} is advertised twice"
            )));
        }
        Ok(())
    }

    /// A peeled value (`name^{}` in v0, `peeled:` in v2) for a ref seen before.
    fn peeled(&mut self, name: &[u8], oid: String) {
        let tag = name
            .strip_prefix(b"refs/tags/")
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| self.tags.get_mut(s));
        if let Some(tag) = tag {
            tag.peeled = Some(oid);
        }
    }

    fn finish(self, protocol: Protocol, symref_head: Option<String>) -> Advertisement {
        Advertisement {
            protocol,
            tags: self.tags.into_values().collect(),
            head: self.head.map(|oid| AdvertisedHead {
                oid,
                target: symref_head,
            }),
            skipped_tags: self.skipped,
        }
    }
}

/// `<oid> SP <name>` of a v0 ref line.
fn split_ref(line: &[u8]) -> Result<(String, &[u8]), ParseError> {
    let Some(space) = line.iter().position(|&b| b == b' ') else {
        return Err(ParseError::Invalid(format!(
            "ref line without a name: {:?}",
            lossy(line)
        )));
    };
    Ok((object_id(&line[..space])?, &line[space + 1..]))
}

/// A SHA-1 object name, lower-cased (obj-ids are case-insensitive on the wire).
fn object_id(raw: &[u8]) -> Result<String, ParseError> {
    if raw.len() == 40 && raw.iter().all(u8::is_ascii_hexdigit) {
        Ok(String::from_utf8_lossy(raw).to_ascii_lowercase())
    } else {
        Err(ParseError::Invalid(format!(
            "not an object name: {:?}",
            lossy(raw)
        )))
    }
}

fn check_object_format(format: Option<&str>) -> Result<(), ParseError> {
    match format {
        None | Some("sha1") => Ok(()),
        Some(other) => Err(ParseError::Unsupported(format!(
            "the repository uses the {other} object format; upkeep's git library reads SHA-1 \
             repositories only"
        ))),
    }
}

fn text(bytes: &[u8]) -> Result<&str, ParseError> {
    std::str::from_utf8(bytes)
        .map_err(|_| ParseError::Invalid(format!("not UTF-8 text: {:?}", lossy(bytes))))
}

/// A short, printable rendering of bytes from the server, for messages.
fn lossy(bytes: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(120)
        .collect();
    text
}

fn unexpected(pkt: &Pkt, place: &str) -> ParseError {
    ParseError::Invalid(format!("unexpected {pkt:?} packet in {place}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::smart_http::pkt_line::{write_flush, write_line};

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";
    const C: &str = "3333333333333333333333333333333333333333";

    fn pkts(lines: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        for l in lines {
            if *l == "0000" {
                write_flush(&mut out);
            } else {
                write_line(&mut out, l);
            }
        }
        out
    }

    fn v0(lines: &[&str]) -> Result<Advertisement, ParseError> {
        read_v0_refs(&mut PktReader::new(&pkts(lines)[..]))
    }

    fn ls(lines: &[&str]) -> Result<Advertisement, ParseError> {
        read_ls_refs(&mut PktReader::new(&pkts(lines)[..]))
    }

    fn tag(name: &str, oid: &str, peeled: Option<&str>) -> AdvertisedTag {
        AdvertisedTag {
            name: name.into(),
            oid: oid.into(),
            peeled: peeled.map(str::to_string),
        }
    }

    #[test]
    fn a_v0_list_gives_tags_peeled_values_and_the_head_symref() {
        let first = format!(
            "{A} HEAD\0multi_ack side-band-64k symref=HEAD:refs/heads/main object-format=sha1 agent=git/2.47"
        );
        let ad = v0(&[
            &first,
            &format!("{A} refs/heads/main"),
            &format!("{B} refs/pull/1/head"),
            &format!("{B} refs/tags/v1.0.0"),
            &format!("{C} refs/tags/v1.1.0"),
            &format!("{A} refs/tags/v1.1.0^{{}}"),
            "0000",
        ])
        .unwrap();
        assert_eq!(ad.protocol, Protocol::V0);
        assert_eq!(
            ad.tags,
            vec![tag("v1.0.0", B, None), tag("v1.1.0", C, Some(A))]
        );
        assert_eq!(
            ad.tag_targets(),
            vec![("v1.0.0".into(), B.into()), ("v1.1.0".into(), A.into())]
        );
        assert_eq!(ad.default_branch(), Some(("main".into(), A.into())));
    }

    #[test]
    fn a_v0_list_may_open_with_version_1_or_be_empty() {
        let ad = v0(&["version 1", &format!("{B} refs/tags/x\0ofs-delta"), "0000"]).unwrap();
        assert_eq!(ad.tags, vec![tag("x", B, None)]);
        assert_eq!(ad.head, None);
        let empty = v0(&[
            "0000000000000000000000000000000000000000 capabilities^{}\0ofs-delta",
            "0000",
        ])
        .unwrap();
        assert!(empty.tags.is_empty() && empty.head.is_none());
    }

    #[test]
    fn a_v2_ls_refs_answer_gives_the_same_shape() {
        let ad = ls(&[
            &format!("{A} HEAD symref-target:refs/heads/trunk"),
            &format!("{B} refs/tags/v1.0.0"),
            &format!("{C} refs/tags/v1.1.0 peeled:{A}"),
            "0000",
        ])
        .unwrap();
        assert_eq!(ad.protocol, Protocol::V2);
        assert_eq!(
            ad.tags,
            vec![tag("v1.0.0", B, None), tag("v1.1.0", C, Some(A))]
        );
        assert_eq!(ad.default_branch(), Some(("trunk".into(), A.into())));
    }

    #[test]
    fn object_names_are_case_insensitive_and_checked() {
        let upper = A.replace('1', "A");
        let ad = ls(&[&format!("{upper} refs/tags/t"), "0000"]).unwrap();
        assert_eq!(ad.tags[0].oid, upper.to_ascii_lowercase());
        for bad in ["xyz refs/tags/t", "refs/tags/t"] {
            assert!(
                matches!(ls(&[bad, "0000"]), Err(ParseError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn hostile_names_are_skipped_and_duplicates_refused() {
        let ad = v0(&[
            &format!("{A} refs/tags/ok\0ofs-delta"),
            &format!("{A} refs/tags/bad..name"),
            &format!("{A} refs/tags/has space"),
            &format!("{A} refs/tags/trailing.lock"),
            "0000",
        ])
        .unwrap();
        assert_eq!(ad.tags, vec![tag("ok", A, None)]);
        assert_eq!(ad.skipped_tags, 3);
        let twice = v0(&[
            &format!("{A} refs/tags/t\0ofs-delta"),
            &format!("{B} refs/tags/t"),
            "0000",
        ]);
        assert!(matches!(twice, Err(ParseError::Invalid(m)) if m.contains("twice")));
    }

    #[test]
    fn err_packets_and_other_object_formats_are_reported() {
        assert!(matches!(
            v0(&["ERR upload-pack: not our ref", "0000"]),
            Err(ParseError::Remote(m)) if m == "upload-pack: not our ref"
        ));
        assert!(matches!(
            v0(&[&format!("{A} HEAD\0object-format=sha256"), "0000"]),
            Err(ParseError::Unsupported(m)) if m.contains("sha256")
        ));
        let caps = pkts(&[
            "agent=git/2.47",
            "ls-refs=unborn",
            "object-format=sha256",
            "0000",
        ]);
        assert!(matches!(
            read_v2_capabilities(&mut PktReader::new(&caps[..])),
            Err(ParseError::Unsupported(_))
        ));
    }

    #[test]
    fn v2_capabilities_need_ls_refs() {
        let caps = pkts(&["agent=git/2.47", "ls-refs=unborn", "fetch=shallow", "0000"]);
        let got = read_v2_capabilities(&mut PktReader::new(&caps[..])).unwrap();
        assert!(got.ls_refs && got.agent && got.object_format.is_none());
        let none = pkts(&["agent=x", "fetch", "0000"]);
        assert!(matches!(
            read_v2_capabilities(&mut PktReader::new(&none[..])),
            Err(ParseError::Invalid(m)) if m.contains("ls-refs")
        ));
    }

    #[test]
    fn a_response_cut_short_is_an_error() {
        let cut = pkts(&[&format!("{A} refs/tags/t")]);
        assert!(matches!(
            read_ls_refs(&mut PktReader::new(&cut[..])),
            Err(ParseError::Pkt(PktError::Malformed(m))) if m.contains("flush")
        ));
    }
}
