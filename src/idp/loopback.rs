//! loopback (in progress)
