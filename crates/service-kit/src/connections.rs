//! Bounds the connections a server holds open (`FEEDLINE_MAX_CONNECTIONS`): at the limit the
//! server stops accepting, so further clients wait in the kernel's listen backlog (and time out
//! there) instead of costing this process memory, until a connection closes.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::{Stream, StreamExt as _};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::transport::server::Connected;

/// `incoming`, accepting a connection only while fewer than `max` it yielded are still open.
pub(crate) fn limit<I, IO>(incoming: I, max: usize) -> impl Stream<Item = io::Result<Counted<IO>>>
where
    I: Stream<Item = io::Result<IO>> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(max));
    futures::stream::unfold(
        (Box::pin(incoming), permits),
        |(mut incoming, permits)| async move {
            // Never closed, so this only waits; `accept` is not polled meanwhile.
            let permit = permits.clone().acquire_owned().await.ok()?;
            let next = incoming.next().await?;
            let counted = next.map(|io| Counted {
                io,
                _permit: permit,
            });
            Some((counted, (incoming, permits)))
        },
    )
}

pin_project_lite::pin_project! {
    /// An accepted connection holding its slot until the server drops it.
    pub(crate) struct Counted<IO> {
        #[pin]
        io: IO,
        _permit: OwnedSemaphorePermit,
    }
}

impl<IO: Connected> Connected for Counted<IO> {
    type ConnectInfo = IO::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

impl<IO: AsyncRead> AsyncRead for Counted<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.project().io.poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite> AsyncWrite for Counted<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().io.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().io.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt as _;

    #[tokio::test]
    async fn accepts_again_only_once_a_connection_closes() {
        let ios = futures::stream::iter([1, 2, 3]).map(Ok::<_, io::Error>);
        let mut limited = Box::pin(limit(ios, 2));
        let first = limited.next().await.unwrap().unwrap();
        let _second = limited.next().await.unwrap().unwrap();
        let waiting = limited.next().now_or_never();
        assert!(
            waiting.is_none(),
            "a third is not accepted while two are open"
        );
        drop(first);
        let third = limited.next().await.unwrap().unwrap();
        assert_eq!(third.io, 3);
    }
}
