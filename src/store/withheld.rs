//! Store queries for the withheld versions a server's notes have already named.
//!
//! A version a registry holds back (npm deprecation, PyPI yank, MCP Registry deletion, above
//! the followed dist-tag) is said in the run's notes the first full check that sees it, not on
//! every full check after: `withheld_noted` keeps, per server, the set last said. A version
//! that stops being notable leaves the set, so if it is held back again later it is said again.

use super::db::{Exec as _, params};
use super::{Store, now, ts};

/// One withheld version as the notes name it: the channel, the version and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NotedWithheld {
    pub channel: String,
    pub version: String,
    pub reason: String,
}

impl Store {
    /// The withheld versions already said for `server`.
    pub fn withheld_noted(&self, server: &str) -> anyhow::Result<Vec<NotedWithheld>> {
        Ok(self.conn()?.query_map(
            "SELECT channel, version, reason FROM withheld_noted WHERE server = ?1
             ORDER BY channel, version, reason",
            params![server],
            |r| {
                Ok(NotedWithheld {
                    channel: r.get(0)?,
                    version: r.get(1)?,
                    reason: r.get(2)?,
                })
            },
        )?)
    }

    /// Replace the set said for `server` with `current` (what this full check found notable),
    /// in one transaction. Rows already there keep their first `noted_at`.
    pub fn put_withheld_noted(
        &self,
        server: &str,
        current: &[NotedWithheld],
    ) -> anyhow::Result<()> {
        let at = ts(now());
        let before = self.withheld_noted(server)?;
        self.transaction(|tx| {
            for gone in before.iter().filter(|w| !current.contains(w)) {
                tx.execute(
                    "DELETE FROM withheld_noted
                     WHERE server = ?1 AND channel = ?2 AND version = ?3 AND reason = ?4",
                    params![server, gone.channel, gone.version, gone.reason],
                )?;
            }
            for w in current {
                tx.execute(
                    "INSERT INTO withheld_noted(server, channel, version, reason, noted_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT DO NOTHING",
                    params![server, w.channel, w.version, w.reason, at],
                )?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noted(version: &str, reason: &str) -> NotedWithheld {
        NotedWithheld {
            channel: "npm".into(),
            version: version.into(),
            reason: reason.into(),
        }
    }

    crate::store::testing::on_both_backends! {
        fn the_set_is_replaced_per_server_and_survives_reopening() {
            let dir = tempfile::tempdir().unwrap();
            let store = crate::store::testing::open(dir.path());
            assert!(store.withheld_noted("a").unwrap().is_empty());
            store
                .put_withheld_noted(
                    "a",
                    &[noted("1.2.0", "deprecated"), noted("1.3.0", "yanked")],
                )
                .unwrap();
            store
                .put_withheld_noted("b", &[noted("9.0.0", "deprecated")])
                .unwrap();
            // 1.2.0 is no longer held back (or no longer notable); 1.4.0 is new.
            store
                .put_withheld_noted(
                    "a",
                    &[noted("1.3.0", "yanked"), noted("1.4.0", "deprecated")],
                )
                .unwrap();
            drop(store);
            let store = crate::store::testing::open(dir.path());
            assert_eq!(
                store.withheld_noted("a").unwrap(),
                [noted("1.3.0", "yanked"), noted("1.4.0", "deprecated")]
            );
            assert_eq!(
                store.withheld_noted("b").unwrap(),
                [noted("9.0.0", "deprecated")]
            );
            store.put_withheld_noted("a", &[]).unwrap();
            assert!(store.withheld_noted("a").unwrap().is_empty());
        }
    }
}
