//! `feedline.post.v1.PostService`: posts.

use std::sync::Arc;

use feedline_proto::post::v1::post_service_server::PostService;
use feedline_proto::post::v1::*;
use feedline_service_kit::validation::Violations;
use tonic::{Request, Response, Status};

use super::validate;
use super::{AppState, caller, dead_letters};
use crate::convert::post_to_proto;
use crate::error::Error;
use crate::page_token::{self, List};
use crate::rate_limit::Quota;
use crate::store::{NewPost, Page};

/// Default and largest page of an author's posts.
const DEFAULT_PAGE: u64 = 20;
const MAX_PAGE: u64 = 100;

/// The PostService handlers.
#[derive(Clone, Debug)]
pub struct PostApi {
    state: Arc<AppState>,
}

impl PostApi {
    /// Handlers over the shared state.
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl PostService for PostApi {
    async fn list_dead_letters(
        &self,
        request: Request<ListDeadLettersRequest>,
    ) -> Result<Response<ListDeadLettersResponse>, Status> {
        dead_letters::require_admin(&caller(&request)?)?;
        let store = self.state.store()?;
        Ok(Response::new(
            dead_letters::list(store, request.into_inner()).await?,
        ))
    }

    async fn requeue_dead_letters(
        &self,
        request: Request<RequeueDeadLettersRequest>,
    ) -> Result<Response<RequeueDeadLettersResponse>, Status> {
        dead_letters::require_admin(&caller(&request)?)?;
        let store = self.state.store()?;
        Ok(Response::new(
            dead_letters::requeue(store, request.into_inner()).await?,
        ))
    }

    async fn create_post(
        &self,
        request: Request<CreatePostRequest>,
    ) -> Result<Response<CreatePostResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let author_id = v.check("author_id", validate::id(req.author_id));
        let body = v.check("body", validate::body(&req.body));
        let idempotency_key = v.check(
            "idempotency_key",
            validate::idempotency_key(&req.idempotency_key),
        );
        v.finish().map_err(Error::InvalidArgument)?;
        self.state.acting_as(&caller, author_id).await?;
        let write = self
            .state
            .admit_within(Quota::Posts, &caller, author_id)
            .await?
            .create_post(NewPost {
                author_id,
                body,
                idempotency_key,
            })
            .await?;
        Ok(Response::new(CreatePostResponse {
            post: Some(post_to_proto(&write.post)),
            created: write.created,
        }))
    }

    async fn get_post(
        &self,
        request: Request<GetPostRequest>,
    ) -> Result<Response<GetPostResponse>, Status> {
        let post_id =
            validate::id(request.into_inner().post_id).map_err(|d| Error::invalid("post_id", d))?;
        let post = self.state.store()?.get_post(post_id).await?;
        Ok(Response::new(GetPostResponse {
            post: Some(post_to_proto(&post)),
        }))
    }

    async fn batch_get_posts(
        &self,
        request: Request<BatchGetPostsRequest>,
    ) -> Result<Response<BatchGetPostsResponse>, Status> {
        let ids = request.into_inner().post_ids;
        let mut v = Violations::new();
        if ids.is_empty() || ids.len() > validate::MAX_BATCH_GET {
            v.add(
                "post_ids",
                format!(
                    "must hold 1 to {} ids, got {}",
                    validate::MAX_BATCH_GET,
                    ids.len()
                ),
            );
        }
        for (i, id) in ids.iter().enumerate() {
            v.check(&format!("post_ids[{i}]"), validate::id(*id));
        }
        v.finish().map_err(Error::InvalidArgument)?;
        let (posts, missing) = self.state.store()?.batch_get_posts(&ids).await?;
        Ok(Response::new(BatchGetPostsResponse {
            posts: posts.iter().map(post_to_proto).collect(),
            missing_post_ids: missing,
        }))
    }

    async fn delete_post(
        &self,
        request: Request<DeletePostRequest>,
    ) -> Result<Response<DeletePostResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let post_id = v.check("post_id", validate::id(req.post_id));
        let author_id = v.check("author_id", validate::id(req.author_id));
        v.finish().map_err(Error::InvalidArgument)?;
        self.state.acting_as(&caller, author_id).await?;
        let deleted = self.state.admit()?.delete_post(post_id, author_id).await?;
        Ok(Response::new(DeletePostResponse { deleted }))
    }

    async fn list_author_posts(
        &self,
        request: Request<ListAuthorPostsRequest>,
    ) -> Result<Response<ListAuthorPostsResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let author_id = v.check("author_id", validate::id(req.author_id));
        let size = v.check(
            "page_size",
            validate::page_size(req.page_size, DEFAULT_PAGE, MAX_PAGE),
        );
        let after = v.check(
            "page_token",
            page_token::decode(&req.page_token, List::AuthorPosts, author_id),
        );
        v.finish().map_err(Error::InvalidArgument)?;
        let found = self
            .state
            .store()?
            .list_author_posts(author_id, Page { size, after })
            .await?;
        Ok(Response::new(ListAuthorPostsResponse {
            posts: found.items.iter().map(post_to_proto).collect(),
            next_page_token: found
                .next_after
                .map(|after| page_token::encode(List::AuthorPosts, author_id, after))
                .unwrap_or_default(),
        }))
    }

    async fn list_followee_posts(
        &self,
        request: Request<ListFolloweePostsRequest>,
    ) -> Result<Response<ListFolloweePostsResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let user_id = v.check("user_id", validate::id(req.user_id));
        let max_posts = v.check(
            "max_posts",
            validate::page_size(
                req.max_posts,
                validate::DEFAULT_FOLLOWEE_POSTS,
                validate::MAX_FOLLOWEE_POSTS,
            ),
        );
        v.finish().map_err(Error::InvalidArgument)?;
        let posts = self
            .state
            .store()?
            .list_followee_posts(user_id, max_posts)
            .await?;
        Ok(Response::new(ListFolloweePostsResponse {
            posts: posts.iter().map(post_to_proto).collect(),
        }))
    }
}
