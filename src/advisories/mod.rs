//! Security advisories against a server's pinned and proposed releases, from OSV.
//!
//! Owns: which packages a server is ([`package`]: root manifests read from git objects, the
//! packages its release channels name, config overrides), the OSV client ([`osv`]: one
//! `querybatch` for the whole fleet, split and paginated as documented, then each advisory's
//! record), the detail cache trait ([`VulnCache`], keyed by id and `modified`), the decisions
//! for one server ([`assess`]: affected pinned, affected proposed, fixed by the proposed
//! release, fixed by a newer proposable release; pure), and the texts people read about them
//! ([`render`]: the PR table, the `[security]` prefix, the emails; pure).
//!
//! The pipeline's calls, in order:
//! 1. per server, [`detect`] at the pinned commit (or config's packages), then a [`ServerQuery`];
//! 2. once per run, [`lookup`] for every server (the one batch request; blocking);
//! 3. per server, [`assess`] with the fleet's answer, or [`AdvisoryReport::unavailable`] with
//!    the last stored report when the lookup failed: failure is never "no advisories";
//! 4. per server, [`notices`] (what to tell the owners, each with its outbox dedupe key) and the
//!    texts in [`render`].
//!
//! It sends package names and versions to the advisory service, nothing else. It does not store
//! anything (the state store implements [`VulnCache`] and keeps the last report), send mail,
//! label PRs or read config: the pipeline does, with what this module decides.

pub mod assess;
pub mod cache;
pub mod fleet;
pub mod notices;
pub mod osv;
pub mod package;
pub mod ranges;
pub mod render;
pub mod severity;

pub use assess::{Advisory, AdvisoryReport, LookupFailure, assess};
pub use cache::{CachedVuln, MemoryVulnCache, VulnCache};
pub use fleet::{Detail, FleetAnswer, ServerQuery, lookup};
pub use notices::{Notice, notices};
pub use osv::{BATCH_LIMIT, DEFAULT_OSV_URL, OsvClient, PackageQuery};
pub use package::{DetectedPackage, Detection, Ecosystem, PackageRef, detect};
pub use severity::Severity;
