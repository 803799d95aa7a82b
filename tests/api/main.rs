//! All HTTP-boundary tests in one binary (one compile, shared helpers).

mod helpers;

mod backup;
mod closure;
mod concurrency;
mod contacts;
mod deals;
mod disk;
mod doctor;
mod durability;
mod errors;
mod files;
mod international;
mod isolation;
mod jobs;
mod lists;
mod logs;
mod members;
mod notifications;
mod observe;
mod records;
mod roles;
mod search;
mod security;
mod sessions;
mod setup;
mod throttle;
mod tls;
mod trash;
mod upgrade;
mod work;
mod xss_corpus;
