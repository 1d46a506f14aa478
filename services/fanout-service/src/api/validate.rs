//! fanout-service's input rules, as every service keeps them: in `api/validate`, beside the
//! handlers that apply them.

use feedline_proto::fanout::v1::FanoutRequest;
use feedline_service_kit::validation::FieldViolation;
use tonic::Status;

/// The longest replay an operator may ask for, in minutes (a week, the longest retention).
pub const MAX_REPLAY_MINUTES: u32 = 10_080;
/// Most events in one request, as the contract says.
pub const MAX_EVENTS_PER_REQUEST: usize = 1000;

/// ReplayOutbox's `since_minutes`: 0 (the whole retained window) to [`MAX_REPLAY_MINUTES`].
pub fn replay_minutes(minutes: u32) -> Result<u32, Status> {
    if minutes > MAX_REPLAY_MINUTES {
        return Err(feedline_service_kit::status::invalid_argument(&[
            FieldViolation::new(
                "since_minutes",
                format!("at most {MAX_REPLAY_MINUTES} (0 replays the whole retained window)"),
            ),
        ]));
    }
    Ok(minutes)
}

/// A FanoutRequest holds 1 to [`MAX_EVENTS_PER_REQUEST`] events.
pub fn request_events(request: &FanoutRequest) -> Result<(), Status> {
    if request.events.is_empty() || request.events.len() > MAX_EVENTS_PER_REQUEST {
        return Err(Status::invalid_argument(format!(
            "a FanoutRequest holds 1 to {MAX_EVENTS_PER_REQUEST} events, got {}",
            request.events.len()
        )));
    }
    Ok(())
}
