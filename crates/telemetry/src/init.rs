//! Installs the process-wide tracing subscriber, meter provider and, when configured, the OTLP
//! exporters and the admin server.

use std::net::SocketAddr;

use opentelemetry::global;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Dispatch;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::json_log::JsonWithTraceIds;
use crate::metrics::{self, AdminServer};
use crate::{LogFormat, TelemetrySettings};

/// Directives always added to the filter. The OpenTelemetry SDK reports export failures through
/// `tracing` itself: with no collector listening that would print an error on every batch, and
/// feeding its own events back into the exporter can loop. sqlx logs every statement at INFO.
const QUIET: &[&str] = &[
    "opentelemetry=off",
    "opentelemetry_sdk=off",
    "opentelemetry_otlp=off",
    "sqlx=warn",
    "h2=warn",
    "hyper=warn",
    "tower=warn",
];

/// Why telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built (for example a malformed endpoint).
    #[error("otlp exporter: {0}")]
    Exporter(String),
    /// A global subscriber was already installed in this process.
    #[error("tracing subscriber: {0}")]
    Subscriber(String),
    /// The admin port (`FEEDLINE_METRICS_ADDR`) could not be bound.
    #[error("metrics server on {0} (FEEDLINE_METRICS_ADDR): {1}")]
    MetricsListen(SocketAddr, String),
}

/// Keeps the providers and the admin server alive; call [`TelemetryGuard::shutdown`] last,
/// after the server has drained, so the spans of the shutdown itself are exported. Dropping it
/// without shutdown loses the spans still buffered (the admin server then ends with the runtime).
#[must_use = "dropping the guard without shutdown loses buffered spans"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
    /// The global meter provider, installed whatever the settings: it pushes OTLP when
    /// configured and feeds `/metrics` when the admin server runs.
    meters: SdkMeterProvider,
    /// Serves `/metrics` and `/healthz`; stopped first by [`TelemetryGuard::shutdown`].
    admin: Option<AdminServer>,
}

impl TelemetryGuard {
    /// Whether spans are exported over OTLP.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Where `/metrics` is served (the bound port, also when the setting asked for port 0).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|admin| admin.addr)
    }

    /// Exports every buffered span and metric now.
    pub async fn flush(&self) {
        let meters = self.meters.clone();
        let _ = tokio_blocking(move || meters.force_flush().map_err(|e| e.to_string())).await;
        if let Some(provider) = self.provider.clone() {
            // The batch processor blocks on its own thread; on a current-thread runtime a direct
            // call would wait on the very runtime it blocks (see shared/versions.md, pitfall 3).
            let _ = tokio_blocking(move || provider.force_flush().map_err(|e| e.to_string())).await;
        }
    }

    /// Stops the admin server, then flushes and stops the exporters.
    pub async fn shutdown(self) {
        if let Some(admin) = self.admin {
            admin.stop().await;
        }
        let meters = self.meters;
        if let Err(error) =
            tokio_blocking(move || meters.shutdown().map_err(|e| e.to_string())).await
        {
            eprintln!("telemetry shutdown (metrics): {error}");
        }
        let Some(provider) = self.provider else {
            return;
        };
        if let Err(error) =
            tokio_blocking(move || provider.shutdown().map_err(|e| e.to_string())).await
        {
            // The subscriber may already be gone: this is the process's last word.
            eprintln!("telemetry shutdown: {error}");
        }
    }
}

/// Runs a blocking SDK call on tokio's blocking pool and flattens its outcome into a message.
async fn tokio_blocking(
    f: impl FnOnce() -> Result<(), String> + Send + 'static,
) -> Result<(), String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| e.to_string())?
}

/// Installs the global subscriber (log lines to stderr, text or JSON; spans to OTLP when
/// configured), the W3C propagator and the global meter provider, and starts the admin server
/// when the settings name its address. Call once, from inside a tokio runtime (the tonic
/// exporters and the admin server need one).
///
/// Takes [`TelemetrySettings`] (what a service reads with [`TelemetrySettings::from_env`]) or
/// a [`TelemetryConfig`](crate::TelemetryConfig) (text logs, no admin port, metrics to the traces' endpoint).
pub fn init(settings: impl Into<TelemetrySettings>) -> Result<TelemetryGuard, TelemetryError> {
    let settings: TelemetrySettings = settings.into();
    let config = &settings.config;
    global::set_text_map_propagator(TraceContextPropagator::new());

    let mut filter = EnvFilter::new(config.log_filter.as_deref().unwrap_or("info"));
    for directive in QUIET {
        if let Ok(d) = directive.parse() {
            filter = filter.add_directive(d);
        }
    }
    // Colour only on a terminal: logs redirected to files or collected by ECS stay plain text.
    let (text, json, dispatch_slot) = match settings.log_format {
        LogFormat::Text => {
            let text = tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
            (Some(text), None, None)
        }
        LogFormat::Json => {
            let format = JsonWithTraceIds::new();
            let slot = format.dispatch_slot();
            let json = tracing_subscriber::fmt::layer()
                .json()
                .event_format(format)
                .with_writer(std::io::stderr);
            (None, Some(json), Some(slot))
        }
    };

    let resource = Resource::builder()
        .with_service_name(config.service_name.clone())
        .build();
    let (meters, registry) = metrics::meter_provider(&settings.metrics, resource.clone())?;
    global::set_meter_provider(meters.clone());
    let admin = match settings.metrics.admin_addr.zip(registry) {
        Some((addr, registry)) => Some(AdminServer::start(addr, registry)?),
        None => None,
    };
    let provider = match &config.otlp_endpoint {
        None => None,
        Some(endpoint) => {
            let exporter = SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.clone())
                .build()
                .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
            Some(
                SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(resource.clone())
                    .build(),
            )
        }
    };
    // JSON lines name their span even when nothing is exported: a provider without processors
    // gives each span ids of its own (the no-op tracer would repeat the caller's) and drops it
    // at its end. Text lines show no ids, so they keep the cheaper no-op tracer.
    let ids_only = (provider.is_none() && settings.log_format == LogFormat::Json)
        .then(|| SdkTracerProvider::builder().with_resource(resource).build());

    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json);
    if let Some(provider) = &provider {
        global::set_tracer_provider(provider.clone());
    }
    let dispatch: Dispatch = match provider.as_ref().or(ids_only.as_ref()) {
        Some(provider) => {
            let tracer = provider.tracer(config.service_name.clone());
            registry
                .with(lean(tracing_opentelemetry::layer().with_tracer(tracer)))
                .into()
        }
        // Without export, spans still get ids so that trace context is propagated downstream.
        None => registry.with(lean(tracing_opentelemetry::layer())).into(),
    };
    if let Some(slot) = dispatch_slot {
        let _ = slot.set(dispatch.downgrade());
    }
    dispatch
        .try_init()
        .map_err(|e| TelemetryError::Subscriber(e.to_string()))?;
    Ok(TelemetryGuard {
        provider,
        meters,
        admin,
    })
}

/// The OpenTelemetry layer without the work it would do on every poll of an instrumented
/// future: busy/idle time (two clock reads per enter and exit), thread attributes, and making
/// the span's context the thread's current one (nothing here reads `Context::current()`: trace
/// context is injected from the span explicitly, see `propagation`). A read path polls a few
/// spans dozens of times per call; in a side-by-side feed benchmark the saving was within noise
/// (about 1%), so this is about not paying for attributes nobody reads.
fn lean<S, T>(
    layer: tracing_opentelemetry::OpenTelemetryLayer<S, T>,
) -> tracing_opentelemetry::OpenTelemetryLayer<S, T>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    T: opentelemetry::trace::Tracer + 'static,
    T::Span: Send + Sync,
{
    layer
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_context_activation(false)
}
