//! The real-client suite: a real `riffle serve` process driven by the Rust
//! AWS SDK (and, where the SDK cannot be made to misbehave, raw HTTP).

mod support;

mod clients;
mod control;
mod crash;
mod errors;
mod fanout;
mod h2c;
mod http1;
mod records;
mod reshard;
mod streams;
mod tls;
mod transport;
