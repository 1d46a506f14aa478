//! The stack with tokens on, its users and its clients, and one call of each RPC as a given credential.

use super::*;

pub(super) struct Fixture {
    pub(super) keys: DevKeys,
    pub(super) graph: GraphServiceClient<Channel>,
    pub(super) posts: PostServiceClient<Channel>,
    pub(super) feed: FeedServiceClient<Channel>,
    pub(super) fanout: FanoutServiceClient<Channel>,
    pub(super) logs: LogServiceClient<Channel>,
    pub(super) alice: i64,
    pub(super) bob: i64,
    pub(super) post_id: i64,
}

impl Fixture {
    /// A post of alice's, made by an admin for her (so each DeletePost has its own).
    pub(super) async fn alice_post(&self, body: &str) -> i64 {
        let message = CreatePostRequest {
            author_id: self.alice,
            body: body.into(),
            idempotency_key: String::new(),
        };
        let response = self
            .posts
            .clone()
            .create_post(request(&self.keys, Cred::Admin, message))
            .await
            .unwrap();
        response.into_inner().post.unwrap().post_id
    }

    /// An app made by an admin (so each key RPC has its own): its id and its key's id.
    pub(super) async fn admin_app(&self, n: usize) -> (i64, i64) {
        let message = CreateAppRequest {
            name: format!("keyed-{n}"),
        };
        let created = self
            .logs
            .clone()
            .create_app(request(&self.keys, Cred::Admin, message))
            .await
            .unwrap()
            .into_inner();
        (created.app.unwrap().app_id, created.key.unwrap().key_id)
    }

    /// Calls `rpc` with `cred`; the code and message it answered.
    pub(super) async fn call(&self, rpc: &str, cred: Cred, n: usize) -> (Code, String) {
        let k = &self.keys;
        let (alice, bob, post_id) = (self.alice, self.bob, self.post_id);
        match rpc {
            "CreateUser" => code(
                self.graph
                    .clone()
                    .create_user(request(
                        k,
                        cred,
                        CreateUserRequest {
                            handle: format!("made_{n}"),
                            display_name: String::new(),
                            subject: String::new(),
                        },
                    ))
                    .await,
            ),
            "GetMe" => code(
                self.graph
                    .clone()
                    .get_me(request(k, cred, GetMeRequest {}))
                    .await,
            ),
            "GetUser" => code(
                self.graph
                    .clone()
                    .get_user(request(k, cred, GetUserRequest { user_id: alice }))
                    .await,
            ),
            "Follow" => code(
                self.graph
                    .clone()
                    .follow(request(
                        k,
                        cred,
                        FollowRequest {
                            follower_id: alice,
                            followee_id: bob,
                        },
                    ))
                    .await,
            ),
            "Unfollow" => code(
                self.graph
                    .clone()
                    .unfollow(request(
                        k,
                        cred,
                        UnfollowRequest {
                            follower_id: alice,
                            followee_id: bob,
                        },
                    ))
                    .await,
            ),
            "ListFollowers" => code(
                self.graph
                    .clone()
                    .list_followers(request(
                        k,
                        cred,
                        ListFollowersRequest {
                            user_id: alice,
                            ..Default::default()
                        },
                    ))
                    .await,
            ),
            "ListFollowing" => code(
                self.graph
                    .clone()
                    .list_following(request(
                        k,
                        cred,
                        ListFollowingRequest {
                            user_id: alice,
                            ..Default::default()
                        },
                    ))
                    .await,
            ),
            "CreatePost" => code(
                self.posts
                    .clone()
                    .create_post(request(
                        k,
                        cred,
                        CreatePostRequest {
                            author_id: alice,
                            body: format!("post {n}"),
                            idempotency_key: String::new(),
                        },
                    ))
                    .await,
            ),
            "GetPost" => code(
                self.posts
                    .clone()
                    .get_post(request(k, cred, GetPostRequest { post_id }))
                    .await,
            ),
            "BatchGetPosts" => code(
                self.posts
                    .clone()
                    .batch_get_posts(request(
                        k,
                        cred,
                        BatchGetPostsRequest {
                            post_ids: vec![post_id],
                        },
                    ))
                    .await,
            ),
            "DeletePost" => {
                let doomed = self.alice_post(&format!("doomed {n}")).await;
                code(
                    self.posts
                        .clone()
                        .delete_post(request(
                            k,
                            cred,
                            DeletePostRequest {
                                post_id: doomed,
                                author_id: alice,
                            },
                        ))
                        .await,
                )
            }
            "ListAuthorPosts" => code(
                self.posts
                    .clone()
                    .list_author_posts(request(
                        k,
                        cred,
                        ListAuthorPostsRequest {
                            author_id: alice,
                            ..Default::default()
                        },
                    ))
                    .await,
            ),
            "ListFolloweePosts" => code(
                self.posts
                    .clone()
                    .list_followee_posts(request(
                        k,
                        cred,
                        ListFolloweePostsRequest {
                            user_id: alice,
                            max_posts: Some(10),
                        },
                    ))
                    .await,
            ),
            "GetFeed" => code(
                self.feed
                    .clone()
                    .get_feed(request(
                        k,
                        cred,
                        GetFeedRequest {
                            user_id: alice,
                            ..Default::default()
                        },
                    ))
                    .await,
            ),
            "Fanout" => {
                // No event is sent: the stream opens (or is refused) and ends.
                let events = futures::stream::empty::<FanoutRequest>();
                code(self.fanout.clone().fanout(request(k, cred, events)).await)
            }
            "ListDeadLetters" => {
                let message = ListDeadLettersRequest::default();
                code(
                    self.posts
                        .clone()
                        .list_dead_letters(request(k, cred, message))
                        .await,
                )
            }
            "RequeueDeadLetters" => {
                // `all` with nothing dead: OK for the admin, and nothing moves.
                let message = RequeueDeadLettersRequest {
                    event_ids: Vec::new(),
                    all: true,
                };
                code(
                    self.posts
                        .clone()
                        .requeue_dead_letters(request(k, cred, message))
                        .await,
                )
            }
            "ReplayOutbox" => {
                let message = ReplayOutboxRequest { since_minutes: 1 };
                code(
                    self.fanout
                        .clone()
                        .replay_outbox(request(k, cred, message))
                        .await,
                )
            }
            "CreateApp" => code(
                self.logs
                    .clone()
                    .create_app(request(
                        k,
                        cred,
                        CreateAppRequest {
                            name: format!("app-{n}"),
                        },
                    ))
                    .await,
            ),
            "RotateAppKey" => {
                let (app_id, _) = self.admin_app(n).await;
                let message = RotateAppKeyRequest {
                    app_id,
                    app_name: String::new(),
                };
                code(
                    self.logs
                        .clone()
                        .rotate_app_key(request(k, cred, message))
                        .await,
                )
            }
            "RevokeAppKey" => {
                let (_, key_id) = self.admin_app(n).await;
                let message = RevokeAppKeyRequest { key_id };
                code(
                    self.logs
                        .clone()
                        .revoke_app_key(request(k, cred, message))
                        .await,
                )
            }
            "ListAppKeys" => {
                let (app_id, _) = self.admin_app(n).await;
                let message = ListAppKeysRequest {
                    app_id,
                    app_name: String::new(),
                };
                code(
                    self.logs
                        .clone()
                        .list_app_keys(request(k, cred, message))
                        .await,
                )
            }
            other => panic!("no such rpc {other}"),
        }
    }
}
