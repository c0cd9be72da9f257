//! License judgement (temporary minimal version: exact-text comparison of root license files).

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

#[derive(Debug, Clone, Default)]
pub struct LicensePolicy {
    pub allowed: Vec<String>,
    pub review_codes: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct LicenseSnapshot {
    pub files: Vec<SnapFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapFile {
    pub path: String,
    pub sha256: String,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Unchanged,
    Cosmetic,
    ReviewRequired,
}

impl Verdict {
    pub fn code(&self) -> &'static str {
        match self {
            Verdict::Unchanged => "unchanged",
            Verdict::Cosmetic => "cosmetic",
            Verdict::ReviewRequired => "review-required",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileJudgement {
    pub path: String,
    pub code: String,
    pub reason: String,
    pub unified_diff: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LicenseJudgement {
    pub verdict: Verdict,
    pub reason: String,
    pub files: Vec<FileJudgement>,
    pub fingerprint: String,
    pub summary: Vec<String>,
}

pub fn scan(repo: &git2::Repository, commit: git2::Oid) -> anyhow::Result<LicenseSnapshot> {
    let tree = repo.find_commit(commit)?.tree()?;
    let mut files = Vec::new();
    for e in &tree {
        let name = e.name().unwrap_or("").to_string();
        if name.to_ascii_uppercase().starts_with("LICENSE")
            && e.kind() == Some(git2::ObjectType::Blob)
        {
            let blob = repo.find_blob(e.id())?;
            files.push(SnapFile {
                path: name,
                sha256: hex::encode(sha2::Sha256::digest(blob.content())),
                text: String::from_utf8_lossy(blob.content()).into_owned(),
            });
        }
    }
    Ok(LicenseSnapshot { files })
}

pub fn judge(
    old: &LicenseSnapshot,
    new: &LicenseSnapshot,
    _policy: &LicensePolicy,
) -> LicenseJudgement {
    let mut files = Vec::new();
    for n in &new.files {
        match old.files.iter().find(|o| o.path == n.path) {
            Some(o) if o.sha256 == n.sha256 => {}
            Some(o) => files.push(FileJudgement {
                path: n.path.clone(),
                code: "text-changed".into(),
                reason: "license text changed".into(),
                unified_diff: Some(
                    similar::TextDiff::from_lines(&o.text, &n.text)
                        .unified_diff()
                        .header(&n.path, &n.path)
                        .to_string(),
                ),
            }),
            None => files.push(FileJudgement {
                path: n.path.clone(),
                code: "file-added".into(),
                reason: "added".into(),
                unified_diff: None,
            }),
        }
    }
    let verdict = if files.is_empty() {
        Verdict::Unchanged
    } else {
        Verdict::ReviewRequired
    };
    let mut h = sha2::Sha256::new();
    for f in &new.files {
        h.update(f.path.as_bytes());
        h.update(f.sha256.as_bytes());
    }
    LicenseJudgement {
        verdict,
        reason: files
            .first()
            .map_or_else(|| "no license change".to_string(), |f| f.reason.clone()),
        summary: files
            .iter()
            .map(|f| format!("{}: {}", f.path, f.reason))
            .collect(),
        files,
        fingerprint: hex::encode(h.finalize()),
    }
}
