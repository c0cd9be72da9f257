//! Store queries for guarded auto-merge (issue 17): what upkeep last did about the forge's
//! auto-merge of each PR (`pr_auto_merge`). Written `arming` before the forge is asked, so a
//! run that dies before the answer leaves the PR marked as possibly armed, and the next run
//! asks the forge (its answer is the truth) before it pushes anything there.

use super::db::{Exec as _, OptionalExt as _, params};
use super::{Store, now, ts};

/// What upkeep last did about a PR's auto-merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoMergeRecord {
    /// `arming`, `armed`, `merged`, `refused`, `blocked` or `off`.
    pub state: String,
    /// The head commit it was armed (or judged) at.
    pub head_commit: Option<String>,
    pub strategy: Option<String>,
    /// The guards that blocked it (codes).
    pub blocked_by: Vec<String>,
    /// The forge's words when it refused.
    pub note: Option<String>,
    pub updated_at: String,
}

impl AutoMergeRecord {
    /// The forge may have auto-merge armed on the PR: upkeep armed it, or was arming it when
    /// its run ended.
    pub fn maybe_armed(&self) -> bool {
        matches!(self.state.as_str(), "arming" | "armed")
    }
}

impl Store {
    /// Keep what was done about PR `pr_id`'s auto-merge (`updated_at` is set now).
    pub fn put_auto_merge(
        &self,
        pr_id: i64,
        server: &str,
        r: &AutoMergeRecord,
    ) -> anyhow::Result<()> {
        self.write(
            "INSERT INTO pr_auto_merge(pr_id, server, state, head_commit, strategy, blocked_by,
                note, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT(pr_id) DO UPDATE SET server = ?2, state = ?3, head_commit = ?4,
                strategy = ?5, blocked_by = ?6, note = ?7, updated_at = ?8",
            params![
                pr_id,
                server,
                r.state,
                r.head_commit,
                r.strategy,
                serde_json::to_string(&r.blocked_by)?,
                r.note,
                ts(now())
            ],
        )?;
        Ok(())
    }

    /// The last record of PR `pr_id`'s auto-merge.
    pub fn auto_merge(&self, pr_id: i64) -> anyhow::Result<Option<AutoMergeRecord>> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT state, head_commit, strategy, blocked_by, note, updated_at
                 FROM pr_auto_merge WHERE pr_id = ?1",
                params![pr_id],
                |r| {
                    Ok(AutoMergeRecord {
                        state: r.get(0)?,
                        head_commit: r.get(1)?,
                        strategy: r.get(2)?,
                        blocked_by: serde_json::from_str(&r.get::<_, String>(3)?)
                            .unwrap_or_default(),
                        note: r.get(4)?,
                        updated_at: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::store::testing::on_both_backends! {
        fn a_record_is_kept_and_replaced_per_pr() {
            let dir = tempfile::tempdir().unwrap();
            let store = crate::store::testing::open(dir.path());
            assert_eq!(store.auto_merge(1).unwrap(), None);
            let mut r = AutoMergeRecord {
                state: "arming".into(),
                head_commit: Some("abc".into()),
                strategy: Some("squash".into()),
                blocked_by: vec![],
                note: None,
                updated_at: String::new(),
            };
            store.put_auto_merge(1, "s", &r).unwrap();
            assert!(store.auto_merge(1).unwrap().unwrap().maybe_armed());
            r.state = "blocked".into();
            r.blocked_by = vec!["license-change".into(), "binary".into()];
            store.put_auto_merge(1, "s", &r).unwrap();
            let got = store.auto_merge(1).unwrap().unwrap();
            assert!(!got.maybe_armed());
            assert_eq!(got.blocked_by, ["license-change", "binary"]);
            assert!(!got.updated_at.is_empty());
            assert_eq!(store.auto_merge(2).unwrap(), None);
        }
    }
}
