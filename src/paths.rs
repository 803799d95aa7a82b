//! Path parameters of organization routes, by name (the `{org}` segment is
//! read by `OrgAccess`; handlers only need the record's id).

use serde::Deserialize;

#[derive(Deserialize)]
pub struct IdPath {
    #[allow(dead_code)]
    pub org: String,
    pub id: String,
}

#[derive(Deserialize)]
pub struct MemberPath {
    #[allow(dead_code)]
    pub org: String,
    pub user_id: String,
}

#[derive(Deserialize)]
pub struct TagPath {
    #[allow(dead_code)]
    pub org: String,
    pub id: String,
    pub tag_id: String,
}
