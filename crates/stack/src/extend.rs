//! For a test's own stack type, which wraps a [`Stack`](crate::Stack) and adds its own clients
//! and waits beside it.

/// Makes `$type`, which holds a [`Stack`](crate::Stack) in its field `$field`, dereference to it:
/// a test then reaches the shared parts as before (`stack.fanout.addr`, `stack.user(..)` through
/// the stack's own dereference to post-service's clients), and mutably, so that it can stop
/// the cluster (`stack.cluster.stop()`).
#[macro_export]
macro_rules! deref_to_stack {
    ($type:ty, $field:ident) => {
        impl ::std::ops::Deref for $type {
            type Target = $crate::Stack;

            fn deref(&self) -> &$crate::Stack {
                &self.$field
            }
        }

        impl ::std::ops::DerefMut for $type {
            fn deref_mut(&mut self) -> &mut $crate::Stack {
                &mut self.$field
            }
        }
    };
}
