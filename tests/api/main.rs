//! All HTTP-boundary tests in one binary (one compile, shared helpers).

mod helpers;

mod backup;
mod concurrency;
mod contacts;
mod durability;
mod errors;
mod isolation;
mod jobs;
mod members;
mod notifications;
mod records;
mod roles;
mod search;
mod sessions;
mod setup;
mod throttle;
mod upgrade;
mod work;
mod xss_corpus;
