//! Makes a [`Plan`] real through post-service's GraphService: CreateUser for every user with
//! a handle unique to the run, then Follow for every edge, many calls in flight. The two
//! steps are also apart, for scenarios that do something between them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::connect::Channel;
use anyhow::{Context as _, Result, anyhow, bail};
use feedline_proto::graph::v1::graph_service_client::GraphServiceClient;
use feedline_proto::graph::v1::{CreateUserRequest, FollowRequest};
use futures::stream::{self, StreamExt as _, TryStreamExt as _};

use super::plan::{Plan, handle};
use crate::connect;
use crate::drive::retry_after;
use crate::stats::{Progress, run_steps};

/// Setup calls in flight at once.
const SETUP_CONCURRENCY: usize = 64;

/// The graph as created: ids, and both directions of every edge (by user index).
#[derive(Clone, Debug)]
pub struct Social {
    /// User id of each index.
    pub ids: Vec<i64>,
    pub followers: Vec<Vec<u32>>,
    pub followees: Vec<Vec<u32>>,
    /// Who posts, in round-robin order.
    pub authors: Vec<u32>,
}

impl Social {
    /// The follower ids of user `index`.
    pub fn follower_ids(&self, index: u32) -> Vec<i64> {
        self.followers[index as usize]
            .iter()
            .map(|&f| self.ids[f as usize])
            .collect()
    }
}

impl Social {
    /// The graph of `plan` over the users created for it (`ids[i]` is user i's id).
    pub fn new(plan: &Plan, ids: Vec<i64>) -> Self {
        let mut followers = vec![Vec::new(); plan.users];
        let mut followees = vec![Vec::new(); plan.users];
        for &(follower, followee) in &plan.edges {
            followers[followee as usize].push(follower);
            followees[follower as usize].push(followee);
        }
        Self {
            ids,
            followers,
            followees,
            authors: plan.authors.clone(),
        }
    }
}

/// Creates every user and edge of `plan`.
pub async fn create(plan: &Plan, run: &str, channels: &[Channel]) -> Result<Social> {
    let started = Instant::now();
    let ids = create_users(plan, run, channels).await?;
    follow_all(&plan.edges, &ids, channels).await?;
    eprintln!(
        "created {} users and {} follows in {:.1} s",
        plan.users,
        plan.edges.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(Social::new(plan, ids))
}

/// Creates the users of `plan`; returns their ids by index.
pub async fn create_users(plan: &Plan, run: &str, channels: &[Channel]) -> Result<Vec<i64>> {
    let clients = connect::clients(channels, GraphServiceClient::new);
    let done = Arc::new(AtomicU64::new(0));
    let progress = Progress::steps("creating users".into(), done.clone(), plan.users as u64);
    let ids = stream::iter(0..plan.users)
        .map(|i| {
            let mut client = clients[i % clients.len()].clone();
            let handle = handle(run, plan.roles[i], i);
            let done = done.clone();
            async move {
                let request = CreateUserRequest {
                    handle: handle.clone(),
                    display_name: format!("loadgen {handle}"),
                    subject: String::new(),
                };
                let user = client
                    .create_user(request)
                    .await
                    .map_err(|s| anyhow!("CreateUser {handle}: {:?}: {}", s.code(), s.message()))?
                    .into_inner()
                    .user
                    .context("CreateUser answered without a user")?;
                done.fetch_add(1, Ordering::Relaxed);
                Ok::<i64, anyhow::Error>(user.user_id)
            }
        })
        .buffered(SETUP_CONCURRENCY)
        .try_collect::<Vec<i64>>()
        .await;
    progress.stop().await;
    ids
}

/// When a refusal carries no RetryInfo.
const SETUP_RETRY_DELAY: std::time::Duration = std::time::Duration::from_millis(100);

/// One Follow per `(follower, followee)` edge (user indices into `ids`), many in flight.
pub async fn follow_all(edges: &[(u32, u32)], ids: &[i64], channels: &[Channel]) -> Result<()> {
    let clients = connect::clients(channels, GraphServiceClient::new);
    run_steps(
        "following",
        edges.len() as u64,
        SETUP_CONCURRENCY,
        edges.iter().enumerate(),
        |(i, &(follower, followee)), done| {
            let mut client = clients[i % clients.len()].clone();
            let request = FollowRequest {
                follower_id: ids[follower as usize],
                followee_id: ids[followee as usize],
            };
            async move {
                // Follow is idempotent: a refusal (fan-out behind its bound) is sent again
                // after its RetryInfo delay; any other error fails the setup.
                loop {
                    match client.follow(request).await {
                        Ok(_) => break,
                        Err(status) => match retry_after(&status, SETUP_RETRY_DELAY) {
                            Some(delay) => tokio::time::sleep(delay).await,
                            None => bail!("Follow: {:?}: {}", status.code(), status.message()),
                        },
                    }
                }
                done.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
        },
    )
    .await
}
