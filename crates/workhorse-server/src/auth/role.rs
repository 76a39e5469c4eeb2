//! Roles and what each may do.

use axum::http::Method;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a token may do. `viewer` reads; `producer` and `worker` each add their writes;
/// `admin` may do everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// GET everything: jobs, queues, events, metrics, the `OpenAPI` document.
    Viewer,
    /// Viewer, plus enqueue, cancel, retry, redrive, triggering a schedule, and enqueueing
    /// or cancelling a workflow.
    Producer,
    /// Viewer, plus fetch, heartbeat, complete, fail, ack, the WebSocket session, and
    /// declaring schedules (workers declare the schedules written in their code at start).
    Worker,
    /// Everything: queue controls, and pausing, resuming and deleting schedules included.
    Admin,
}

impl Role {
    /// Every role, least powerful first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Producer, Role::Worker, Role::Admin];

    /// The name in `tokens.json` and on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Producer => "producer",
            Role::Worker => "worker",
            Role::Admin => "admin",
        }
    }

    /// Whether a token of this role may do what `needed` may.
    pub const fn allows(self, needed: Role) -> bool {
        matches!(
            (self, needed),
            (Role::Admin, _)
                | (_, Role::Viewer)
                | (Role::Producer, Role::Producer)
                | (Role::Worker, Role::Worker)
        )
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of `admin`, `producer`, `worker`, `viewer`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}; expected admin, producer, worker or viewer")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// Paths anyone may load: the health probe and the dashboard page with its assets (the
/// dashboard's API calls carry a token like any other client's).
const PUBLIC_PATHS: [&str; 4] = ["/healthz", "/", "/ui", "/favicon.ico"];
/// Prefixes of the dashboard's static assets.
pub const PUBLIC_PREFIXES: [&str; 1] = ["/ui/"];

/// Whether `path` may be loaded without a token.
pub fn is_public(path: &str) -> bool {
    PUBLIC_PATHS.contains(&path) || PUBLIC_PREFIXES.iter().any(|p| path.starts_with(p))
}

/// The role a request needs: `None` for a public path. `route` is the matched route
/// pattern (`/v1/jobs/{id}`), `None` when no route matched. A route missing from this
/// table needs `admin`: a new write route is closed until someone opens it here.
pub fn required_role(method: &Method, route: Option<&str>, path: &str) -> Option<Role> {
    if is_public(path) {
        return None;
    }
    // No route: any valid token, then a 404, so routes cannot be probed without one.
    let Some(route) = route else {
        return Some(Role::Viewer);
    };
    let role = match (method, route) {
        (_, "/v1/workers/connect")
        | (
            &Method::POST,
            "/v1/fetch"
            | "/v1/ack"
            | "/v1/jobs/{id}/heartbeat"
            | "/v1/jobs/{id}/complete"
            | "/v1/jobs/{id}/fail",
        )
        | (&Method::PUT, "/v1/schedules/{name}" | "/v1/schedule-sets/{owner}") => Role::Worker,
        (&Method::GET | &Method::HEAD, _) => Role::Viewer,
        (
            &Method::POST,
            "/v1/jobs"
            | "/v1/jobs/batch"
            | "/v1/jobs/redrive"
            | "/v1/jobs/cancel"
            | "/v1/jobs/{id}/cancel"
            | "/v1/jobs/{id}/retry"
            | "/v1/schedules/{name}/trigger"
            | "/v1/workflows"
            | "/v1/workflows/{id}/cancel",
        ) => Role::Producer,
        _ => Role::Admin,
    };
    Some(role)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_form_the_documented_lattice() {
        for role in Role::ALL {
            assert!(role.allows(Role::Viewer));
            assert!(Role::Admin.allows(role));
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!(!Role::Producer.allows(Role::Worker));
        assert!(!Role::Worker.allows(Role::Producer));
        assert!(!Role::Viewer.allows(Role::Producer));
        assert!(!Role::Producer.allows(Role::Admin));
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn routes_need_their_role() {
        let post = Method::POST;
        let get = Method::GET;
        assert_eq!(required_role(&get, Some("/healthz"), "/healthz"), None);
        assert_eq!(required_role(&get, None, "/ui/app.js"), None);
        assert_eq!(required_role(&get, None, "/nope"), Some(Role::Viewer));
        let jobs = Some("/v1/jobs");
        assert_eq!(required_role(&post, jobs, "/v1/jobs"), Some(Role::Producer));
        assert_eq!(required_role(&get, jobs, "/v1/jobs"), Some(Role::Viewer));
        let patch = Method::PATCH;
        let queue = Some("/v1/queues/{name}");
        assert_eq!(
            required_role(&patch, queue, "/v1/queues/q"),
            Some(Role::Admin)
        );
        let ws = Some("/v1/workers/connect");
        assert_eq!(
            required_role(&get, ws, "/v1/workers/connect"),
            Some(Role::Worker)
        );
        assert_eq!(
            required_role(&Method::DELETE, jobs, "/v1/jobs"),
            Some(Role::Admin)
        );
    }
}
