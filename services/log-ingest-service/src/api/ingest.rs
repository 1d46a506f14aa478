//! Ingest and IngestStream: validate, submit to the pipeline, answer once committed.

use std::pin::Pin;
use std::sync::Arc;

use feedline_proto::logs::v1::{
    IngestRequest, IngestResponse, IngestStreamRequest, IngestStreamResponse,
};
use feedline_service_kit::layers::{OpenStream, hold};
use futures::stream::{FuturesUnordered, StreamExt as _};
use prost::Message as _;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument as _;

use super::AppState;
use super::status::stream_answer;
use super::validate;
use crate::error::{Error, Result};
use crate::pipeline::{Pipeline, now_nanos};
use crate::record::Outcome;

/// Batches of one stream being written at once; beyond this the stream is not read, so a
/// client cannot make one stream hold an unbounded number of answers.
const MAX_IN_FLIGHT_PER_STREAM: usize = 256;
/// Encoded bytes of one stream's requests taken and not yet answered; at or beyond this the
/// stream is not read until answers free room (HTTP/2 flow control then pushes back on the
/// client). One request is taken while below it, so the most held is this plus one message
/// (`MAX_DECODING_BYTES`). Keeps one stream from taking the whole queue budget
/// (`FEEDLINE_INGEST_QUEUE_MIB`) from the others.
pub const MAX_IN_FLIGHT_BYTES_PER_STREAM: usize = 16 << 20;

/// The response stream type of IngestStream.
pub type AnswerStream =
    Pin<Box<dyn futures::Stream<Item = Result<IngestStreamResponse, Status>> + Send>>;

/// Handles LogService.Ingest.
pub async fn unary(
    state: &AppState,
    request: Request<IngestRequest>,
) -> Result<Response<IngestResponse>, Status> {
    let (ready, holder) = state.authenticate(request.metadata()).await?;
    let req = request.into_inner();
    let outcome = submit(
        &ready.pipeline,
        holder.app_id,
        req.encoded_len(),
        req.records,
    )
    .await?;
    Ok(Response::new(IngestResponse {
        accepted: outcome.accepted as i32,
        duplicates: outcome.duplicates as i32,
    }))
}

/// Validates and submits one call's records; returns once they are committed.
async fn submit(
    pipeline: &Pipeline,
    app_id: i64,
    encoded_len: usize,
    records: Vec<feedline_proto::logs::v1::LogRecord>,
) -> Result<Outcome> {
    pipeline.check_room(records.len())?;
    let records = validate::records(app_id, records, encoded_len, now_nanos())
        .map_err(Error::InvalidArgument)?;
    pipeline.submit(records).await
}

/// Handles LogService.IngestStream: each request is submitted as it arrives and answered in
/// completion order. On shutdown the stream stops reading, answers what it took, and ends.
/// The key is checked again for each request (from the cache): once it is revoked the stream
/// stops reading, answers what it took, and ends with UNAUTHENTICATED.
pub async fn stream(
    state: Arc<AppState>,
    mut request: Request<Streaming<IngestStreamRequest>>,
) -> Result<Response<AnswerStream>, Status> {
    // Counted against FEEDLINE_MAX_OPEN_STREAMS until the answers end or are dropped. Taken
    // before the key is checked: a refused call frees it with its (empty) answer stream.
    let open = OpenStream::take(&mut request);
    let (ready, holder) = state.authenticate(request.metadata()).await?;
    let ready = ready.clone();
    let app_id = holder.app_id;
    let mut inbound = request.into_inner();
    let (answers, rx) = mpsc::channel(MAX_IN_FLIGHT_PER_STREAM);
    let shutdown = state.shutdown.clone();
    let span = tracing::Span::current();
    tokio::spawn(
        async move {
            let mut pending = FuturesUnordered::new();
            // Encoded bytes of the requests in `pending`.
            let mut pending_bytes = 0usize;
            let mut reading = true;
            // Why the stream ends with an error once what it took is answered.
            let mut refused: Option<Status> = None;
            loop {
                let room = pending.len() < MAX_IN_FLIGHT_PER_STREAM
                    && pending_bytes < MAX_IN_FLIGHT_BYTES_PER_STREAM;
                tokio::select! {
                    message = inbound.message(), if reading && room => match message {
                        Ok(Some(req)) => match state.recheck(&ready.store, &holder).await {
                            Err(error @ Error::Unauthenticated(_)) => {
                                refused = Some(error.into());
                                reading = false;
                            }
                            // Ok, or the key could not be looked up (the database is down):
                            // that batch alone is answered with the error, in-band.
                            checked => {
                                let pipeline = ready.pipeline.clone();
                                let encoded = req.encoded_len();
                                pending_bytes += encoded;
                                pending.push(async move {
                                    let IngestStreamRequest { request_id, records } = req;
                                    let result = match checked {
                                        Ok(()) => submit(&pipeline, app_id, encoded, records).await,
                                        Err(error) => Err(error),
                                    };
                                    (encoded, stream_answer(request_id, result))
                                });
                            }
                        },
                        Ok(None) => reading = false,
                        Err(status) => {
                            // A broken request (too large, bad bytes, reset): what was taken
                            // is still answered, if the client listens, then the stream ends
                            // with why it stopped reading.
                            tracing::debug!(%status, "ingest stream read ended");
                            refused = Some(status);
                            reading = false;
                        }
                    },
                    Some((encoded, answer)) = pending.next(), if !pending.is_empty() => {
                        pending_bytes -= encoded;
                        if answers.send(Ok(answer)).await.is_err() {
                            break;
                        }
                    }
                    () = shutdown.cancelled(), if reading => reading = false,
                }
                if !reading && pending.is_empty() {
                    if let Some(status) = refused.take() {
                        let _ = answers.send(Err(status)).await;
                    }
                    break;
                }
            }
        }
        .instrument(span),
    );
    Ok(Response::new(Box::pin(hold(open, ReceiverStream::new(rx)))))
}
