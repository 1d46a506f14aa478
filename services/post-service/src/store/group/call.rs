//! One write call waiting in the group-commit queue: its work (statements to run on the group's
//! transaction) and the channel its answer goes back on, behind one trait so that calls of every
//! result type share the queue.

use sea_orm::DatabaseTransaction;
use tokio::sync::oneshot;
use tracing::Instrument as _;

use super::BoxFuture;
use crate::error::{Error, Result};

/// A queued call, whatever its result type.
pub(crate) trait Job: Send {
    /// Runs the call's statements on `txn` in the caller's span and keeps the outcome for
    /// later; returns whether it succeeded. A call may run twice (the first run rolled back
    /// with its whole group): only the last outcome is kept.
    fn run<'a>(&'a mut self, txn: &'a DatabaseTransaction) -> BoxFuture<'a, bool>;

    /// The span of the request that submitted the call.
    fn caller(&self) -> &tracing::Span;

    /// Answers the caller: its own outcome when the group committed, else the group's error.
    fn answer(self: Box<Self>, group: Result<(), &Error>);
}

/// A call returning `T`, with its work `F`.
pub(crate) struct Call<T, F> {
    /// The statements; run once per attempt at the group.
    work: F,
    /// Set when the call has run; sent only after the group's COMMIT.
    outcome: Option<Result<T>>,
    /// Dropped unanswered only if the writer dies; the caller then sees an internal error.
    reply: oneshot::Sender<Result<T>>,
    /// The caller's span: the call's statements, and the `traceparent` of its outbox row, belong
    /// to the caller's trace, not to the group's.
    span: tracing::Span,
}

impl<T, F> Call<T, F> {
    /// A call submitted from the current span; `reply` receives its answer.
    pub(crate) fn new(work: F, reply: oneshot::Sender<Result<T>>) -> Self {
        Self {
            work,
            outcome: None,
            reply,
            span: tracing::Span::current(),
        }
    }
}

impl<T, F> Job for Call<T, F>
where
    T: Send + 'static,
    F: for<'t> Fn(&'t DatabaseTransaction) -> BoxFuture<'t, Result<T>> + Send + 'static,
{
    fn run<'a>(&'a mut self, txn: &'a DatabaseTransaction) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let outcome = (self.work)(txn).instrument(self.span.clone()).await;
            let ok = outcome.is_ok();
            self.outcome = Some(outcome);
            ok
        })
    }

    fn caller(&self) -> &tracing::Span {
        &self.span
    }

    fn answer(self: Box<Self>, group: Result<(), &Error>) {
        let answer = match group {
            Ok(()) => self
                .outcome
                .unwrap_or_else(|| Err(Error::Internal("a grouped write never ran".into()))),
            Err(error) => Err(error.clone()),
        };
        // A caller that went away (deadline, cancel) no longer listens; its write stands.
        let _ = self.reply.send(answer);
    }
}
