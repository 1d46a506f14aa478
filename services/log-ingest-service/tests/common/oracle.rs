//! The oracle: concurrent senders whose every OK makes its records an obligation, retrying
//! refused or failed calls as a client should; then a check that each obligation is in the
//! database exactly once.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use feedline_proto::logs::v1::IngestRequest;
use feedline_proto::logs::v1::log_service_client::LogServiceClient;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use tonic::Code;
use tonic::transport::Channel;

use super::{record, with_key};

/// The shape of a load.
#[derive(Clone, Debug)]
pub struct Load {
    /// Concurrent senders.
    pub senders: usize,
    /// Calls each sender makes.
    pub calls: usize,
    /// Records per call.
    pub records: usize,
    /// Which records carry a client_record_id. Loads that meet outcomes the client cannot
    /// know (a killed server, a lost database) need them on all.
    pub client_ids: ClientIds,
    /// Unique per load, so two loads on one database do not mix.
    pub tag: String,
    /// When set, senders go on past `calls` until it is raised: a load that is surely still
    /// running when a fault is injected, however fast the machine.
    pub until: Option<Arc<AtomicBool>>,
}

/// Which records of a load carry a client_record_id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientIds {
    /// Every record.
    All,
    /// Every other record.
    Half,
    /// None: on PostgreSQL such batches go through COPY.
    None,
}

/// What the senders saw.
#[derive(Default)]
pub struct Tally {
    /// Messages of every acknowledged record: the obligations.
    pub acked: HashSet<String>,
    /// Calls answered OK.
    pub ok_calls: usize,
    /// Answers by code, other than OK.
    pub refused: HashMap<Code, usize>,
    /// Records reported as duplicates by OK answers.
    pub duplicates: usize,
}

impl std::fmt::Debug for Tally {
    // A summary: the acknowledged set holds tens of thousands of messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tally")
            .field("acked", &self.acked.len())
            .field("ok_calls", &self.ok_calls)
            .field("refused", &self.refused)
            .field("duplicates", &self.duplicates)
            .finish()
    }
}

/// Runs `load` against `client` with `key`; each refused call is retried with the same records
/// until OK. Panics on an answer no retry can fix (INVALID_ARGUMENT, ...).
pub async fn run(client: &LogServiceClient<Channel>, key: &str, load: &Load) -> Tally {
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut tasks = Vec::new();
    for s in 0..load.senders {
        let (client, key, load, tally) =
            (client.clone(), key.to_owned(), load.clone(), tally.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = client;
            let more = |c: usize| {
                c < load.calls
                    || load
                        .until
                        .as_ref()
                        .is_some_and(|flag| !flag.load(Ordering::Relaxed))
            };
            let mut c = 0;
            while more(c) {
                let messages: Vec<String> = (0..load.records)
                    .map(|i| format!("{} s{s} c{c} r{i}", load.tag))
                    .collect();
                let records = messages
                    .iter()
                    .enumerate()
                    .map(|(i, m)| {
                        let with_id = match load.client_ids {
                            ClientIds::All => true,
                            ClientIds::Half => i % 2 == 0,
                            ClientIds::None => false,
                        };
                        let id = if with_id { m.as_str() } else { "" };
                        record(m, id)
                    })
                    .collect::<Vec<_>>();
                loop {
                    let request = with_key(
                        &key,
                        IngestRequest {
                            records: records.clone(),
                        },
                    );
                    match client.ingest(request).await {
                        Ok(answer) => {
                            let answer = answer.into_inner();
                            assert_eq!(
                                (answer.accepted + answer.duplicates) as usize,
                                records.len(),
                                "an OK answer accounts for every record"
                            );
                            let mut t = tally.lock().unwrap();
                            t.acked.extend(messages.iter().cloned());
                            t.ok_calls += 1;
                            t.duplicates += answer.duplicates as usize;
                            break;
                        }
                        Err(status) => {
                            let retryable = matches!(
                                status.code(),
                                Code::Unavailable
                                    | Code::ResourceExhausted
                                    | Code::Unknown
                                    | Code::Cancelled
                                    | Code::DeadlineExceeded
                            );
                            assert!(retryable, "not retryable: {status:?}");
                            *tally
                                .lock()
                                .unwrap()
                                .refused
                                .entry(status.code())
                                .or_default() += 1;
                            let delay = feedline_test_harness::retry_delay(&status)
                                .unwrap_or(Duration::from_millis(50))
                                .min(Duration::from_millis(200));
                            // A client's backoff before its retry, not a wait for readiness.
                            tokio::time::sleep(delay).await;
                        }
                    }
                }
                c += 1;
            }
        }));
    }
    for task in tasks {
        task.await.expect("sender did not panic");
    }
    Arc::try_unwrap(tally)
        .expect("senders done")
        .into_inner()
        .unwrap()
}

/// Acknowledged records missing from the database, and records stored more than once (among
/// this load's), as (missing, duplicated).
pub async fn check(db: &DatabaseConnection, tally: &Tally, tag: &str) -> (usize, usize) {
    let backend = db.get_database_backend();
    let pattern = format!("{tag} %");
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "SELECT message, COUNT(*) FROM log_records WHERE message LIKE $1 GROUP BY message"
        }
        _ => "SELECT message, COUNT(*) FROM log_records WHERE message LIKE ? GROUP BY message",
    };
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [pattern.into()],
        ))
        .await
        .expect("count stored records");
    let mut stored: HashMap<String, i64> = HashMap::new();
    for row in rows {
        stored.insert(
            row.try_get_by_index(0).expect("message"),
            row.try_get_by_index(1).expect("count"),
        );
    }
    let missing = tally
        .acked
        .iter()
        .filter(|m| !stored.contains_key(*m))
        .count();
    let duplicated = stored.values().filter(|n| **n > 1).count();
    (missing, duplicated)
}
