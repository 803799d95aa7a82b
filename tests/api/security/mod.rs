//! Account security (issue 16): sessions, sign-in activity, second factors,
//! the two-step sign-in, the organization's policy and reset links.

mod half_signed_in;
mod mfa;
mod passkeys;
mod policy;
mod resets;
mod sessions;
