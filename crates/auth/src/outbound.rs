//! The credential a service presents on its own calls to the others: a bearer token with
//! the service scope (`FEEDLINE_SERVICE_TOKEN`).

use std::sync::Arc;

use tonic::metadata::{AsciiMetadataValue, MetadataValue};

/// The metadata key of a bearer token.
pub const BEARER_HEADER: &str = "authorization";

/// `Bearer <token>` as a metadata value; Err when the token holds characters metadata cannot.
pub fn bearer_value(token: &str) -> Result<AsciiMetadataValue, String> {
    let mut value: AsciiMetadataValue = MetadataValue::try_from(format!("Bearer {}", token.trim()))
        .map_err(|_| "the token holds characters that gRPC metadata cannot carry".to_owned())?;
    value.set_sensitive(true);
    Ok(value)
}

/// What a client adds to each call: a bearer token, or nothing.
#[derive(Clone, Default)]
pub struct Credential {
    value: Option<Arc<AsciiMetadataValue>>,
}

/// Never prints the token.
impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.value.is_some() {
            "Credential(bearer)"
        } else {
            "Credential(none)"
        })
    }
}

impl Credential {
    /// No credential: calls go out without one.
    pub fn none() -> Self {
        Self::default()
    }

    /// A bearer token.
    pub fn bearer(token: &str) -> Result<Self, String> {
        Ok(Self {
            value: Some(Arc::new(bearer_value(token)?)),
        })
    }

    /// Whether calls carry a token.
    pub fn is_set(&self) -> bool {
        self.value.is_some()
    }

    /// Adds the token to `request`, unless the call already carries one (a caller's own token,
    /// forwarded on its behalf).
    pub fn apply<T>(&self, request: &mut tonic::Request<T>) {
        if let Some(value) = &self.value
            && !request.metadata().contains_key(BEARER_HEADER)
        {
            request
                .metadata_mut()
                .insert(BEARER_HEADER, value.as_ref().clone());
        }
    }
}
