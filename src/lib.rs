//! tinyfc: a tiny synchronous runtime for Alibaba Cloud Function Compute custom runtimes.
//! (Skeleton; the core runtime lands next.)

pub mod client;
