//! The unanswered-event window of one stream, bounded in events and in bytes: when either is
//! full the stream is not read until answers free room (back-pressure, never an error).

use std::sync::Arc;

use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore};

/// Room for events read and not yet answered.
pub(super) struct Window {
    events: Arc<Semaphore>,
    bytes: Arc<Semaphore>,
    max_bytes: usize,
}

/// One event's share of the window; dropped once the event is answered.
pub(super) struct Room {
    _event: OwnedSemaphorePermit,
    _bytes: OwnedSemaphorePermit,
}

impl Window {
    /// A window of `max_events` events and `max_bytes` encoded bytes.
    pub(super) fn new(max_events: usize, max_bytes: usize) -> Self {
        let max_bytes = max_bytes.clamp(1, u32::MAX as usize);
        Self {
            events: Arc::new(Semaphore::new(max_events)),
            bytes: Arc::new(Semaphore::new(max_bytes)),
            max_bytes,
        }
    }

    /// Waits for room for one event of `bytes` encoded bytes. An event larger than the whole
    /// window waits for the window to empty, then goes alone (it already passed the message
    /// size limit). Fails only if the window was closed, which it never is.
    pub(super) async fn admit(&self, bytes: usize) -> Result<Room, AcquireError> {
        let bytes = bytes.clamp(1, self.max_bytes);
        let event = self.events.clone().acquire_owned().await?;
        let bytes = self.bytes.clone().acquire_many_owned(bytes as u32).await?;
        Ok(Room {
            _event: event,
            _bytes: bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt as _;

    #[tokio::test]
    async fn bytes_bound_the_window_as_well_as_events() {
        let window = Window::new(10, 100);
        let first = window.admit(60).await.unwrap();
        assert!(
            window.admit(50).now_or_never().is_none(),
            "60 + 50 bytes is over the window: the reader waits"
        );
        let second = window.admit(40).await.unwrap();
        drop(first);
        let third = window.admit(50).await.unwrap();
        drop((second, third));

        let window = Window::new(1, 1 << 20);
        let only = window.admit(10).await.unwrap();
        assert!(window.admit(10).now_or_never().is_none(), "one event");
        drop(only);
        assert!(window.admit(10).now_or_never().is_some());
    }

    #[tokio::test]
    async fn an_event_larger_than_the_window_goes_alone() {
        let window = Window::new(10, 100);
        let small = window.admit(10).await.unwrap();
        assert!(window.admit(1000).now_or_never().is_none());
        drop(small);
        let huge = window.admit(1000).await.unwrap();
        assert!(
            window.admit(1).now_or_never().is_none(),
            "it fills the window"
        );
        drop(huge);
        assert!(window.admit(1).now_or_never().is_some());
    }
}
