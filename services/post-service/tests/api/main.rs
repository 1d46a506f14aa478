//! post-service over real gRPC, the same suite on SQLite, PostgreSQL and MySQL/MariaDB.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

#[path = "../common/mod.rs"]
mod common;

feedline_test_harness::on_every_backend!(
    create_and_get_user,
    create_user_rejects_bad_input,
    duplicate_handle_is_already_exists,
    get_user_unknown_or_invalid,
    follow_and_unfollow_are_idempotent_and_counted,
    follow_rejects_bad_input,
    follower_lists_page_without_gaps,
    list_rejects_bad_pages_and_tokens,
    create_post_is_idempotent_per_author_key,
    create_post_rejects_bad_input,
    every_write_commits_one_outbox_event,
    delete_post_hides_it_everywhere,
    batch_get_posts_answers_in_order,
    author_posts_page_newest_first_while_posts_arrive,
    followee_posts_are_the_home_timeline,
    concurrent_retries_create_one_post,
    concurrent_follows_of_one_user_all_succeed,
    concurrent_mixed_follows_each_get_their_own_answer,
);

mod cases;
