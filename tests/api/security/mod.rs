//! Account security (issue 16): sessions, sign-in activity, second factors,
//! the two-step sign-in, the organization's policy and reset links.

mod sessions;
