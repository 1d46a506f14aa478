//! An in-process OTLP/gRPC collector (traces and metrics), so tests can assert on what services
//! export.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value::Value};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

use crate::eventually;

type SpanStore = Arc<Mutex<Vec<ReceivedSpan>>>;
type MetricStore = Arc<Mutex<Vec<String>>>;

/// A running trace collector; dropping it stops the server.
pub struct OtlpReceiver {
    addr: SocketAddr,
    spans: SpanStore,
    metrics: MetricStore,
    /// The server task; Drop aborts it, which closes the listener at once instead of waiting
    /// for exporters (which keep their connections open) to hang up.
    server: JoinHandle<()>,
}

/// One exported span, flattened out of its resource and scope.
#[derive(Clone, Debug)]
pub struct ReceivedSpan {
    /// The resource's `service.name`, or "" when absent.
    pub service_name: String,
    /// The span name.
    pub name: String,
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// 16 lowercase hex digits.
    pub span_id: String,
    /// 16 hex digits, or "" for a root span.
    pub parent_span_id: String,
    /// The OTLP `SpanKind` number (2 = server, 3 = client, 4 = producer, 5 = consumer).
    pub kind: i32,
    /// Attribute values rendered as strings (arrays, maps and bytes in Debug form).
    pub attributes: BTreeMap<String, String>,
    /// Links as (trace_id, span_id) hex pairs.
    pub links: Vec<(String, String)>,
}

impl OtlpReceiver {
    /// Serves on 127.0.0.1:0 on the current tokio runtime until dropped.
    pub async fn start() -> Result<OtlpReceiver> {
        let listener = crate::ephemeral_listener()
            .await
            .context("binding the OTLP receiver")?;
        let addr = listener.local_addr()?;
        let spans = SpanStore::default();
        let metrics = MetricStore::default();
        let service = TraceServiceServer::new(Collector {
            spans: Arc::clone(&spans),
        });
        let metric_service = MetricsServiceServer::new(MetricCollector {
            names: Arc::clone(&metrics),
        });
        let server = tokio::spawn(async move {
            let served = tonic::transport::Server::builder()
                .add_service(service)
                .add_service(metric_service)
                .serve_with_incoming(TcpListenerStream::new(listener))
                .await;
            if let Err(error) = served {
                tracing::warn!(%error, "otlp receiver failed");
            }
        });
        Ok(OtlpReceiver {
            addr,
            spans,
            metrics,
            server,
        })
    }

    /// The URL to give an OTLP exporter, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every span received so far, in arrival order.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Names of every metric data set received so far (one entry per metric per export).
    pub fn metric_names(&self) -> Vec<String> {
        self.metrics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Polls until a metric called `name` has been exported; after `timeout`, fails listing
    /// the metric names that did arrive.
    pub async fn wait_for_metric(&self, timeout: Duration, name: &str) -> Result<()> {
        let what = format!("metric {name:?} exported");
        eventually(&what, timeout, || async {
            let names = self.metric_names();
            ensure!(names.iter().any(|n| n == name), "received {names:?}");
            Ok(())
        })
        .await
    }

    /// Polls until some span matches `pred` and returns it; after `timeout`, fails listing the
    /// names of the spans that did arrive.
    pub async fn wait_for_span(
        &self,
        timeout: Duration,
        pred: impl Fn(&ReceivedSpan) -> bool,
    ) -> Result<ReceivedSpan> {
        eventually("a matching span", timeout, || async {
            let spans = self.spans();
            if let Some(span) = spans.iter().find(|span| pred(span)) {
                return Ok(span.clone());
            }
            let names: Vec<&str> = spans.iter().map(|span| span.name.as_str()).collect();
            bail!("received {names:?}")
        })
        .await
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

struct Collector {
    spans: SpanStore,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let received = flatten(request.into_inner());
        self.spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(received);
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

struct MetricCollector {
    names: MetricStore,
}

#[tonic::async_trait]
impl MetricsService for MetricCollector {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let names = request
            .into_inner()
            .resource_metrics
            .into_iter()
            .flat_map(|r| r.scope_metrics)
            .flat_map(|s| s.metrics)
            .map(|m| m.name);
        self.names
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(names);
        Ok(Response::new(ExportMetricsServiceResponse {
            partial_success: None,
        }))
    }
}

fn flatten(request: ExportTraceServiceRequest) -> Vec<ReceivedSpan> {
    let mut out = Vec::new();
    for resource_spans in request.resource_spans {
        let service_name = resource_spans
            .resource
            .iter()
            .flat_map(|resource| &resource.attributes)
            .find(|kv| kv.key == "service.name")
            .map(|kv| render(kv.value.as_ref()))
            .unwrap_or_default();
        for span in resource_spans
            .scope_spans
            .into_iter()
            .flat_map(|scope| scope.spans)
        {
            out.push(ReceivedSpan {
                service_name: service_name.clone(),
                name: span.name,
                trace_id: hex(&span.trace_id),
                span_id: hex(&span.span_id),
                parent_span_id: hex(&span.parent_span_id),
                kind: span.kind,
                attributes: span
                    .attributes
                    .iter()
                    .map(|kv| (kv.key.clone(), render(kv.value.as_ref())))
                    .collect(),
                links: span
                    .links
                    .iter()
                    .map(|l| (hex(&l.trace_id), hex(&l.span_id)))
                    .collect(),
            });
        }
    }
    out
}

fn render(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        // Arrays, maps and bytes are rare in our spans; Debug is enough to assert on.
        Some(other) => format!("{other:?}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
