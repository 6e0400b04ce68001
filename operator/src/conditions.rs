//! Conditions whose `lastTransitionTime` moves only when their status does, so an unchanged
//! world produces a byte-identical status and therefore no write.

use chemchat_crds::common::{Condition, ConditionStatus};

/// Desired state of one condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Want<'a> {
    /// Condition type.
    pub type_: &'a str,
    /// Status.
    pub status: ConditionStatus,
    /// Reason.
    pub reason: &'a str,
    /// Message.
    pub message: String,
}

/// Sets a condition, keeping the previous transition time while the status is unchanged.
pub fn set(conditions: &mut Vec<Condition>, want: Want<'_>, generation: i64, now: &str) {
    let last_transition_time = conditions
        .iter()
        .find(|c| c.type_ == want.type_ && c.status == want.status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.to_owned());
    let condition = Condition {
        type_: want.type_.to_owned(),
        status: want.status,
        last_transition_time,
        reason: want.reason.to_owned(),
        message: want.message,
        observed_generation: generation,
    };
    match conditions.iter_mut().find(|c| c.type_ == condition.type_) {
        Some(existing) => *existing = condition,
        None => conditions.push(condition),
    }
}

/// Removes a condition type.
pub fn remove(conditions: &mut Vec<Condition>, type_: &str) {
    conditions.retain(|c| c.type_ != type_);
}

/// Current time in the RFC 3339 form Kubernetes uses for conditions (seconds precision).
pub fn now() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .round(k8s_openapi::jiff::Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want(status: ConditionStatus, message: &str) -> Want<'static> {
        Want {
            type_: "Ready",
            status,
            reason: "R",
            message: message.to_owned(),
        }
    }

    #[test]
    fn transition_time_is_stable_until_the_status_changes() {
        let mut c = Vec::new();
        set(&mut c, want(ConditionStatus::False, "a"), 1, "t1");
        set(&mut c, want(ConditionStatus::False, "b"), 2, "t2");
        assert_eq!(c[0].last_transition_time, "t1");
        assert_eq!(c[0].message, "b");
        assert_eq!(c[0].observed_generation, 2);
        set(&mut c, want(ConditionStatus::True, "c"), 2, "t3");
        assert_eq!(c[0].last_transition_time, "t3");
        assert_eq!(c.len(), 1);
        remove(&mut c, "Ready");
        assert!(c.is_empty());
    }
}
