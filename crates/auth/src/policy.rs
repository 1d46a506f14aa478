//! The one table of who may call what, by gRPC method. Which *user* a caller may act as is
//! decided by the handler (it needs the request's ids): see the README's table.

use crate::caller::Caller;

/// What a method requires of its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No credential: health and reflection (orchestrators and grpcurl need them), and
    /// log-ingest's own calls, which carry an app key instead.
    Open,
    /// Any valid token: a user's, an admin's or a service's.
    Token,
    /// A token with the service scope: feedline's internal calls.
    Service,
    /// A token with the admin scope.
    Admin,
}

/// What calling `path` ("/package.Service/Method") requires. A method not listed needs a
/// valid token, so anything new is closed until it is listed.
pub fn access(path: &str) -> Access {
    if path.starts_with("/grpc.health.") || path.starts_with("/grpc.reflection.") {
        return Access::Open;
    }
    match path {
        "/feedline.fanout.v1.FanoutService/Fanout"
        | "/feedline.post.v1.PostService/ListFolloweePosts" => Access::Service,
        "/feedline.logs.v1.LogService/CreateApp"
        | "/feedline.fanout.v1.FanoutService/ReplayOutbox"
        | "/feedline.logs.v1.LogService/RotateAppKey"
        | "/feedline.logs.v1.LogService/RevokeAppKey"
        | "/feedline.logs.v1.LogService/ListAppKeys"
        | "/feedline.post.v1.PostService/ListDeadLetters"
        | "/feedline.post.v1.PostService/RequeueDeadLetters" => Access::Admin,
        p if p.starts_with("/feedline.logs.v1.") => Access::Open,
        _ => Access::Token,
    }
}

impl Access {
    /// Ok when `caller` meets this requirement; otherwise why not.
    pub fn allows(self, caller: &Caller) -> Result<(), String> {
        match self {
            Access::Open | Access::Token => Ok(()),
            Access::Service if caller.service => Ok(()),
            Access::Service => {
                Err("this RPC is internal to feedline: it needs a service credential".into())
            }
            Access::Admin if caller.admin => Ok(()),
            Access::Admin => Err("this RPC needs the admin scope".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_calls_need_the_service_scope_and_the_rest_a_token() {
        assert_eq!(access("/grpc.health.v1.Health/Check"), Access::Open);
        assert_eq!(
            access("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"),
            Access::Open
        );
        assert_eq!(
            access("/feedline.fanout.v1.FanoutService/Fanout"),
            Access::Service
        );
        assert_eq!(
            access("/feedline.post.v1.PostService/ListFolloweePosts"),
            Access::Service
        );
        assert_eq!(
            access("/feedline.post.v1.PostService/CreatePost"),
            Access::Token
        );
        assert_eq!(
            access("/feedline.feed.v1.FeedService/GetFeed"),
            Access::Token
        );
        for admin in ["CreateApp", "RotateAppKey", "RevokeAppKey", "ListAppKeys"] {
            assert_eq!(
                access(&format!("/feedline.logs.v1.LogService/{admin}")),
                Access::Admin
            );
        }
        for admin in ["ListDeadLetters", "RequeueDeadLetters"] {
            assert_eq!(
                access(&format!("/feedline.post.v1.PostService/{admin}")),
                Access::Admin
            );
        }
        assert_eq!(
            access("/feedline.fanout.v1.FanoutService/ReplayOutbox"),
            Access::Admin
        );
        assert_eq!(access("/feedline.logs.v1.LogService/Ingest"), Access::Open);
        assert_eq!(access("/unknown.Service/Method"), Access::Token);
    }
}
