//! JSON log lines (`FEEDLINE_LOG_FORMAT=json`): tracing-subscriber's json format with the
//! OpenTelemetry `trace_id` and `span_id` of the event's span added at the top level.

use std::fmt;
use std::sync::{Arc, OnceLock};

use opentelemetry::trace::TraceContextExt as _;
use tracing::dispatcher::WeakDispatch;
use tracing_subscriber::fmt::format::{Format, Json, JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent};
use tracing_subscriber::registry::LookupSpan;

/// tracing-subscriber's json event format, plus `"trace_id"` and `"span_id"` (hex, as Jaeger
/// shows them) as the first keys of every line emitted inside a span.
///
/// tracing-opentelemetry keeps a span's ids in state of its own that only a [`tracing::Dispatch`]
/// can reach, and while an event is being formatted the thread's current dispatcher cannot be
/// had (tracing guards against re-entry): so the formatter holds a weak handle to the process's
/// dispatcher, set once it is built ([`JsonWithTraceIds::dispatch_slot`]).
pub(crate) struct JsonWithTraceIds {
    inner: Format<Json>,
    dispatch: Arc<OnceLock<WeakDispatch>>,
}

impl JsonWithTraceIds {
    pub(crate) fn new() -> Self {
        Self {
            inner: tracing_subscriber::fmt::format().json(),
            dispatch: Arc::default(),
        }
    }

    /// Where the caller puts the dispatcher once the subscriber is built; lines carry no ids
    /// before that.
    pub(crate) fn dispatch_slot(&self) -> Arc<OnceLock<WeakDispatch>> {
        self.dispatch.clone()
    }

    /// The trace and span ids of `id`'s OpenTelemetry span, if it has a valid one.
    fn ids(&self, id: &tracing::span::Id) -> Option<(String, String)> {
        let dispatch = self.dispatch.get()?.upgrade()?;
        let cx = tracing_opentelemetry::get_otel_context(id, &dispatch)?;
        let span = cx.span();
        let sc = span.span_context();
        sc.is_valid()
            .then(|| (sc.trace_id().to_string(), sc.span_id().to_string()))
    }
}

impl<S> FormatEvent<S, JsonFields> for JsonWithTraceIds
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        let ids = ctx.parent_span().and_then(|span| self.ids(&span.id()));
        let Some((trace_id, span_id)) = ids else {
            return self.inner.format_event(ctx, writer, event);
        };
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        // The json format writes one object a line: the ids go in right after its `{`.
        match line.strip_prefix('{') {
            Some(rest) => write!(
                writer,
                "{{\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\",{rest}"
            ),
            None => writer.write_str(&line),
        }
    }
}
