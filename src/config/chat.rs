//! `[chat.<name>]`: named chat destinations (a Teams or Slack incoming webhook each), and which
//! servers send to them (`[[servers]] chat = [...]`, and `[email] chat = [...]` for every
//! server).
//!
//! A webhook URL is a credential (whoever holds it can post to the channel), so it is named
//! like every other secret: `webhook-url-env` or `webhook-url-file`, read when a message is
//! sent, never written in the config. Whether it is https can only be seen once it is read:
//! the sender refuses a plain `http://` URL unless the destination says `allow-insecure = true`
//! or it points at loopback (the convention of `urls.rs`), and `check` looks at every URL that
//! is set in its environment.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::diag::Diagnostics;
use super::raw::S;
use super::secrets::{SecretRef, secret_ref};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawChatDestination {
    pub kind: Option<S<String>>,
    pub webhook_url_env: Option<S<String>>,
    pub webhook_url_file: Option<S<String>>,
    /// Accept a plain `http://` webhook URL off loopback (a trusted network).
    pub allow_insecure: Option<S<bool>>,
}

/// A list of destination names as written (`chat = ["legal-teams"]`).
pub type RawChatList = S<Vec<S<String>>>;

/// Which service a destination's webhook belongs to: it decides the payload's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatKind {
    /// A Microsoft Teams incoming webhook (or a Workflows "post to a channel when a webhook
    /// request is received" URL): a message with an Adaptive Card attachment.
    Teams,
    /// A Slack incoming webhook: Block Kit blocks with a plain `text` fallback.
    Slack,
}

impl ChatKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChatKind::Teams => "teams",
            ChatKind::Slack => "slack",
        }
    }
}

/// One `[chat.<name>]` table.
#[derive(Debug, Clone)]
pub struct ChatDestination {
    pub name: String,
    pub kind: ChatKind,
    /// The webhook URL, resolved when a message is sent.
    pub webhook_url: SecretRef,
    pub allow_insecure: bool,
}

/// Every destination and who sends to it.
#[derive(Debug, Clone, Default)]
pub struct ChatConfig {
    pub destinations: BTreeMap<String, ChatDestination>,
    /// `[email] chat`: destinations every server's messages also go to.
    pub every_server: Vec<String>,
    /// `[[servers]] chat`, by server name.
    pub servers: BTreeMap<String, Vec<String>>,
}

impl ChatConfig {
    /// The destinations of `server`'s messages: its own, then the ones of every server, each
    /// once.
    pub fn destinations_of(&self, server: &str) -> Vec<&str> {
        let own = self.servers.get(server).into_iter().flatten();
        let mut out: Vec<&str> = Vec::new();
        for name in own.chain(&self.every_server) {
            if !out.contains(&name.as_str()) {
                out.push(name);
            }
        }
        out
    }

    /// (server, destination) for every server in `servers`: what the store fans out to.
    pub fn routes<'a>(&self, servers: impl IntoIterator<Item = &'a str>) -> Vec<(String, String)> {
        servers
            .into_iter()
            .flat_map(|s| {
                self.destinations_of(s)
                    .into_iter()
                    .map(move |d| (s.to_string(), d.to_string()))
            })
            .collect()
    }
}

/// Validate the destinations and every list that names them. `servers` holds each server's
/// `chat` list with the server's name.
pub fn validate(
    raw: Option<BTreeMap<String, S<RawChatDestination>>>,
    every_server: Option<RawChatList>,
    servers: Vec<(String, RawChatList)>,
    d: &mut Diagnostics<'_>,
) -> ChatConfig {
    let raw = raw.unwrap_or_default();
    // A destination with a problem is not in `destinations`, but naming it is not a second
    // problem: only names no `[chat.*]` table declares are.
    let declared: Vec<String> = raw.keys().cloned().collect();
    let mut destinations = BTreeMap::new();
    for (name, table) in raw {
        if let Some(dest) = destination(&name, &table, d) {
            destinations.insert(name, dest);
        }
    }
    let names = |list: Option<RawChatList>, who: &str, d: &mut Diagnostics<'_>| {
        let mut out = Vec::new();
        for n in list.map(S::into_inner).unwrap_or_default() {
            let name = n.get_ref();
            if !declared.contains(name) {
                d.at(
                    Some(n.span()),
                    "unknown-chat",
                    format!(
                        "{who}`chat`: no `[chat.{name}]` destination is configured{}",
                        known(&declared)
                    ),
                );
            } else if !out.contains(name) {
                out.push(name.clone());
            }
        }
        out
    };
    let every_server = names(every_server, "[email] ", d);
    let mut by_server = BTreeMap::new();
    for (server, list) in servers {
        let who = format!("server `{server}`: ");
        by_server.insert(server, names(Some(list), &who, d));
    }
    ChatConfig {
        destinations,
        every_server,
        servers: by_server,
    }
}

fn known(declared: &[String]) -> String {
    if declared.is_empty() {
        " (there are no `[chat.*]` tables)".into()
    } else {
        format!(" (configured: {})", declared.join(", "))
    }
}

fn destination(
    name: &str,
    table: &S<RawChatDestination>,
    d: &mut Diagnostics<'_>,
) -> Option<ChatDestination> {
    let before = d.items.len();
    let who = format!("[chat.{name}]");
    let raw = table.get_ref();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        d.at(
            Some(table.span()),
            "invalid-value",
            format!("{who}: a destination name is letters, digits, `-` and `_`"),
        );
    }
    let kind = match raw.kind.as_ref().map(|k| (k.get_ref().as_str(), k.span())) {
        Some(("teams", _)) => Some(ChatKind::Teams),
        Some(("slack", _)) => Some(ChatKind::Slack),
        Some((other, span)) => {
            d.at(
                Some(span),
                "invalid-value",
                format!("{who}: `kind`: `{other}` is not one of \"teams\", \"slack\""),
            );
            None
        }
        None => {
            d.at(
                Some(table.span()),
                "missing-key",
                format!("{who}: needs `kind = \"teams\"` or `kind = \"slack\"`"),
            );
            None
        }
    };
    let env = raw.webhook_url_env.as_ref();
    let file = raw.webhook_url_file.as_ref();
    let mark = d.items.len();
    let webhook_url = secret_ref(d, env, file, "webhook-url");
    for item in &mut d.items[mark..] {
        item.message = format!("{who}: {}", item.message);
    }
    if env.is_none() && file.is_none() {
        d.at(
            Some(table.span()),
            "missing-key",
            format!(
                "{who}: needs `webhook-url-env` (an environment variable's name) or \
                 `webhook-url-file` (a file's path): the webhook URL is a secret, never written \
                 in the config"
            ),
        );
    }
    if d.items.len() > before {
        return None;
    }
    Some(ChatDestination {
        name: name.to_string(),
        kind: kind?,
        webhook_url,
        allow_insecure: raw.allow_insecure.as_ref().is_some_and(|a| *a.get_ref()),
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{ChatKind, SecretRef, parse};

    const BASE: &str = "[[servers]]\nname = \"s\"\nupstream = \"https://example.com/s.git\"\n\
        owners = [\"o@example.com\"]\nrelease = { channel = \"git-tags\" }\n";

    fn config(email: &str, server_chat: &str, chat: &str) -> String {
        format!(
            "[email]\n{email}\n{BASE}{server_chat}\n[servers.mirror]\nforge = \"local\"\n\
             repo = \"m.git\"\n{chat}"
        )
    }

    #[test]
    fn servers_get_their_own_destinations_then_every_servers_each_once() {
        let src = config(
            "chat = [\"ops\", \"legal\"]",
            "chat = [\"legal\", \"legal\"]",
            "[chat.legal]\nkind = \"teams\"\nwebhook-url-env = \"LEGAL_URL\"\n\
             [chat.ops]\nkind = \"slack\"\nwebhook-url-file = \"/run/secrets/ops\"\n",
        );
        let c = parse(Path::new("t.toml"), &src).unwrap();
        let chat = &c.email.chat;
        assert_eq!(chat.destinations_of("s"), ["legal", "ops"]);
        assert_eq!(chat.destinations_of("other"), ["ops", "legal"]);
        assert_eq!(chat.destinations["legal"].kind, ChatKind::Teams);
        assert_eq!(
            chat.destinations["ops"].webhook_url,
            SecretRef::File("/run/secrets/ops".into())
        );
        assert_eq!(
            c.chat_routes(),
            [
                ("s".to_string(), "legal".to_string()),
                ("s".to_string(), "ops".to_string())
            ]
        );
    }

    #[test]
    fn every_problem_is_reported_at_once_and_no_url_is_shown() {
        let url = "https://hooks.slack.com/services/T0AAA/B0BBB/SeCrEtSeCrEtSeCrEt";
        let src = config(
            "chat = [\"missing\"]",
            "chat = [\"nope\"]",
            &format!(
                "[chat.both]\nkind = \"slack\"\nwebhook-url-env = \"A\"\nwebhook-url-file = \"/x\"\n\
                 [chat.neither]\nkind = \"teams\"\n\
                 [chat.odd]\nkind = \"irc\"\nwebhook-url-env = \"B\"\n\
                 [chat.nokind]\nwebhook-url-env = \"C\"\n\
                 [chat.pasted]\nkind = \"slack\"\nwebhook-url-env = \"{url}\"\n"
            ),
        );
        let errors = parse(Path::new("t.toml"), &src).unwrap_err();
        let text = errors.to_string();
        let codes: Vec<&str> = errors.0.iter().map(|d| d.code).collect();
        for code in [
            "unknown-chat",
            "conflicting-keys",
            "missing-key",
            "invalid-value",
            "secret-in-config",
        ] {
            assert!(codes.contains(&code), "{code}: {text}");
        }
        assert_eq!(
            codes.iter().filter(|c| **c == "unknown-chat").count(),
            2,
            "{text}"
        );
        // `both`, `neither`, `odd`, `nokind` and `pasted` have problems of their own, but naming
        // them is not one more.
        assert!(
            text.contains("[chat.neither]: needs `webhook-url-env`"),
            "{text}"
        );
        assert!(text.contains("[chat.nokind]: needs `kind"), "{text}");
        assert!(text.contains("looks like a Slack webhook URL"), "{text}");
        assert!(!text.contains("SeCrEt"), "{text}");
    }
}
