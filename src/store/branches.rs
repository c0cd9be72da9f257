//! Store queries for the bot branches upkeep writes, and the forge's warnings per server.
//!
//! `bot_branches` keeps, per server and branch, the head commit upkeep last wrote there and,
//! while a write is in flight, the base commit it is written on. That record, not the commits
//! on the branch, is what tells upkeep's branch from one a person touched (the decision is
//! `pipeline::plan::owner`). `forge_warnings` keeps what the forge did not do on the server's
//! last full check (a reviewer not found, a label refused), for `status`.

use super::db::{Exec as _, OptionalExt as _, params};
use super::{Store, now, ts};

/// What upkeep remembers writing to one bot branch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WrittenBranch {
    /// The head upkeep's last completed write left (None: no write completed yet).
    pub head: Option<String>,
    /// Set from just before a write until it is recorded: the base commit the new commit sits
    /// on. A crash between the forge's push and the record leaves it set.
    pub pending_base: Option<String>,
}

impl Store {
    /// The record of `branch`, if upkeep ever wrote (or started writing) it.
    pub fn written_branch(
        &self,
        server: &str,
        branch: &str,
    ) -> anyhow::Result<Option<WrittenBranch>> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT head, pending_base FROM bot_branches WHERE server = ?1 AND branch = ?2",
                params![server, branch],
                |r| {
                    Ok(WrittenBranch {
                        head: r.get(0)?,
                        pending_base: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    /// Just before a write to `branch`: the commit it will sit on. Committed before the push,
    /// so a crash after the push can still be recognised as upkeep's own write.
    pub fn branch_write_started(
        &self,
        server: &str,
        branch: &str,
        base_commit: &str,
    ) -> anyhow::Result<()> {
        self.write(
            "INSERT INTO bot_branches(server, branch, head, pending_base, updated_at)
             VALUES (?1, ?2, NULL, ?3, ?4)
             ON CONFLICT(server, branch) DO UPDATE SET pending_base = ?3, updated_at = ?4",
            params![server, branch, base_commit, ts(now())],
        )?;
        Ok(())
    }

    /// Right after a write to `branch` returned: the head it left.
    pub fn branch_written(&self, server: &str, branch: &str, head: &str) -> anyhow::Result<()> {
        self.write(
            "INSERT INTO bot_branches(server, branch, head, pending_base, updated_at)
             VALUES (?1, ?2, ?3, NULL, ?4)
             ON CONFLICT(server, branch) DO UPDATE SET head = ?3, pending_base = NULL, updated_at = ?4",
            params![server, branch, head, ts(now())],
        )?;
        Ok(())
    }

    /// Replace the server's forge warnings (none: forget them).
    pub fn put_forge_warnings(&self, server: &str, warnings: &[String]) -> anyhow::Result<()> {
        if warnings.is_empty() {
            self.write(
                "DELETE FROM forge_warnings WHERE server = ?1",
                params![server],
            )?;
        } else {
            self.write(
                "INSERT INTO forge_warnings(server, warnings, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(server) DO UPDATE SET warnings = ?2, updated_at = ?3",
                params![server, serde_json::to_string(warnings)?, ts(now())],
            )?;
        }
        Ok(())
    }

    /// The forge's warnings of the server's last full check.
    pub fn forge_warnings(&self, server: &str) -> anyhow::Result<Vec<String>> {
        let text: Option<String> = self
            .conn()?
            .query_row(
                "SELECT warnings FROM forge_warnings WHERE server = ?1",
                params![server],
                |r| r.get(0),
            )
            .optional()?;
        Ok(match text {
            Some(t) => serde_json::from_str(&t)?,
            None => Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::store::testing::on_both_backends! {
        fn a_write_is_pending_until_recorded_and_warnings_round_trip() {
            let dir = tempfile::tempdir().unwrap();
            let store = crate::store::testing::open(dir.path());
            assert_eq!(store.written_branch("s", "upkeep/s").unwrap(), None);
            store
                .branch_write_started("s", "upkeep/s", "base1")
                .unwrap();
            assert_eq!(
                store.written_branch("s", "upkeep/s").unwrap(),
                Some(WrittenBranch {
                    head: None,
                    pending_base: Some("base1".into())
                })
            );
            store.branch_written("s", "upkeep/s", "head1").unwrap();
            store
                .branch_write_started("s", "upkeep/s", "base2")
                .unwrap();
            assert_eq!(
                store.written_branch("s", "upkeep/s").unwrap(),
                Some(WrittenBranch {
                    head: Some("head1".into()),
                    pending_base: Some("base2".into())
                }),
                "the last completed head is kept while the next write is in flight"
            );
            store.branch_written("s", "upkeep/s", "head2").unwrap();
            assert_eq!(
                store.written_branch("s", "upkeep/s").unwrap().unwrap(),
                WrittenBranch {
                    head: Some("head2".into()),
                    pending_base: None
                }
            );
            assert!(store.written_branch("s", "upkeep/s-r2").unwrap().is_none());

            assert!(store.forge_warnings("s").unwrap().is_empty());
            store.put_forge_warnings("s", &["w".into()]).unwrap();
            assert_eq!(store.forge_warnings("s").unwrap(), vec!["w"]);
            store.put_forge_warnings("s", &[]).unwrap();
            assert!(store.forge_warnings("s").unwrap().is_empty());
        }
    }
}
