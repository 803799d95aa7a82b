//! Completes the OpenAPI document with the error answers that every
//! operation of a kind can give, whoever wrote its annotation: 401 without
//! credentials, 403 on a missing CSRF token, 404 for another organization,
//! 400/413/415/422 for a body, 422 for query parameters, 408 past the request
//! timeout, 429 past the API rate limit (`http::rate_limit`). So the
//! document lists every status an operation can answer.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

/// Routes anyone may call without signing in.
const PUBLIC: &[&str] = &[
    "/auth/login",
    "/auth/signup",
    "/auth/mfa/verify",
    "/auth/passkeys/login/start",
    "/auth/passkeys/login/finish",
    "/password-resets/accept",
    "/password-resets/{token}",
    "/setup",
    "/setup/status",
    "/invites/accept",
    "/invites/{token}",
    "/invites/info",
];

fn describe(status: &str) -> &'static str {
    match status {
        "400" => "malformed request (not JSON)",
        "401" => "not signed in, or the API key is not valid",
        "403" => "role too low, or the CSRF token is missing",
        "404" => "no such organization or record (or another organization's)",
        "408" => "the request took longer than the server's request timeout",
        "413" => "body too large",
        "415" => "not application/json",
        "422" => "invalid input; `fields` names each problem",
        "429" => {
            "past the API rate limit: wait Retry-After seconds (every answer carries RateLimit-Limit, -Remaining and -Reset)"
        }
        _ => "error",
    }
}

fn add(op: &mut Operation, status: &str) {
    if op.responses.responses.contains_key(status) {
        return;
    }
    let resp = ResponseBuilder::new()
        .description(describe(status))
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(Ref::from_schema_name("ErrorBody"))))
                .build(),
        )
        .build();
    op.responses
        .responses
        .insert(status.to_string(), RefOr::T(resp));
}

fn complete(path: &str, op: &mut Operation) {
    let public = PUBLIC
        .iter()
        .any(|p| path == *p || path.starts_with("/invites/"));
    add(op, "408");
    add(op, "429");
    if !public {
        add(op, "401");
        // A role too low, a missing CSRF token, or an API key where a
        // signed-in person is needed.
        add(op, "403");
    }
    if path.starts_with("/orgs/{org}") {
        add(op, "404");
    }
    if op.request_body.is_some() {
        for s in ["400", "413", "415", "422"] {
            add(op, s);
        }
    }
    let has_query = op.parameters.iter().flatten().any(|p| match p {
        RefOr::T(p) => p.parameter_in == ParameterIn::Query,
        RefOr::Ref(_) => false,
    });
    if has_query {
        add(op, "422");
    }
}

pub fn complete_errors(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            complete(path, op);
        }
    }
}
