use rmcp::{
    ServerHandler,
    handler::server::wrapper::Parameters,
    model::{Implementation, ServerCapabilities, ServerInfo},
    prompt, prompt_router, tool, tool_router,
};

use crate::params::{AddRequest, ReportArgs, ResetRequest};

const GET_DESCRIPTION: &str = "Read the counter";

#[derive(Clone)]
pub struct Counter;

#[tool_router]
impl Counter {
    #[tool(description = GET_DESCRIPTION, annotations(read_only_hint = true))]
    async fn get(&self) -> String {
        String::new()
    }

    /// Add to the counter.
    ///
    /// Negative amounts subtract.
    #[tool]
    async fn add(&self, Parameters(req): Parameters<AddRequest>) -> String {
        String::new()
    }

    #[tool(
        name = "reset_counter",
        description = "Reset the counter to a value",
        annotations(destructive_hint = true, idempotent_hint = true, title = "Reset")
    )]
    async fn reset(&self, Parameters(req): Parameters<ResetRequest>) -> String {
        String::new()
    }

    // Not a tool: no attribute.
    fn helper(&self) -> &'static str {
        "delete_everything"
    }
}

#[prompt_router]
impl Counter {
    /// Write a report about the counter.
    #[prompt(name = "counter_report")]
    async fn report(&self, Parameters(args): Parameters<ReportArgs>) -> Vec<String> {
        Vec::new()
    }
}

impl ServerHandler for Counter {
    fn get_info(&self) -> ServerInfo {
        ServerInfo {
            instructions: Some("A counter. Use get before add.".into()),
            capabilities: ServerCapabilities::builder().enable_tools().build(),
            server_info: Implementation { name: "counter".to_string(), version: "0.1.0".to_string(), ..Default::default() },
            ..Default::default()
        }
    }
}

pub fn run() {}
