//! All HTTP-boundary tests in one binary (one compile, shared helpers).

mod helpers;

mod concurrency;
mod contacts;
mod durability;
mod errors;
mod isolation;
mod members;
mod roles;
mod sessions;
mod setup;
mod throttle;
