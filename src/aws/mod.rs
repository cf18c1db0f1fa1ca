//! AWS facts that need no call: partitions and their hosts, ARNs, credentials.

pub mod arn;
pub mod credentials;
pub mod partition;
