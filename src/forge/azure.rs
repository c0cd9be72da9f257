//! Azure DevOps forge (being written).

use std::time::Duration;

use crate::secret::Secret;

pub struct AzureSettings {
    pub base_url: String,
    pub organization: String,
    pub project: String,
    pub repository: String,
    pub api_version: String,
    pub token: Option<Secret>,
    pub timeout: Duration,
    pub max_retries: u32,
    pub max_rate_limit_wait: Duration,
}

pub struct AzureForge;

impl AzureForge {
    #[allow(clippy::new_ret_no_self)]
    pub fn new(_s: AzureSettings) -> anyhow::Result<super::local::LocalForge> {
        anyhow::bail!("the Azure DevOps forge is not available in this build")
    }
}
