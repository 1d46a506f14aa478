//! `cargo xtask replay`: asks fanout-service to have a relay replay its retained outbox window
//! (the repair after Redis lost acknowledged writes), with the admin token of `up`.

use std::process::ExitCode;

use anyhow::Result;
use feedline_proto::fanout::v1::ReplayOutboxRequest;
use feedline_proto::fanout::v1::fanout_service_client::FanoutServiceClient;
use tonic::Request;

/// Sends ReplayOutbox to `addr`; `since_minutes` 0 replays the whole window.
pub async fn run(addr: &str, since_minutes: u32) -> Result<ExitCode> {
    let channel = crate::logs_app::connect(addr).await?;
    let mut request = Request::new(ReplayOutboxRequest { since_minutes });
    if let Some(bearer) = crate::auth::stored_admin_token() {
        let value = feedline_auth::bearer_value(&bearer)
            .map_err(|e| anyhow::anyhow!("the stored admin token: {e}"))?;
        request.metadata_mut().insert("authorization", value);
    }
    let answer = FanoutServiceClient::new(channel)
        .replay_outbox(request)
        .await
        .map_err(|s| anyhow::anyhow!("ReplayOutbox: {}", crate::logs_app::describe(&s)))?
        .into_inner();
    if answer.sent {
        println!("replay asked of a connected relay");
    } else {
        println!("no relay is connected: the replay waits for the next one");
    }
    Ok(ExitCode::SUCCESS)
}
