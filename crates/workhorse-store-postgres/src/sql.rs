//! SQL fragments whose guard or target comes from the state machine, built from
//! [`Transition::rule`] so that the SQL cannot drift from the one table in core.

use workhorse_core::{JobState, Transition};

/// `state IN (<the transition's sources>)`, optionally for a table alias (`j.state ...`).
pub(crate) fn guard(t: Transition) -> String {
    format!("state IN ({})", list(t.sources(), |_| true))
}

/// [`guard`] on the column of a table alias.
pub(crate) fn guard_of(alias: &str, t: Transition) -> String {
    format!("{alias}.{}", guard(t))
}

/// `'<target state>'`.
pub(crate) fn target(t: Transition) -> String {
    quote(t.target())
}

/// `'name'`: state names are fixed identifiers, safe to inline (and inlined literals let
/// PostgreSQL match the partial indexes).
pub(crate) fn quote(state: JobState) -> String {
    format!("'{}'", state.as_str())
}

/// The states `keep` selects, as an SQL list of literals.
pub(crate) fn list(states: &[JobState], keep: impl Fn(&JobState) -> bool) -> String {
    states
        .iter()
        .filter(|s| keep(s))
        .map(|s| quote(*s))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The live states (a job in one of them always holds its unique key).
pub(crate) fn live_states() -> String {
    list(&JobState::ALL, |s| s.is_live())
}

/// Clears a job's lease (it leaves `running`).
pub(crate) const LEASE_CLEARED: &str =
    "lease_id = NULL, lease_worker = NULL, lease_expires_at = NULL";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_follow_the_table() {
        assert_eq!(guard(Transition::Expire), "state IN ('scheduled', 'ready')");
        assert_eq!(guard_of("j", Transition::Start), "j.state IN ('ready')");
        assert_eq!(target(Transition::Redrive), "'ready'");
        assert_eq!(live_states(), "'scheduled', 'ready', 'running', 'waiting'");
    }

    #[test]
    fn schema_check_lists_exactly_the_states() {
        // The last migration that sets the state CHECK (0004 added `waiting`).
        let schema = include_str!("../migrations/0004_workflows.sql");
        let all = list(&JobState::ALL, |_| true);
        assert!(
            schema.contains(&format!("CHECK (state IN ({all}))")),
            "the state CHECK in 0004_workflows.sql must list {all}"
        );
    }
}
