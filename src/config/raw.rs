//! Raw config: the TOML as written, before validation. Every field is optional so that
//! validation can report every missing or wrong value at once, each with its place. Each
//! section's raw types live beside its validator; this is the top level that holds them.

use serde::Deserialize;
use toml::Spanned;

use super::advisories::RawAdvisories;
use super::chat::RawChatDestination;
use super::email::RawEmail;
use super::freshness::RawFreshness;
use super::license::RawLicense;
use super::mcp::RawMcp;
use super::schedule::RawSchedule;
use super::servers::RawServer;
use super::service::RawService;
use super::state::RawState;

/// A value with its byte span in the file, for diagnostics.
pub type S<T> = Spanned<T>;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawConfig {
    pub state: Option<RawState>,
    pub schedule: Option<RawSchedule>,
    pub email: Option<RawEmail>,
    pub license: Option<RawLicense>,
    pub mcp: Option<RawMcp>,
    pub advisories: Option<RawAdvisories>,
    pub service: Option<RawService>,
    #[serde(default)]
    pub servers: Vec<S<RawServer>>,
    /// `[chat.<name>]`: chat destinations by name.
    pub chat: Option<std::collections::BTreeMap<String, S<RawChatDestination>>>,
    pub freshness: Option<RawFreshness>,
}
