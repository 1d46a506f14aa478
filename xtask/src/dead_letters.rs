//! `cargo xtask dead-letters`: lists the fan-out events post-service's relay gave up on, and
//! requeues them, through post-service's admin RPCs with the admin token of `up`.

use std::process::ExitCode;

use anyhow::Result;
use feedline_proto::post::v1::post_service_client::PostServiceClient;
use feedline_proto::post::v1::{ListDeadLettersRequest, RequeueDeadLettersRequest};
use tonic::Request;

/// What to do with the dead letters.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Print every dead letter, oldest first.
    List,
    /// Requeue these event ids.
    Requeue(Vec<i64>),
    /// Requeue every dead letter.
    RequeueAll,
}

/// Runs `action` against post-service at `addr`.
pub async fn run(addr: &str, action: Action) -> Result<ExitCode> {
    let channel = crate::logs_app::connect(addr).await?;
    let mut client = PostServiceClient::new(channel);
    match action {
        Action::List => {
            let mut page_token = String::new();
            let mut total = 0;
            loop {
                let page = client
                    .list_dead_letters(authorized(ListDeadLettersRequest {
                        page_size: 1000,
                        page_token,
                    })?)
                    .await
                    .map_err(|s| failed("ListDeadLetters", &s))?
                    .into_inner();
                for letter in &page.dead_letters {
                    let dead_ms = letter
                        .dead_time
                        .as_ref()
                        .and_then(feedline_proto::timestamp_to_millis)
                        .unwrap_or(0);
                    println!(
                        "{}\t{}\tattempts={}\tdead_at_ms={dead_ms}\t{}",
                        letter.event_id, letter.kind, letter.attempts, letter.error
                    );
                }
                total += page.dead_letters.len();
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            println!("{total} dead letter(s)");
        }
        Action::Requeue(ids) => requeue(&mut client, ids, false).await?,
        Action::RequeueAll => requeue(&mut client, Vec::new(), true).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn requeue(
    client: &mut PostServiceClient<tonic::transport::Channel>,
    event_ids: Vec<i64>,
    all: bool,
) -> Result<()> {
    let answer = client
        .requeue_dead_letters(authorized(RequeueDeadLettersRequest { event_ids, all })?)
        .await
        .map_err(|s| failed("RequeueDeadLetters", &s))?
        .into_inner();
    println!("{} event(s) back in the outbox", answer.requeued);
    Ok(())
}

/// `message` with the stored admin token, when `up` left one.
fn authorized<T>(message: T) -> Result<Request<T>> {
    let mut request = Request::new(message);
    if let Some(bearer) = crate::auth::stored_admin_token() {
        let value = feedline_auth::bearer_value(&bearer)
            .map_err(|e| anyhow::anyhow!("the stored admin token: {e}"))?;
        request.metadata_mut().insert("authorization", value);
    }
    Ok(request)
}

fn failed(rpc: &str, status: &tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{rpc}: {}", crate::logs_app::describe(status))
}
