//! An error with its causes on one line, for messages an operator reads (the healthcheck's
//! stderr line, the load generator's "cannot connect" errors).

/// `transport error: tcp connect error: Connection refused (os error 111)`: tonic's own
/// message alone ("transport error") would not tell an operator anything.
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let text = inner.to_string();
        // hyper repeats its cause inside its own message; print each text once.
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = inner.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that, like hyper's, may repeat its cause in its own message.
    #[derive(Debug)]
    struct Outer(&'static str, std::io::Error);

    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.1)
        }
    }

    #[test]
    fn causes_are_joined_each_once() {
        let refused = || std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(
            with_causes(&Outer("transport error", refused())),
            "transport error: refused"
        );
        assert_eq!(
            with_causes(&Outer("tcp connect error: refused", refused())),
            "tcp connect error: refused"
        );
    }
}
