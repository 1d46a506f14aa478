//! `feedline.graph.v1.GraphService`: users and the follow graph.

use std::sync::Arc;

use feedline_proto::graph::v1::graph_service_server::GraphService;
use feedline_proto::graph::v1::*;
use feedline_service_kit::validation::Violations;
use tonic::{Request, Response, Status};

use super::validate;
use super::{AppState, caller};
use crate::acting;
use crate::convert::user_to_proto;
use crate::error::Error;
use crate::page_token::{self, List};
use crate::rate_limit::Quota;
use crate::store::{FollowChange, NewUser, Page};

/// Default and largest page of follower / followee ids.
const DEFAULT_PAGE: u64 = 100;
const MAX_PAGE: u64 = 1000;

/// The GraphService handlers.
#[derive(Clone, Debug)]
pub struct GraphApi {
    state: Arc<AppState>,
}

impl GraphApi {
    /// Handlers over the shared state.
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }
}

/// Validates a Follow / Unfollow pair: both ids positive and different.
fn follow_change(follower_id: i64, followee_id: i64) -> Result<FollowChange, Error> {
    let mut v = Violations::new();
    let follower_id = v.check("follower_id", validate::id(follower_id));
    let followee_id = v.check("followee_id", validate::id(followee_id));
    if follower_id > 0 && follower_id == followee_id {
        v.add("followee_id", "a user cannot follow itself");
    }
    v.finish().map_err(Error::InvalidArgument)?;
    Ok(FollowChange {
        follower_id,
        followee_id,
    })
}

/// Validates a listing request of `list` for `user_id`.
fn listing(
    list: List,
    user_id: i64,
    page_size: Option<i32>,
    token: &str,
) -> Result<(i64, Page), Error> {
    let mut v = Violations::new();
    let user_id = v.check("user_id", validate::id(user_id));
    let size = v.check(
        "page_size",
        validate::page_size(page_size, DEFAULT_PAGE, MAX_PAGE),
    );
    let after = v.check("page_token", page_token::decode(token, list, user_id));
    v.finish().map_err(Error::InvalidArgument)?;
    Ok((user_id, Page { size, after }))
}

#[tonic::async_trait]
impl GraphService for GraphApi {
    async fn create_user(
        &self,
        request: Request<CreateUserRequest>,
    ) -> Result<Response<CreateUserResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let handle = v.check("handle", validate::handle(&req.handle));
        let display_name = v.check("display_name", validate::display_name(&req.display_name));
        let subject = v.check("subject", validate::subject(&req.subject));
        v.finish().map_err(Error::InvalidArgument)?;
        let subject = acting::binding(&caller, subject)?;
        let user = self
            .state
            .store()?
            .create_user(NewUser {
                handle,
                display_name,
                subject,
            })
            .await?;
        Ok(Response::new(CreateUserResponse {
            user: Some(user_to_proto(&user)),
        }))
    }

    async fn get_me(
        &self,
        request: Request<GetMeRequest>,
    ) -> Result<Response<GetMeResponse>, Status> {
        let caller = caller(&request)?;
        let user_id = self.state.own_user(&caller).await?;
        let user = self.state.store()?.get_user(user_id).await?;
        Ok(Response::new(GetMeResponse {
            user: Some(user_to_proto(&user)),
        }))
    }

    async fn get_user(
        &self,
        request: Request<GetUserRequest>,
    ) -> Result<Response<GetUserResponse>, Status> {
        let user_id =
            validate::id(request.into_inner().user_id).map_err(|d| Error::invalid("user_id", d))?;
        let user = self.state.store()?.get_user(user_id).await?;
        Ok(Response::new(GetUserResponse {
            user: Some(user_to_proto(&user)),
        }))
    }

    async fn follow(
        &self,
        request: Request<FollowRequest>,
    ) -> Result<Response<FollowResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let change = follow_change(req.follower_id, req.followee_id)?;
        self.state.acting_as(&caller, change.follower_id).await?;
        let created = self
            .state
            .admit_within(Quota::Follows, &caller, change.follower_id)
            .await?
            .follow(change)
            .await?;
        Ok(Response::new(FollowResponse { created }))
    }

    async fn unfollow(
        &self,
        request: Request<UnfollowRequest>,
    ) -> Result<Response<UnfollowResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let change = follow_change(req.follower_id, req.followee_id)?;
        self.state.acting_as(&caller, change.follower_id).await?;
        let removed = self.state.admit()?.unfollow(change).await?;
        Ok(Response::new(UnfollowResponse { removed }))
    }

    async fn list_followers(
        &self,
        request: Request<ListFollowersRequest>,
    ) -> Result<Response<ListFollowersResponse>, Status> {
        let req = request.into_inner();
        let (user_id, page) =
            listing(List::Followers, req.user_id, req.page_size, &req.page_token)?;
        let found = self.state.store()?.list_followers(user_id, page).await?;
        Ok(Response::new(ListFollowersResponse {
            follower_ids: found.items,
            next_page_token: found
                .next_after
                .map(|after| page_token::encode(List::Followers, user_id, after))
                .unwrap_or_default(),
        }))
    }

    async fn list_following(
        &self,
        request: Request<ListFollowingRequest>,
    ) -> Result<Response<ListFollowingResponse>, Status> {
        let req = request.into_inner();
        let (user_id, page) =
            listing(List::Following, req.user_id, req.page_size, &req.page_token)?;
        let found = self.state.store()?.list_following(user_id, page).await?;
        Ok(Response::new(ListFollowingResponse {
            followee_ids: found.items,
            next_page_token: found
                .next_after
                .map(|after| page_token::encode(List::Following, user_id, after))
                .unwrap_or_default(),
        }))
    }
}
