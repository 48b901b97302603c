//! One integration test binary for secdesc (link time matters on small machines).

mod binary;
mod corpus;
mod gen;
mod properties;
