//! AWS facts that need no call: partitions and their hosts, ARNs, credentials and their
//! times, and the XML reader for what AWS sends (STS answers, SAML assertions).

pub mod arn;
pub mod credentials;
pub mod partition;
pub mod xml;
