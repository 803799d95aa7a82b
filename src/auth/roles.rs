//! What a member of an organization may do. Each role includes the ones below it.

use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything, changes nothing.
    Viewer,
    /// Creates and edits CRM records.
    Member,
    /// Also manages members and API keys.
    Admin,
    /// Also manages owners; an organization always keeps at least one.
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "member" => Some(Role::Member),
            "admin" => Some(Role::Admin),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }

    /// 403 unless this role is at least `needed`.
    pub fn require(self, needed: Role) -> AppResult<()> {
        if self >= needed {
            Ok(())
        } else {
            Err(AppError::forbidden(format!(
                "this needs the {} role or higher; yours is {}",
                needed.as_str(),
                self.as_str()
            )))
        }
    }
}

impl rusqlite::types::FromSql for Role {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let s = v.as_str()?;
        Role::parse(s).ok_or_else(|| rusqlite::types::FromSqlError::Other(s.to_string().into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Owner > Role::Admin && Role::Admin > Role::Member);
        assert!(Role::Member > Role::Viewer);
        assert!(Role::Viewer.require(Role::Member).is_err());
        assert!(Role::Admin.require(Role::Member).is_ok());
    }
}
