//! GitHub forge (being written).

use std::time::Duration;

use crate::secret::Secret;

pub struct GithubSettings {
    pub api_url: String,
    pub owner: String,
    pub repo: String,
    pub token: Option<Secret>,
    pub timeout: Duration,
    pub max_retries: u32,
    pub max_rate_limit_wait: Duration,
}

pub struct GithubForge;

impl GithubForge {
    #[allow(clippy::new_ret_no_self)]
    pub fn new(_s: GithubSettings) -> anyhow::Result<super::local::LocalForge> {
        anyhow::bail!("the GitHub forge is not available in this build")
    }
}
